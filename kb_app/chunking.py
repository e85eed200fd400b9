"""Structure-first chunking: a chunk never crosses a section and a list keeps its lead-in.

A contents page is chunked on its own (``Chunk.role`` "contents"), so it never mixes with text.

Blocks of one section are grouped into units (a paragraph that ends with a colon is joined with
the list or paragraph that follows it), units are packed up to ``chunk_size`` characters, and a
unit that is still too long is split at sentence boundaries by langchain's
``RecursiveCharacterTextSplitter``.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator

from kb_app.models import Block, Chunk, Document

# Paragraphs, lines, then Swedish sentence ends (also after abbreviations' closing brackets),
# then clause boundaries and words.
SWEDISH_SEPARATORS = ["\n\n", "\n", ". ", "! ", "? ", "; ", ": ", ", ", " – ", " ", ""]


def chunk_document(document: Document, *, chunk_size: int = 900) -> tuple[Chunk, ...]:
    """Cut a document into chunks that follow its sections.

    Args:
        document: the parsed document.
        chunk_size: the largest chunk in characters (keep well under the model's 512 tokens).

    Returns:
        The chunks in document order, with deterministic ids.
    """
    from langchain_text_splitters import RecursiveCharacterTextSplitter  # slow import: only when chunking

    overlap = min(150, chunk_size // 6)
    splitter = RecursiveCharacterTextSplitter(
        chunk_size=chunk_size,
        chunk_overlap=overlap,
        separators=SWEDISH_SEPARATORS,
        keep_separator="end",
    )
    chunks: list[Chunk] = []
    for group in _packed(_units(document.blocks), chunk_size):
        text = "\n\n".join(b.text for b in group)
        pieces = [text] if len(text) <= chunk_size else splitter.split_text(text)
        cursor = 0  # pieces come in order: each is searched for after the previous one (linear time)
        for piece in pieces:
            offset = None
            if len(group) == 1 and piece != group[0].text:
                found = group[0].text.find(piece[:80], cursor)
                if found >= 0:
                    offset, cursor = found, found + max(1, len(piece) - overlap)
            chunks.append(_make_chunk(document, group, piece, len(chunks), offset))
    return tuple(chunks)


def _units(blocks: tuple[Block, ...]) -> Iterator[list[Block]]:
    """Group body blocks: one block, or a lead-in ending with ':' plus what follows it."""
    unit: list[Block] = []
    for block in blocks:
        if block.kind == "heading":
            if unit:
                yield unit
            unit = []
            continue
        if unit and (unit[-1].section != block.section or not unit[-1].text.rstrip().endswith(":")):
            yield unit
            unit = []
        unit.append(block)
    if unit:
        yield unit


def _packed(units: Iterator[list[Block]], chunk_size: int) -> Iterator[list[Block]]:
    """Pack consecutive units of the same section up to ``chunk_size`` characters."""
    group: list[Block] = []
    size = 0
    for unit in units:
        unit_size = sum(len(b.text) + 2 for b in unit)
        label = len(unit[0].text) <= 40 and unit[0].text.endswith(":")  # "Bilagor:" opens a new chunk
        contents = (group[-1].kind == "contents") != (unit[0].kind == "contents") if group else False
        if group and (group[-1].section != unit[0].section or size + unit_size > chunk_size or label or contents):
            yield group
            group, size = [], 0
        group.extend(unit)
        size += unit_size
    if group:
        yield group


def _make_chunk(document: Document, group: list[Block], text: str, position: int, offset: int | None) -> Chunk:
    """A chunk of ``group``; ``offset`` is where ``text`` starts inside a long single block."""
    first, last = group[0], group[-1]
    start, end = first.start, last.end
    if offset is not None:  # a piece of one long block
        start = min(first.start + offset, first.end)
        end = min(start + len(text), first.end)
    pages = [b.page for b in group if b.page is not None]
    page_ends = [b.page_end for b in group if b.page_end is not None]
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return Chunk(
        chunk_id=f"{document.info.doc_id}#{position:05d}-{digest}",
        doc_id=document.info.doc_id,
        title=document.info.title,
        kind=document.info.kind,
        section=first.section,
        text=text,
        paragraph=first.paragraph,
        paragraph_end=last.paragraph,
        start=start,
        end=end,
        position=position,
        page=min(pages) if pages else None,
        page_end=max(page_ends) if page_ends else None,
        page_label=first.page_label,
        content_hash=document.content_hash,
        role="contents" if all(b.kind == "contents" for b in group) else "",
    )
