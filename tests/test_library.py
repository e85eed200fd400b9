"""The reader's paragraphs: saved beside the index, read back, context around a passage, damage."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from kb_app.config import Settings
from kb_app.documents import load_catalog, read_document
from kb_app.errors import IndexDamagedError
from kb_app.library import Library, Paragraph, _path, remove_paragraphs, save_paragraphs
from kb_app.models import Chunk

TEXT = """# Handbok

Inledande stycke om partnerskapet.

## Budget

Budgeten för 2007 är 15 miljoner kronor.

Varje kommun betalar 4 kronor per invånare.

- första punkten
- andra punkten

## Styrning

Styrgruppen möts fyra gånger om året.
"""


def _document(settings: Settings):  # type: ignore[no-untyped-def]
    path = settings.corpus_dir / "handbok.md"
    path.write_text(TEXT, encoding="utf-8")
    return read_document(path, settings.corpus_dir, load_catalog(settings.corpus_dir), max_bytes=10**6)


def _chunk(first: int, last: int) -> Chunk:
    return Chunk("c", "handbok.md", "Handbok", "dokument", ("Handbok",), "", first, last, 0, 0, 0)


def test_saved_paragraphs_read_back_in_order(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    document = _document(settings)
    save_paragraphs(settings.index_dir, document)
    (settings.corpus_dir / "handbok.md").unlink()  # the saved copy is what readers see
    paragraphs = Library(settings).paragraphs("handbok.md")
    assert [(p.n, p.kind) for p in paragraphs] == [(b.paragraph, b.kind) for b in document.blocks]
    budget = next(p for p in paragraphs if p.text.startswith("Budgeten"))
    assert budget.section == ("Handbok", "Budget") and budget.kind == "paragraph"
    assert Library(settings).paragraph("handbok.md", budget.n) == budget
    assert Library(settings).paragraph("handbok.md", 999) is None


def test_context_around_a_passage(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    save_paragraphs(settings.index_dir, _document(settings))
    library = Library(settings)
    numbers = [p.n for p in library.paragraphs("handbok.md") if p.kind != "heading"]
    middle = numbers[2]
    around = library.around(_chunk(middle, middle))
    assert [(p.n, inside) for p, inside in around] == [(middle - 1, False), (middle, True), (middle + 1, False)]
    assert [p.n for p, inside in library.around(_chunk(middle, middle + 1), radius=0) if inside] == [
        middle,
        middle + 1,
    ]


def test_an_unsaved_document_is_parsed_from_the_corpus_and_an_unknown_one_is_empty(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    document = _document(settings)
    library = Library(settings)
    assert [p.text for p in library.paragraphs("handbok.md")] == [b.text for b in document.blocks]
    assert library.paragraphs("finns-inte.md") == ()


def test_removed_paragraphs_are_gone(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    save_paragraphs(settings.index_dir, _document(settings))
    remove_paragraphs(settings.index_dir, "handbok.md")
    (settings.corpus_dir / "handbok.md").unlink()
    assert Library(settings).paragraphs("handbok.md") == ()


@pytest.mark.parametrize("content", ["{skräp", '{"paragraphs": [{"n": 1}]}', "[]"])
def test_a_damaged_paragraph_file_is_an_index_damaged_error(
    make_settings: Callable[..., Settings], content: str
) -> None:
    settings = make_settings()
    save_paragraphs(settings.index_dir, _document(settings))
    _path(settings.index_dir, "handbok.md").write_text(content, encoding="utf-8")
    with pytest.raises(IndexDamagedError, match="Indexet är skadat: kör python -m indexer"):
        Library(settings).paragraphs("handbok.md")


def test_a_paragraph_location_is_written_like_a_chunk_location() -> None:
    paragraph = Paragraph(7, "paragraph", "x", ("Handbok", "Budget"), page=3)
    chunk = Chunk("c", "h.md", "Handbok", "dokument", ("Handbok", "Budget"), "x", 7, 7, 0, 1, 0, page=3, page_end=3)
    assert paragraph.location("Handbok") == "Handbok, Budget, s. 3"
    assert chunk.location == "Handbok, Budget, s. 3, stycke 7"
    wide = Chunk("c", "h.md", "Handbok", "dokument", (), "x", 7, 9, 0, 1, 0, page=3, page_end=4)
    assert wide.location == "Handbok, s. 3–4, stycke 7–9"
