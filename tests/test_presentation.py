"""Presentation helpers on small real text: spans, marks, highlights, permalinks."""

from __future__ import annotations

from urllib.parse import parse_qs

from kb_app.models import Chunk
from kb_app.presentation import (
    PARAM_DOC,
    PARAM_PARAGRAPH,
    PARAM_VIEW,
    VIEW_DOCUMENTS,
    chunk_permalink,
    highlight_all,
    highlight_sentences,
    mark_terms,
    md_escape,
    permalink,
    sentence_spans,
    term_spans,
)

TEXT = "Partnerskapet har tre mål.\nMålen är:\n- tillväxt i regionen\n- fler företag"


def test_sentence_spans_find_sentences_and_list_lines() -> None:
    spans = sentence_spans(TEXT, ["Partnerskapet har tre mål.", "- tillväxt i regionen\n- fler företag"])
    assert [TEXT[a:b] for a, b in spans] == ["Partnerskapet har tre mål.", "- tillväxt i regionen", "- fler företag"]
    assert sentence_spans(TEXT, ["En mening som inte står där.", "ab"]) == []


def test_term_spans_match_stems_and_quoted_phrases() -> None:
    words = [TEXT[a:b] for a, b in term_spans(TEXT, "målet för partnerskapen")]
    assert words == ["Partnerskapet", "mål", "Målen"]  # stems: mål, partnerskap; "för" is a stopword
    phrase = [TEXT[a:b] for a, b in term_spans(TEXT, '"fler företag"')]
    assert "fler företag" in phrase


def test_overlapping_marks_merge_into_one() -> None:
    marked = mark_terms("Budget och budgetar", '"Budget och" budget')
    assert marked.count(":blue-background[") == 2
    assert marked.startswith(":blue-background[Budget och]")


def test_highlights_are_escaped_and_keep_line_breaks() -> None:
    shown = highlight_sentences("A <b>fet</b>.\nB.", ["A <b>fet</b>."])
    assert shown == ":orange-background[A \\<b\\>fet\\</b\\>\\.]  \nB\\."
    assert highlight_all("rad ett\n\nrad tre") == ":orange-background[rad ett]  \n  \n:orange-background[rad tre]"
    assert md_escape("a\nb") == "a  \nb"


def test_permalinks_open_the_documents_view_at_a_paragraph() -> None:
    link = permalink("mapp/fil med mellanslag.pdf", 12)
    query = parse_qs(link.removeprefix("?"))
    assert query == {PARAM_VIEW: [VIEW_DOCUMENTS], PARAM_DOC: ["mapp/fil med mellanslag.pdf"], PARAM_PARAGRAPH: ["12"]}
    chunk = Chunk("c", "r.md", "R", "rapport", (), "x", 15, 16, 0, 1, 0)
    assert chunk_permalink(chunk) == permalink("r.md", 15)
