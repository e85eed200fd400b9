"""Incremental indexing: corpus folder -> documents -> chunks -> vectors (Chroma) + BM25.

Unchanged documents (same content hash) are not parsed or embedded, and the model is only
loaded when something must be embedded. Changed documents replace their chunks, removed ones
disappear, and a different embedding model forces a rebuild. A file that cannot be read is
reported with the reason and keeps whatever the index already held for it.
"""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import time
import unicodedata
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from kb_app import generations
from kb_app.chunking import chunk_document
from kb_app.config import Settings
from kb_app.documents import file_fingerprint, load_catalog, read_document, scan_corpus
from kb_app.embeddings import Embedder
from kb_app.errors import CorpusError, StoreError
from kb_app.lexical import LexicalIndex
from kb_app.library import FOLDER, remove_paragraphs, save_paragraphs
from kb_app.models import Chunk, Document
from kb_app.snapshot import FOLDER as SERVED
from kb_app.snapshot import save_snapshot
from kb_app.store import VectorStore
from kb_app.unit_vectors import save_unit_vectors

Progress = Callable[[str, int, int], None]
STATUS_FILE = "status.json"

# The free-space estimate of a build (``space_needed``). Each chunk's vector is stored about three
# times (Chroma's table, its HNSW graph, the served copy), and its sentences, list items and table
# rows have vectors of their own (about six per chunk of 900 characters); its text is kept about four
# times (Chroma's document and full-text index, chunks.jsonl, the paragraphs). Chroma's empty
# database and the small files take about 2 MB.
VECTOR_COPIES = 3
UNITS_PER_CHUNK = 6
TEXT_COPIES = 4
FIXED_BYTES = 2_000_000
DEFAULT_DIMENSION = 1024  # when no earlier generation tells the model's dimension (e5-small has 384)


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
    duplicates: dict[str, str] = field(default_factory=dict)  # skipped file -> the file with the same content
    twins: dict[str, str] = field(default_factory=dict)  # skipped file -> the file whose name differs only in NFC/NFD
    embedded: int = 0
    embedded_units: int = 0  # sentences, list items and table rows (kb_app.unit_vectors)
    repaired: str = ""  # what was damaged in the index this run started from (it is then rebuilt)
    lexical_rebuilt: bool = False  # the BM25 index was made by another tokenizer version and built again
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
        if self.repaired:
            lines.append(f"Indexet var skadat ({self.repaired}) och har byggts om.")
        if self.lexical_rebuilt:
            lines.append("Ordindexet (BM25) var gjort av en annan version av programmet och har byggts om.")
        lines += [f"Kunde inte indexeras: {message}" for message in self.failed.values()]
        lines += [
            f"Dubblett, indexeras inte en gång till: {copy} har samma innehåll som {original}"
            for copy, original in self.duplicates.items()
        ]
        lines += [
            f"Samma filnamn i två Unicode-former (NFC/NFD): {copy} indexeras inte, bara {original}. "
            "Byt namn på den ena filen."
            for copy, original in self.twins.items()
        ]
        return "\n".join(lines)


@dataclass
class Plan:
    """What an indexing run must do, decided before anything is written."""

    base: Path | None  # the generation the run starts from (None: nothing built yet)
    previous: dict[str, Any]  # its status (empty when rebuilding from scratch)
    rebuilding: bool
    pointer_broken: bool  # CURRENT is unreadable but an intact generation exists
    stored: dict[str, str]  # document -> content hash held by the base
    raw: dict[str, str]  # document -> digest of its bytes (duplicates by content)
    to_index: list[Document] = field(default_factory=list)
    chunks: dict[str, tuple[Chunk, ...]] = field(default_factory=dict)  # new chunks per document
    removed: list[str] = field(default_factory=list)
    largest_file: int = 0  # bytes of the largest file read this run
    lexical_stale: bool = False  # the base's BM25 index was made by another tokenizer version

    @property
    def nothing_to_do(self) -> bool:
        changed = self.rebuilding or self.to_index or self.removed or self.lexical_stale
        return self.base is not None and not changed


class _LazyEmbedder:
    """The embedding model, loaded the first time a step needs it."""

    def __init__(self, settings: Settings, embedder: Embedder | None) -> None:
        self.settings = settings
        self.embedder = embedder

    def __call__(self) -> Embedder:
        if self.embedder is None:
            self.embedder = Embedder(self.settings)
        return self.embedder


def index_corpus(
    settings: Settings,
    *,
    rebuild: bool = False,
    embedder: Embedder | None = None,
    progress: Progress | None = None,
) -> IndexReport:
    """Bring the index in line with the corpus folder, as a new generation published atomically.

    Three steps under the write lock: ``plan`` (what changed), ``build_generation`` (a new
    generation beside the current one), ``publish`` (one rename). Nothing changes on disk when every
    file is unchanged and the BM25 index was made by this tokenizer version (the model is not even
    loaded).

    Args:
        settings: where the corpus and the index are.
        rebuild: embed everything again, from an empty generation.
        embedder: a loaded embedder to reuse (one is created lazily otherwise).
        progress: called as ``progress(stage, done, total)``.

    Raises:
        CorpusError: the corpus folder or the catalog cannot be read.
        IndexBusyError: another process is indexing the same index.
        StoreError: the vector store cannot be opened or written, or the disk has no room for the build.
    """
    started = time.perf_counter()
    report = IndexReport()
    corpus = settings.corpus_dir
    if not corpus.is_dir():
        raise CorpusError(f"Dokumentmappen {corpus} finns inte. Skapa den eller ange KB_CORPUS_DIR.")
    catalog = load_catalog(corpus)
    with generations.write_lock(settings):
        generations.prune(settings, drop_collection=_drop_collection)  # what a crashed run left behind
        plan = make_plan(settings, catalog, report, rebuild=rebuild, progress=progress)
        if plan.nothing_to_do:
            with _write_errors(settings.index_dir):
                _keep_base(settings, plan, report)
        else:
            check_free_space(settings, plan)
            generation = build_generation(settings, plan, report, _LazyEmbedder(settings, embedder), progress, started)
            with _write_errors(settings.index_dir):
                generations.publish(settings, generation)  # a failure here leaves CURRENT as it was
                generations.prune(settings, drop_collection=_drop_collection)
    report.seconds = time.perf_counter() - started
    return report


def make_plan(
    settings: Settings,
    catalog: dict[str, dict[str, str]],
    report: IndexReport,
    *,
    rebuild: bool,
    progress: Progress | None,
) -> Plan:
    """Step 1: find the base generation (noting damage), read new and changed files, chunk them."""
    base = generations.latest(settings)  # the newest finished generation when CURRENT is damaged
    broken = damage(settings, base) if base is not None else ""
    pointer_broken = base is not None and base != generations.current(settings)
    report.repaired = broken or ("pekaren CURRENT var skadad" if pointer_broken else "")
    previous = _status_at(base) if base is not None and not broken else {}
    rebuilding = rebuild or not previous or previous.get("model_id") != settings.vectors_id
    report.rebuilt = base is not None and rebuilding
    stored: dict[str, str] = {} if rebuilding else dict(previous.get("hashes", {}))
    raw = {d: r for d, r in previous.get("raw", {}).items() if d in stored}
    plan = Plan(base, previous, rebuilding, pointer_broken, stored, raw)
    # a new tokenizer: a new generation with the BM25 index built again (nothing is embedded again)
    stale = base is not None and bool(previous) and not LexicalIndex.is_current(base / "bm25")
    plan.lexical_stale = report.lexical_rebuilt = stale and not rebuilding
    present = _read_changes(settings, catalog, plan, report, progress)
    plan.removed = sorted(set(stored) - present)
    plan.chunks = {d.info.doc_id: chunk_document(d, chunk_size=settings.chunk_size) for d in plan.to_index}
    return plan


def _read_changes(
    settings: Settings,
    catalog: dict[str, dict[str, str]],
    plan: Plan,
    report: IndexReport,
    progress: Progress | None,
) -> set[str]:
    """Sort every file into unchanged, duplicate, twin, failed or to index (read); returns the names present."""
    corpus = settings.corpus_dir
    files, problems = scan_corpus(corpus)
    report.failed.update(problems)
    present = {path.relative_to(corpus).as_posix() for path in files}
    owner = {digest: d for d, digest in sorted(plan.raw.items()) if d in present}  # content -> kept file
    spelled: dict[str, str] = {}  # NFC form of a name -> the file that has it (NFC/NFD twins)
    for done, path in enumerate(files, start=1):
        doc_id = path.relative_to(corpus).as_posix()
        twin = spelled.setdefault(unicodedata.normalize("NFC", doc_id), doc_id)
        try:
            known, digest = file_fingerprint(path, corpus, catalog)
            if twin != doc_id:
                report.twins[doc_id] = twin  # the same name in another Unicode form
            elif plan.stored.get(doc_id) == known:
                report.unchanged.append(doc_id)
            elif owner.get(digest, doc_id) != doc_id:
                report.duplicates[doc_id] = owner[digest]
            else:
                plan.to_index.append(read_document(path, corpus, catalog, max_bytes=int(settings.max_file_mb * 1e6)))
                plan.largest_file = max(plan.largest_file, path.stat().st_size)
                owner[digest] = doc_id
                plan.raw[doc_id] = digest
        except CorpusError as exc:
            report.failed[doc_id] = str(exc)
        if progress:
            progress("Läser dokument", done, len(files))
    return present


def _keep_base(settings: Settings, plan: Plan, report: IndexReport) -> None:
    """Nothing changed: republish the base when only its pointer was damaged, record failed files."""
    assert plan.base is not None
    if plan.pointer_broken:
        generations.publish(settings, plan.base)
    _refresh_failed(plan.base, plan.previous, report.failed)
    report.documents = len(plan.stored)
    report.chunks = int(plan.previous.get("chunks", 0))


def space_needed(settings: Settings, plan: Plan) -> int:
    """Bytes a build is estimated to need: every chunk's vector ``VECTOR_COPIES`` times, its
    sentences' vectors and text, a fixed part for the database files, plus the largest file read."""
    chunks = sum(len(c) for c in plan.chunks.values())
    if not plan.rebuilding:
        chunks += int(plan.previous.get("chunks", 0))
    vector = _vector_bytes(plan.base)
    per_chunk = vector * (VECTOR_COPIES + UNITS_PER_CHUNK) + TEXT_COPIES * settings.chunk_size
    return chunks * per_chunk + FIXED_BYTES + plan.largest_file


def check_free_space(settings: Settings, plan: Plan) -> None:
    """Refuse a build that cannot fit on the index's disk.

    Raises:
        StoreError: the estimate of ``space_needed`` is more than the free space.
    """
    need = space_needed(settings, plan)
    free = shutil.disk_usage(settings.index_dir).free
    if need > free:
        raise StoreError(
            f"Det finns inte plats för indexet i {settings.index_dir}: bygget behöver uppskattningsvis "
            f"{need / 1e6:.1f} MB men bara {free / 1e6:.1f} MB är ledigt. Frigör plats på disken eller välj "
            "en annan mapp med KB_INDEX_DIR. Det publicerade indexet är orört."
        )


def _vector_bytes(base: Path | None) -> int:
    """Bytes of one stored vector: from the base generation's served vectors, else ``DEFAULT_DIMENSION``."""
    if base is not None:
        try:
            vectors = np.load(base / SERVED / "vectors.npy", mmap_mode="r")
            if vectors.ndim == 2 and vectors.shape[1]:
                return int(vectors.shape[1]) * 4
        except (OSError, ValueError):
            pass
    return DEFAULT_DIMENSION * 4


def build_generation(
    settings: Settings,
    plan: Plan,
    report: IndexReport,
    embedder: _LazyEmbedder,
    progress: Progress | None,
    started: float,
) -> Path:
    """Step 2: a new, unpublished generation with the plan applied; on any failure it is deleted.

    Raises:
        StoreError: the generation cannot be written (a write error names the folder and the reason).
    """
    generation = generations.new_generation(settings)
    try:
        target = generations.at(settings, generation)
        store = _start_store(settings, plan, generation, progress)
        _apply_changes(store, plan, report, embedder, generation, progress)
        all_chunks = store.chunks()
        _write_read_files(settings, plan, store, all_chunks, report, embedder, generation, progress)
        hashes = {d: h for d, h in plan.stored.items() if d not in plan.removed}
        hashes.update({doc.info.doc_id: doc.content_hash for doc in plan.to_index})
        report.chunks = len(all_chunks)
        report.documents = len(hashes)
        report.seconds = time.perf_counter() - started
        raw = {d: r for d, r in plan.raw.items() if d in hashes}
        _write_status(target, report, {doc.info.doc_id: doc for doc in plan.to_index}, plan.previous, hashes, raw)
    except OSError as exc:
        shutil.rmtree(generation, ignore_errors=True)  # a failed build leaves nothing behind
        raise StoreError(
            f"Indexet kunde inte skrivas i {generation.parent} ({exc.strerror or exc}). "
            "Kontrollera att disken har plats och att mappen är skrivbar."
        ) from exc
    except BaseException:
        shutil.rmtree(generation, ignore_errors=True)
        raise
    return generation


def _start_store(settings: Settings, plan: Plan, generation: Path, progress: Progress | None) -> VectorStore:
    """The new generation's collection, holding the base's vectors and paragraphs unless rebuilding."""
    store = VectorStore(generations.at(settings, generation))
    store.set_model_id(settings.vectors_id)
    if not plan.rebuilding and plan.base is not None:
        store.copy_from(
            VectorStore(generations.at(settings, plan.base)),
            progress=(lambda d, t: progress("Kopierar indexet", d, t)) if progress else None,
        )
        if (plan.base / FOLDER).is_dir():
            shutil.copytree(plan.base / FOLDER, generation / FOLDER)
    return store


def _apply_changes(
    store: VectorStore,
    plan: Plan,
    report: IndexReport,
    embedder: _LazyEmbedder,
    generation: Path,
    progress: Progress | None,
) -> None:
    """Embed and store the new and changed documents' chunks; drop the removed documents."""
    new_chunks = [chunk for doc in plan.to_index for chunk in plan.chunks[doc.info.doc_id]]
    if new_chunks:
        vectors = embedder().embed_passages(
            [c.embedding_text() for c in new_chunks],
            progress=(lambda d, t: progress("Bäddar in avsnitt", d, t)) if progress else None,
        )
        offset = 0
        for doc in plan.to_index:
            chunks = plan.chunks[doc.info.doc_id]
            if doc.info.doc_id in plan.stored:
                store.delete_document(doc.info.doc_id)
                report.changed.append(doc.info.doc_id)
            else:
                report.new.append(doc.info.doc_id)
            store.upsert(chunks, vectors[offset : offset + len(chunks)])
            offset += len(chunks)
        report.embedded = len(new_chunks)
    for doc in plan.to_index:
        save_paragraphs(generation, doc)
    for doc_id in plan.removed:
        store.delete_document(doc_id)
        remove_paragraphs(generation, doc_id)
        report.removed.append(doc_id)


def _write_read_files(
    settings: Settings,
    plan: Plan,
    store: VectorStore,
    all_chunks: list[Chunk],
    report: IndexReport,
    embedder: _LazyEmbedder,
    generation: Path,
    progress: Progress | None,
) -> None:
    """The files readers serve from: chunks and vectors, sentence vectors, and the BM25 index."""
    if not settings.chroma_host:  # readers serve from plain files, never opening Chroma
        save_snapshot(generation, all_chunks, *store.all_embeddings())
    report.embedded_units = save_unit_vectors(
        generation,
        None if plan.rebuilding else plan.base,
        all_chunks,
        embedder,
        progress=(lambda d, t: progress("Bäddar in meningar", d, t)) if progress else None,
    )
    if progress:
        progress("Bygger ordindex (BM25)", 0, 1)
    LexicalIndex.build([c.chunk_id for c in all_chunks], [c.embedding_text() for c in all_chunks]).save(
        generation / "bm25"
    )


def damage(settings: Settings, generation: Path) -> str:
    """What is damaged in a finished generation, in Swedish, or "" when it is intact.

    Cheap checks only (nothing is loaded into memory): the status file, the BM25 ids, the served
    vectors' header and last chunk record, and the row count of the embedded Chroma database,
    read-only, against the number of chunks.
    """
    status = _status_at(generation)
    chunks = status.get("chunks")
    if not isinstance(chunks, int):
        return "statusfilen saknas eller är skadad"
    try:
        ids = json.loads((generation / "bm25" / "ids.json").read_text(encoding="utf-8"))["ids"]
    except (OSError, ValueError, KeyError, TypeError):
        return "ordindexet (BM25) saknas eller är skadat"
    if not isinstance(ids, list) or len(ids) != chunks:
        return "ordindexet (BM25) stämmer inte med avsnitten"
    if settings.chroma_host:
        return ""
    served = _served_damage(generation, chunks)
    if served:
        return served
    database = generation / "chroma" / "chroma.sqlite3"
    try:
        with closing(sqlite3.connect(f"file:{database}?mode=ro", uri=True)) as connection:
            rows = connection.execute("SELECT count(*) FROM embeddings").fetchone()[0]
    except sqlite3.Error as exc:
        return f"vektordatabasen är skadad ({exc})"
    return "" if rows == chunks else f"vektordatabasen har {rows} avsnitt men indexet {chunks}"


def _served_damage(generation: Path, chunks: int) -> str:
    """What is wrong with the files readers serve from (``served/``), cheaply: the vector file's header
    and the last chunk record. A generation made before these files existed has none, which is fine."""
    folder = generation / SERVED
    if not folder.exists():
        return ""
    try:
        rows = np.load(folder / "vectors.npy", mmap_mode="r").shape[0]
        with (folder / "chunks.jsonl").open("rb") as handle:
            handle.seek(max(0, (folder / "chunks.jsonl").stat().st_size - 1_000_000))
            last = handle.read().decode("utf-8", errors="strict").rstrip("\n").rsplit("\n", 1)[-1]
        complete = chunks == 0 or "chunk_id" in json.loads(last)
    except (OSError, ValueError, IndexError, TypeError):
        return "avsnittsfilerna (served/) saknas eller är skadade"
    if rows != chunks or not complete:
        return f"avsnittsfilerna (served/) har {rows} vektorer men indexet {chunks} avsnitt"
    return ""


@contextmanager
def _write_errors(folder: Path) -> Iterator[None]:
    """A write failure (disk full, read-only, permission) as ``StoreError`` naming the folder (exit 3)."""
    try:
        yield
    except OSError as exc:
        raise StoreError(
            f"Indexet kunde inte skrivas i {folder} ({exc.strerror or exc}). "
            "Kontrollera att disken har plats och att mappen är skrivbar."
        ) from exc


def _drop_collection(settings: Settings) -> None:
    """Delete a pruned generation's collection on a Chroma server (embedded ones go with the folder)."""
    if settings.chroma_host:
        try:
            VectorStore(settings).drop()
        except StoreError:
            pass  # the server is away: the collection is dropped by a later run


def _status_at(folder: Path) -> dict[str, Any]:
    path = folder / STATUS_FILE
    try:
        raw = json.loads(path.read_text())
    except (OSError, ValueError):
        return {}
    return raw if isinstance(raw, dict) else {}


def _refresh_failed(generation: Path, status: dict[str, Any], failed: dict[str, str]) -> None:
    """Record the files that failed in this run in the current status (metadata only, atomic)."""
    if status.get("failed", {}) == failed:
        return
    _write_json(generation / STATUS_FILE, {**status, "failed": failed})


def _write_json(path: Path, data: dict[str, Any]) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(json.dumps(data, ensure_ascii=False, indent=2))
    tmp.replace(path)


def _write_status(
    settings: Settings,
    report: IndexReport,
    parsed: dict[str, Document],
    previous: dict[str, Any],
    hashes: dict[str, str],
    raw: dict[str, str],
) -> None:
    """Record per-document facts (title, kind, pages, when indexed) and content hashes for the UI."""
    documents = {} if report.rebuilt else dict(previous.get("documents", {}))
    now = datetime.now(UTC).isoformat(timespec="seconds")
    for doc_id, doc in parsed.items():
        documents[doc_id] = {**asdict(doc.info), "pages": doc.pages, "indexed_at": now}
    documents = {d: v for d, v in documents.items() if d in hashes}
    status = {
        "version": settings.index_dir.name,
        "model_id": settings.vectors_id,
        "updated_at": now,
        "documents": documents,
        "hashes": hashes,
        "raw": raw,
        "chunks": report.chunks,
        "failed": report.failed,
        "last_run": {k: v for k, v in asdict(report).items() if k != "failed"},
    }
    settings.index_dir.mkdir(parents=True, exist_ok=True)
    _write_json(settings.index_dir / STATUS_FILE, status)


def read_status(settings: Settings) -> dict[str, Any]:
    """The status of the published index (written by the run that built it), or an empty dict."""
    generation = generations.current(settings)
    return _status_at(generation) if generation is not None else {}


def index_version(settings: Settings) -> str:
    """The published generation's name: it changes whenever an indexing run changes the index."""
    generation = generations.current(settings)
    return generation.name if generation is not None else ""


def index_exists(settings: Settings) -> bool:
    """True when a complete, undamaged index has been published in ``settings.index_dir``."""
    generation = generations.current(settings)
    if generation is None or not LexicalIndex.is_current(generations.at(settings, generation).lexical_dir):
        return False
    return not damage(settings, generation)
