"""The vector store: Chroma, embedded (PersistentClient) or a server (HttpClient).

Telemetry is off and our embeddings are always passed explicitly: Chroma's own default
embedding function (which downloads a model) is never used.
"""

from __future__ import annotations

import json
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import numpy as np

from kb_app.config import Settings
from kb_app.errors import StoreError, StoreUnreachableError
from kb_app.models import Chunk

os.environ.setdefault("ANONYMIZED_TELEMETRY", "False")

_PAGE = 5000
# Wider HNSW graph and search than Chroma's defaults (16 / 100 / 100): the hybrid ranking takes
# the top 200 dense candidates, and recall of that list measurably matters (docs/evaluation.md).
_HNSW = {"space": "cosine", "max_neighbors": 32, "ef_construction": 200, "ef_search": 200}


class VectorStore:
    """One Chroma collection of chunks with cosine distance and the embedding model id."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self._client = _connect(settings)
        self._collection = self._open()

    @property
    def location(self) -> str:
        s = self.settings
        return f"http://{s.chroma_host}:{s.chroma_port}" if s.chroma_host else str(s.chroma_dir)

    def _open(self) -> Any:
        with _wrapped(self.settings, "öppna samlingen"):
            collection = self._client.get_or_create_collection(
                self.settings.collection,
                configuration={"hnsw": dict(_HNSW)},
                embedding_function=None,
            )
        return collection

    @property
    def model_id(self) -> str | None:
        """The embedding model the stored vectors were made with, or None when empty."""
        meta = self._collection.metadata or {}
        value = meta.get("model_id")
        return str(value) if value else None

    def reset(self, model_id: str) -> None:
        """Drop every chunk and record ``model_id`` as the collection's model."""
        with _wrapped(self.settings, "tömma samlingen"):
            self._client.delete_collection(self.settings.collection)
            self._collection = self._client.create_collection(
                self.settings.collection,
                configuration={"hnsw": dict(_HNSW)},
                metadata={"model_id": model_id},
                embedding_function=None,
            )

    def copy_from(self, other: VectorStore, progress: Callable[[int, int], None] | None = None) -> None:
        """Copy every chunk and vector of ``other`` into this (empty) collection, page by page."""
        total = other.count()
        for offset in range(0, total, _PAGE):
            with _wrapped(other.settings, "läsa avsnitt"):
                got = other._collection.get(
                    limit=_PAGE, offset=offset, include=["embeddings", "documents", "metadatas"]
                )
            if got["ids"]:
                with _wrapped(self.settings, "skriva avsnitt"):
                    self._collection.upsert(
                        ids=got["ids"],
                        embeddings=np.asarray(got["embeddings"], dtype=np.float32),
                        documents=got["documents"],
                        metadatas=got["metadatas"],
                    )
            if progress is not None:
                progress(min(offset + _PAGE, total), total)

    def drop(self) -> None:
        """Delete this collection (a pruned generation on a Chroma server)."""
        with _wrapped(self.settings, "ta bort samlingen"):
            self._client.delete_collection(self.settings.collection)

    def set_model_id(self, model_id: str) -> None:
        with _wrapped(self.settings, "skriva samlingens metadata"):
            self._collection.modify(metadata={"model_id": model_id})

    def count(self) -> int:
        with _wrapped(self.settings, "räkna avsnitt"):
            count = self._collection.count()
        return int(count)

    def document_hashes(self) -> dict[str, str]:
        """{document id: content hash} of every stored document."""
        found: dict[str, str] = {}
        for meta in self._metadatas():
            found[str(meta["doc_id"])] = str(meta["content_hash"])
        return found

    def upsert(self, chunks: Sequence[Chunk], vectors: np.ndarray) -> None:
        """Insert or replace chunks with their vectors."""
        for start in range(0, len(chunks), _PAGE):
            part = chunks[start : start + _PAGE]
            with _wrapped(self.settings, "skriva avsnitt"):
                self._collection.upsert(
                    ids=[c.chunk_id for c in part],
                    embeddings=vectors[start : start + _PAGE],
                    documents=[c.text for c in part],
                    metadatas=[chunk_metadata(c, self.model_id or "") for c in part],
                )

    def delete_document(self, doc_id: str) -> None:
        with _wrapped(self.settings, "ta bort ett dokument"):
            self._collection.delete(where={"doc_id": doc_id})

    def query(self, vector: np.ndarray, k: int, *, ids: Sequence[str] | None = None) -> list[tuple[Chunk, float]]:
        """The ``k`` nearest chunks (only among ``ids`` when given) with cosine similarity."""
        if k <= 0:
            return []
        with _wrapped(self.settings, "söka"):
            result = self._collection.query(
                query_embeddings=[vector],
                n_results=k,
                ids=list(ids) if ids is not None else None,
                include=["documents", "metadatas", "distances"],
            )
        rows = zip(
            result["ids"][0], result["documents"][0], result["metadatas"][0], result["distances"][0], strict=True
        )
        return [(chunk_from_record(i, d, m), 1.0 - float(dist)) for i, d, m, dist in rows]

    def embeddings(self, ids: Sequence[str]) -> dict[str, np.ndarray]:
        """Stored vectors of the given chunk ids."""
        if not ids:
            return {}
        with _wrapped(self.settings, "läsa vektorer"):
            got = self._collection.get(ids=list(ids), include=["embeddings"])
        return {i: np.asarray(e, dtype=np.float32) for i, e in zip(got["ids"], got["embeddings"], strict=True)}

    def all_embeddings(self) -> tuple[list[str], np.ndarray]:
        """Every stored chunk id with its vector (for exact scoring of small collections)."""
        ids: list[str] = []
        parts: list[np.ndarray] = []
        for offset in range(0, self.count(), _PAGE):
            with _wrapped(self.settings, "läsa vektorer"):
                got = self._collection.get(limit=_PAGE, offset=offset, include=["embeddings"])
            ids.extend(got["ids"])
            parts.append(np.asarray(got["embeddings"], dtype=np.float32))
        return ids, np.concatenate(parts) if parts else np.zeros((0, 0), dtype=np.float32)

    def chunks(self, where: dict[str, Any] | None = None) -> list[Chunk]:
        """Every stored chunk (optionally filtered), in document order."""
        found = [chunk_from_record(i, d, m) for i, d, m in self._records(where)]
        return sorted(found, key=lambda c: (c.doc_id, c.position))

    def _metadatas(self) -> Iterator[dict[str, Any]]:
        for offset in range(0, self.count(), _PAGE):
            with _wrapped(self.settings, "läsa metadata"):
                got = self._collection.get(limit=_PAGE, offset=offset, include=["metadatas"])
            yield from got["metadatas"]

    def _records(self, where: dict[str, Any] | None) -> Iterator[tuple[str, str, dict[str, Any]]]:
        offset = 0
        while True:
            with _wrapped(self.settings, "läsa avsnitt"):
                got = self._collection.get(
                    where=where or None, limit=_PAGE, offset=offset, include=["documents", "metadatas"]
                )
            yield from zip(got["ids"], got["documents"], got["metadatas"], strict=True)
            if len(got["ids"]) < _PAGE:
                return
            offset += _PAGE


def chunk_metadata(chunk: Chunk, model_id: str) -> dict[str, Any]:
    """Chroma metadata for a chunk; absent values are left out (Chroma stores no None)."""
    meta: dict[str, Any] = {
        "doc_id": chunk.doc_id,
        "title": chunk.title,
        "kind": chunk.kind,
        "section": chunk.section_title,
        "section_path": json.dumps(chunk.section, ensure_ascii=False),
        "paragraph": chunk.paragraph,
        "paragraph_end": chunk.paragraph_end,
        "start": chunk.start,
        "end": chunk.end,
        "position": chunk.position,
        "content_hash": chunk.content_hash,
        "model_id": model_id,
    }
    for key in ("page", "page_end", "page_label", "role"):
        value = getattr(chunk, key)
        if value:
            meta[key] = value
    return meta


def chunk_from_record(chunk_id: str, text: str, meta: dict[str, Any]) -> Chunk:
    page = meta.get("page")
    page_end = meta.get("page_end")
    label = meta.get("page_label")
    return Chunk(
        chunk_id=chunk_id,
        doc_id=str(meta["doc_id"]),
        title=str(meta["title"]),
        kind=str(meta["kind"]),
        section=tuple(json.loads(str(meta["section_path"]))),
        text=text,
        paragraph=int(meta["paragraph"]),
        paragraph_end=int(meta["paragraph_end"]),
        start=int(meta["start"]),
        end=int(meta["end"]),
        position=int(meta["position"]),
        page=int(page) if page is not None else None,
        page_end=int(page_end) if page_end is not None else None,
        page_label=str(label) if label is not None else None,
        role=str(meta.get("role", "")),
        content_hash=str(meta["content_hash"]),
    )


def _connect(settings: Settings) -> Any:
    import chromadb
    from chromadb.config import Settings as ChromaSettings

    chroma_settings = ChromaSettings(anonymized_telemetry=False, allow_reset=False)
    if not settings.chroma_host:
        with _wrapped(settings, "öppna databasen"):
            settings.chroma_dir.mkdir(parents=True, exist_ok=True)
            client = chromadb.PersistentClient(path=str(settings.chroma_dir), settings=chroma_settings)
        return client
    with _wrapped(settings, "ansluta"):
        client = chromadb.HttpClient(host=settings.chroma_host, port=settings.chroma_port, settings=chroma_settings)
        client.heartbeat()
    return client


@contextmanager
def _wrapped(settings: Settings, action: str) -> Iterator[None]:
    """Turn a Chroma, SQLite, disk or connection error into a Swedish ``StoreError``.

    Anything else (a ``TypeError``, ``KeyError``, an argument Chroma rejects) is a programming error
    and propagates unchanged.
    """
    try:
        yield
    except StoreError:
        raise
    except Exception as exc:
        if not is_store_failure(exc):
            raise
        if settings.chroma_host and _is_connection_error(exc):
            raise StoreUnreachableError(
                f"Chroma-servern på {settings.chroma_host}:{settings.chroma_port} svarar inte "
                f"(kunde inte {action}). Starta den med 'chroma run' eller kontrollera KB_CHROMA_HOST "
                "och KB_CHROMA_PORT."
            ) from exc
        where = f"{settings.chroma_host}:{settings.chroma_port}" if settings.chroma_host else str(settings.chroma_dir)
        raise StoreError(f"Vektordatabasen i {where}: kunde inte {action} ({exc}).") from exc


def is_store_failure(exc: BaseException) -> bool:
    """True for the errors of Chroma's family, SQLite, the file system and the network.

    Chroma's HTTP client reports a server error it cannot classify as a bare ``Exception``, and an
    unreachable server as a ``ValueError`` ("Could not connect …"); both count.
    """
    import httpx
    from chromadb.errors import ChromaError

    if isinstance(exc, ChromaError | sqlite3.Error | OSError | httpx.HTTPError):
        return True
    return type(exc) is Exception or (isinstance(exc, ValueError) and _is_connection_error(exc))


def _is_connection_error(exc: BaseException) -> bool:
    text = f"{type(exc).__name__} {exc}".lower()
    return any(w in text for w in ("connect", "timeout", "timed out", "refused", "unreachable", "could not"))
