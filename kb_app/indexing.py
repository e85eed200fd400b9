"""Incremental indexing: corpus folder -> documents -> chunks -> vectors (Chroma) + BM25.

Unchanged documents (same content hash) are not parsed or embedded, and the model is only
loaded when something must be embedded. Changed documents replace their chunks, removed ones
disappear, and a different embedding model forces a rebuild. A file that cannot be read is
reported with the reason and keeps whatever the index already held for it.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from kb_app.chunking import chunk_document
from kb_app.config import Settings
from kb_app.documents import corpus_files, file_fingerprint, load_catalog, read_document
from kb_app.embeddings import Embedder
from kb_app.errors import CorpusError
from kb_app.lexical import LexicalIndex
from kb_app.library import remove_paragraphs, save_paragraphs
from kb_app.models import Document
from kb_app.store import VectorStore

Progress = Callable[[str, int, int], None]
STATUS_FILE = "status.json"


@dataclass
class IndexReport:
    """What an indexing run did."""

    documents: int = 0
    chunks: int = 0
    new: list[str] = field(default_factory=list)
    changed: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    failed: dict[str, str] = field(default_factory=dict)
    embedded: int = 0
    rebuilt: bool = False
    seconds: float = 0.0

    def summary(self) -> str:
        """A Swedish one-paragraph summary for the terminal."""
        lines = [
            f"Dokument: {self.documents}, avsnitt: {self.chunks} ({self.embedded} nya inbäddningar)",
            f"Nya: {len(self.new)}, ändrade: {len(self.changed)}, borttagna: {len(self.removed)}, "
            f"oförändrade: {len(self.unchanged)}, misslyckade: {len(self.failed)}",
            f"Tid: {self.seconds:.1f} s" + (" (indexet byggdes om från grunden)" if self.rebuilt else ""),
        ]
        lines += [f"Kunde inte indexeras: {message}" for message in self.failed.values()]
        return "\n".join(lines)


def index_corpus(
    settings: Settings,
    *,
    rebuild: bool = False,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> IndexReport:
    """Bring the index in line with the corpus folder.

    Args:
        settings: where the corpus and the index are.
        rebuild: drop the index and embed everything again.
        embedder: a loaded embedder to reuse (one is created lazily otherwise).
        progress: called as ``progress(stage, done, total)``.

    Raises:
        CorpusError: the corpus folder or the catalog cannot be read.
        StoreError: the vector store cannot be opened or written.
    """
    started = time.perf_counter()
    report = IndexReport()
    corpus = settings.corpus_dir
    if not corpus.is_dir():
        raise CorpusError(f"Dokumentmappen {corpus} finns inte. Skapa den eller ange KB_CORPUS_DIR.")
    catalog = load_catalog(corpus)
    store = VectorStore(settings)
    stored_model = store.model_id
    if rebuild or (stored_model is not None and stored_model != settings.embedding_model):
        store.reset(settings.embedding_model)
        report.rebuilt = True
    elif stored_model is None:
        store.set_model_id(settings.embedding_model)
    stored = store.document_hashes()

    to_index: list[Document] = []
    present: set[str] = set()
    files = list(corpus_files(corpus))
    for done, path in enumerate(files, start=1):
        doc_id = path.relative_to(corpus).as_posix()
        present.add(doc_id)
        try:
            if stored.get(doc_id) == file_fingerprint(path, corpus, catalog):
                report.unchanged.append(doc_id)
            else:
                to_index.append(read_document(path, corpus, catalog, max_bytes=int(settings.max_file_mb * 1e6)))
        except CorpusError as exc:
            report.failed[doc_id] = str(exc)
        if progress:
            progress("Läser dokument", done, len(files))

    chunks_by_doc = {doc.info.doc_id: chunk_document(doc, chunk_size=settings.chunk_size) for doc in to_index}
    new_chunks = [chunk for chunks in chunks_by_doc.values() for chunk in chunks]
    if new_chunks:
        embedder = embedder or Embedder(settings)
        vectors = embedder.embed_passages(
            [c.embedding_text() for c in new_chunks],
            progress=(lambda d, t: progress("Bäddar in avsnitt", d, t)) if progress else None,
        )
        offset = 0
        for doc in to_index:
            chunks = chunks_by_doc[doc.info.doc_id]
            if doc.info.doc_id in stored:
                store.delete_document(doc.info.doc_id)
                report.changed.append(doc.info.doc_id)
            else:
                report.new.append(doc.info.doc_id)
            store.upsert(chunks, vectors[offset : offset + len(chunks)])
            offset += len(chunks)
        report.embedded = len(new_chunks)
    for doc in to_index:
        save_paragraphs(settings.index_dir, doc)

    for doc_id in sorted(set(stored) - present):
        store.delete_document(doc_id)
        remove_paragraphs(settings.index_dir, doc_id)
        report.removed.append(doc_id)

    changed = bool(report.new or report.changed or report.removed or report.rebuilt)
    if changed or LexicalIndex.load(settings.lexical_dir) is None:
        all_chunks = store.chunks()
        LexicalIndex.build([c.chunk_id for c in all_chunks], [c.embedding_text() for c in all_chunks]).save(
            settings.lexical_dir
        )
    report.chunks = store.count()
    report.documents = len(store.document_hashes()) if changed else len(stored)
    report.seconds = time.perf_counter() - started
    _write_status(settings, report, {doc.info.doc_id: doc for doc in to_index})
    return report


def _write_status(settings: Settings, report: IndexReport, parsed: dict[str, Document]) -> None:
    """Record per-document facts (title, kind, pages, chunks, when indexed) for the UI."""
    path = settings.index_dir / STATUS_FILE
    previous = json.loads(path.read_text()) if path.is_file() else {}
    documents = {} if report.rebuilt else dict(previous.get("documents", {}))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for doc_id, doc in parsed.items():
        documents[doc_id] = {
            **asdict(doc.info),
            "pages": doc.pages,
            "indexed_at": now,
        }
    for doc_id in report.removed:
        documents.pop(doc_id, None)
    changed = bool(report.new or report.changed or report.removed or report.rebuilt)
    status = {
        "version": uuid.uuid4().hex if changed or "version" not in previous else previous["version"],
        "model_id": settings.embedding_model,
        "updated_at": now,
        "documents": documents,
        "failed": report.failed,
        "last_run": {k: v for k, v in asdict(report).items() if k != "failed"},
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps(status, ensure_ascii=False, indent=2))
    tmp.replace(path)


def read_status(settings: Settings) -> dict[str, object]:
    """The status written by the last indexing run, or an empty dict."""
    path = settings.index_dir / STATUS_FILE
    return json.loads(path.read_text()) if path.is_file() else {}


def index_version(settings: Settings) -> str:
    """An id that changes whenever an indexing run changes the index ("" when there is none)."""
    return str(read_status(settings).get("version", ""))


def index_exists(settings: Settings) -> bool:
    """True when an index has been built in ``settings.index_dir`` (or on the server)."""
    return (settings.index_dir / STATUS_FILE).is_file() and Path(settings.lexical_dir / "ids.json").is_file()
