"""The indexed documents as readers see them: paragraphs in order, with their numbers and pages.

The indexer saves each parsed document's blocks beside the index (``documents/<key>.json``), so
the document view, the citation context and permalinks show exactly what was indexed. An index
made before this file existed falls back to parsing the source file in the corpus folder.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass
from pathlib import Path

from kb_app.config import Settings
from kb_app.documents import load_catalog, read_document
from kb_app.errors import DAMAGED, CorpusError, IndexDamagedError
from kb_app.models import Chunk, Document, format_location

FOLDER = "documents"


@dataclass(frozen=True)
class Paragraph:
    """A heading, paragraph, list or table of a document; ``n`` is its paragraph number (0 for headings)."""

    n: int
    kind: str
    text: str
    section: tuple[str, ...]
    page: int | None = None
    page_label: str | None = None

    def location(self, title: str) -> str:
        """Where the paragraph stands (document, section, page), written as ``Chunk.location`` is."""
        return format_location(title, self.section, self.page)


def _path(folder: Path, doc_id: str) -> Path:
    return folder / FOLDER / f"{hashlib.sha256(doc_id.encode()).hexdigest()[:24]}.json"


def save_paragraphs(folder: Path, document: Document) -> None:
    """Write a document's paragraphs beside the index (atomically)."""
    path = _path(folder, document.info.doc_id)
    path.parent.mkdir(parents=True, exist_ok=True)
    paragraphs = [
        asdict(Paragraph(b.paragraph, b.kind, b.text, b.section, b.page, b.page_label)) for b in document.blocks
    ]
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"doc_id": document.info.doc_id, "paragraphs": paragraphs}, ensure_ascii=False))
    tmp.replace(path)


def remove_paragraphs(folder: Path, doc_id: str) -> None:
    _path(folder, doc_id).unlink(missing_ok=True)


class Library:
    """Reads the paragraphs of indexed documents (cached per document)."""

    def __init__(self, settings: Settings, folder: Path | None = None) -> None:
        self.settings = settings
        self.folder = folder or settings.index_dir
        self._cache: dict[str, tuple[Paragraph, ...]] = {}

    def paragraphs(self, doc_id: str) -> tuple[Paragraph, ...]:
        """All blocks of a document in order; empty when the document is unknown or unreadable."""
        if doc_id not in self._cache:
            self._cache[doc_id] = self._load(doc_id)
        return self._cache[doc_id]

    def paragraph(self, doc_id: str, n: int) -> Paragraph | None:
        return next((p for p in self.paragraphs(doc_id) if p.n == n and p.kind != "heading"), None)

    def around(self, chunk: Chunk, radius: int = 1) -> list[tuple[Paragraph, bool]]:
        """The chunk's paragraphs and ``radius`` paragraphs either side: (paragraph, inside the chunk)."""
        low, high = chunk.paragraph - radius, chunk.paragraph_end + radius
        return [
            (p, chunk.paragraph <= p.n <= chunk.paragraph_end)
            for p in self.paragraphs(chunk.doc_id)
            if p.kind != "heading" and low <= p.n <= high
        ]

    def _load(self, doc_id: str) -> tuple[Paragraph, ...]:
        path = _path(self.folder, doc_id)
        if path.is_file():
            return _read_paragraphs(path, doc_id)
        source = self.settings.corpus_dir / doc_id
        if not source.is_file():
            return ()
        try:
            document = read_document(
                source,
                self.settings.corpus_dir,
                load_catalog(self.settings.corpus_dir),
                max_bytes=int(self.settings.max_file_mb * 1e6),
            )
        except CorpusError:
            return ()
        return tuple(Paragraph(b.paragraph, b.kind, b.text, b.section, b.page, b.page_label) for b in document.blocks)


def _read_paragraphs(path: Path, doc_id: str) -> tuple[Paragraph, ...]:
    """The paragraphs saved for a document.

    Raises:
        IndexDamagedError: the file cannot be read or is not what the indexer writes.
    """
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
        return tuple(
            Paragraph(p["n"], p["kind"], p["text"], tuple(p["section"]), p.get("page"), p.get("page_label"))
            for p in raw["paragraphs"]
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise IndexDamagedError(f"{DAMAGED}. (Styckena för {doc_id} i {path} går inte att läsa: {exc}.)") from exc
