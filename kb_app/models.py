"""Frozen records that flow through the pipeline: document -> blocks -> chunks -> hits."""

from __future__ import annotations

from dataclasses import dataclass

KIND_REPORT = "rapport"
KIND_APPENDIX = "bilaga"
KIND_OTHER = "dokument"


def format_location(
    title: str,
    section: tuple[str, ...],
    page: int | None,
    page_end: int | None = None,
    paragraphs: tuple[int, int] | None = None,
) -> str:
    """The one way a place in a document is written for people: "Titel, Avsnitt, s. 3–4, stycke 5–6".

    The innermost heading stands for the section; pages and paragraphs are left out when unknown.
    """
    parts = [title]
    if section:
        parts.append(section[-1])
    if page is not None:
        last = page if page_end is None else page_end
        parts.append(f"s. {page}" if page == last else f"s. {page}–{last}")
    if paragraphs is not None:
        first, last = paragraphs
        parts.append(f"stycke {first}" if first == last else f"stycke {first}–{last}")
    return ", ".join(parts)


@dataclass(frozen=True)
class DocumentInfo:
    """Catalog facts about one document, from the catalog file or recognised from its name."""

    doc_id: str
    title: str
    kind: str = KIND_OTHER
    date: str = ""
    reference: str = ""
    appendix: int | None = None


@dataclass(frozen=True)
class Block:
    """One structural unit of a document: a heading, a paragraph, a list or a table.

    ``section`` is the heading trail above the block; ``paragraph`` numbers the non-heading
    blocks of a document from 1; ``start``/``end`` are character offsets into ``Document.text``.
    """

    kind: str  # "heading" | "paragraph" | "list" | "table" | "contents"
    text: str
    section: tuple[str, ...]
    paragraph: int
    start: int
    end: int
    page: int | None = None
    page_end: int | None = None
    page_label: str | None = None
    items: tuple[str, ...] = ()


@dataclass(frozen=True)
class Document:
    """A parsed source file: its catalog facts, its full text and its blocks in order."""

    info: DocumentInfo
    path: str
    text: str
    blocks: tuple[Block, ...]
    content_hash: str
    pages: int | None = None


@dataclass(frozen=True)
class Chunk:
    """A passage stored in the index: source text plus where it stands."""

    chunk_id: str
    doc_id: str
    title: str
    kind: str
    section: tuple[str, ...]
    text: str
    paragraph: int
    paragraph_end: int
    start: int
    end: int
    position: int
    page: int | None = None
    page_end: int | None = None
    page_label: str | None = None
    content_hash: str = ""
    role: str = ""  # "contents" for a contents page: readable, never quoted, ranked last

    @property
    def section_title(self) -> str:
        """The innermost heading, or an empty string."""
        return self.section[-1] if self.section else ""

    @property
    def location(self) -> str:
        """Where the passage stands, for people: document, section, page(s) and paragraph(s)."""
        return format_location(self.title, self.section, self.page, self.page_end, (self.paragraph, self.paragraph_end))

    def embedding_text(self) -> str:
        """The text given to the embedding model: title and heading trail as context."""
        trail = " › ".join((self.title, *self.section))
        return f"{trail}\n{self.text}"


@dataclass(frozen=True)
class Hit:
    """A retrieved chunk with its fused score and the scores that made it."""

    chunk: Chunk
    score: float
    dense_score: float | None = None
    lexical_score: float | None = None
    rank: int = 0
