"""Frozen records that flow through the pipeline: document -> blocks -> chunks -> hits."""

from __future__ import annotations

from dataclasses import dataclass

KIND_REPORT = "rapport"
KIND_APPENDIX = "bilaga"
KIND_OTHER = "dokument"


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
        parts = [self.title]
        if self.section:
            parts.append(self.section_title)
        if self.page is not None:
            pages = f"{self.page}" if self.page == self.page_end else f"{self.page}–{self.page_end}"
            parts.append(f"s. {pages}")
        same = self.paragraph == self.paragraph_end
        parts.append(f"stycke {self.paragraph}" if same else f"stycke {self.paragraph}–{self.paragraph_end}")
        return ", ".join(parts)

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
