"""The paragraph finder ("Sök i dokumenten"): exact matches first, then similar paragraphs apart.

A match is a paragraph that contains every search word (compared after stemming, as BM25 does)
and every quoted phrase verbatim. Matches come from BM25, so every matching passage is a candidate,
not only the best hybrid hits. For a table, a match shows only the rows that contain the words,
each with its column headers. Paragraphs that hybrid search finds by meaning but that do not
contain the words are returned separately, for the UI to show under "Liknande stycken".
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from kb_app.lexical import tokenize
from kb_app.library import Library, Paragraph
from kb_app.models import Chunk
from kb_app.retrieval import Retriever, quoted_phrases


@dataclass(frozen=True)
class Finding:
    """One paragraph (or the matching rows of a table) to show, with the passage it was found in."""

    chunk: Chunk
    paragraph: int  # the paragraph number, for the permalink
    text: str
    exact: bool


@dataclass(frozen=True)
class FinderResult:
    """Paragraphs that contain the search words, then paragraphs found by meaning alone."""

    matches: list[Finding]
    similar: list[Finding]


def contains(text: str, query: str) -> bool:
    """True when ``text`` holds every word of ``query`` (stemmed) and every quoted phrase verbatim."""
    phrases = quoted_phrases(query)
    rest = query
    for phrase in phrases:
        rest = rest.replace(f'"{phrase}"', " ")
    lowered = text.lower()
    if not all(phrase.lower() in lowered for phrase in phrases):
        return False
    words = set(tokenize(rest.replace('"', " ")))
    return words <= set(tokenize(text)) if words else bool(phrases)


def find(
    retriever: Retriever,
    library: Library,
    query: str,
    *,
    k: int = 10,
    doc_ids: Sequence[str] | None = None,
    kinds: Sequence[str] | None = None,
) -> FinderResult:
    """Up to ``k`` matching paragraphs in search order, and up to ``k`` similar ones."""
    seen: set[tuple[str, int]] = set()
    matches: list[Finding] = []
    lexical = retriever.search(query, k=max(5 * k, 50), doc_ids=doc_ids, kinds=kinds, mode="lexical")
    for hit in lexical:
        for paragraph in _paragraphs(library, hit.chunk):
            text = _matching_rows(paragraph, query)
            if text and (hit.chunk.doc_id, paragraph.n) not in seen:
                seen.add((hit.chunk.doc_id, paragraph.n))
                matches.append(Finding(hit.chunk, paragraph.n, text, True))
    similar: list[Finding] = []
    meaning = query.replace('"', " ")  # by meaning: quoted phrases are not required there
    for hit in retriever.search(meaning, k=2 * k, doc_ids=doc_ids, kinds=kinds):
        for paragraph in _paragraphs(library, hit.chunk):
            if (hit.chunk.doc_id, paragraph.n) not in seen:
                seen.add((hit.chunk.doc_id, paragraph.n))
                similar.append(Finding(hit.chunk, paragraph.n, paragraph.text, False))
    matches.sort(key=lambda f: f.chunk.role == "contents")  # a contents page matches, but comes last
    return FinderResult(matches[:k], similar[:k])


def _paragraphs(library: Library, chunk: Chunk) -> Iterator[Paragraph]:
    """The chunk's own paragraphs (its text alone when the document's paragraphs are not saved)."""
    inside = [p for p, within in library.around(chunk, radius=0) if within]
    yield from inside or [Paragraph(chunk.paragraph, "paragraph", chunk.text, chunk.section, chunk.page)]


def _matching_rows(paragraph: Paragraph, query: str) -> str:
    """The paragraph when it contains the words; for a table, only its rows that do ("" for none)."""
    if paragraph.kind == "table":
        return "\n".join(row for row in paragraph.text.split("\n") if contains(row, query))
    return paragraph.text if contains(paragraph.text, query) else ""
