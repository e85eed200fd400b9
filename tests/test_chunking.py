from __future__ import annotations

from pathlib import Path

import pytest

from kb_app.chunking import chunk_document
from kb_app.documents import load_catalog, read_document
from kb_app.embeddings import Embedder

from .conftest import PDF_DIR, REPO, REPORT


def _report_chunks():  # type: ignore[no-untyped-def]
    doc = read_document(REPORT, REPO / "corpus", load_catalog(REPO / "corpus"), max_bytes=10**9)
    return doc, chunk_document(doc)


def test_every_chunk_has_document_section_and_paragraph() -> None:
    _, chunks = _report_chunks()
    assert len(chunks) >= 8
    for chunk in chunks:
        assert chunk.doc_id == "lagesredovisning-sba-2007.md"
        assert chunk.section and chunk.section_title
        assert chunk.paragraph >= 1 and chunk.paragraph_end >= chunk.paragraph


def test_goals_and_their_lead_in_are_one_chunk() -> None:
    _, chunks = _report_chunks()
    holding = [c for c in chunks if "Partnerskapets mål är att" in c.text]
    assert len(holding) == 1
    for goal in ("ledande tillväxtregion", "tre bästa regionerna", "bästa investeringsfrämjande"):
        assert goal in holding[0].text


def test_chunks_never_cross_sections_and_quote_the_source() -> None:
    doc, chunks = _report_chunks()
    by_paragraph = {b.paragraph: b for b in doc.blocks if b.kind != "heading"}
    for chunk in chunks:
        sections = {by_paragraph[p].section for p in range(chunk.paragraph, chunk.paragraph_end + 1)}
        assert sections == {chunk.section}
        for block in (by_paragraph[p] for p in range(chunk.paragraph, chunk.paragraph_end + 1)):
            assert block.text in chunk.text


def test_ids_are_deterministic() -> None:
    _, first = _report_chunks()
    _, second = _report_chunks()
    assert [c.chunk_id for c in first] == [c.chunk_id for c in second]
    assert len({c.chunk_id for c in first}) == len(first)


def test_long_pdf_sections_stay_under_the_token_limit(embedder: Embedder) -> None:
    path = PDF_DIR / "prop_2012-13_187_vissa_skolfragor.pdf"
    doc = read_document(path, PDF_DIR, {}, max_bytes=10**9)
    chunks = chunk_document(doc, chunk_size=900)
    assert max(len(c.text) for c in chunks) <= 900
    longest = sorted(chunks, key=lambda c: -len(c.embedding_text()))[:20]
    assert max(embedder.count_tokens(c.embedding_text()) for c in longest) < 512
    assert all(c.page is not None and c.page_end is not None and c.page <= c.page_end for c in chunks)


def test_one_huge_paragraph_is_cut_with_exact_offsets() -> None:
    """Pieces of one long block are found after each other (linear time), each at its true offset."""
    from kb_app.models import Block, Document, DocumentInfo

    text = " ".join(f"Mening nummer {i} om samverkan i regionen." for i in range(60_000))
    doc = Document(
        DocumentInfo("lang.txt", "Lång"), "lang.txt", text, (Block("paragraph", text, (), 1, 0, len(text)),), "h"
    )
    chunks = chunk_document(doc)
    assert len(chunks) > 2000
    assert all(text[c.start : c.end] == c.text for c in chunks)
    assert chunks[-1].end == len(text)


@pytest.mark.slow
def test_a_30_mb_single_paragraph_markdown_file_is_read_and_chunked_in_under_10_s(tmp_path: Path) -> None:
    """Issue 12, defect 9: chunking one long paragraph took quadratic time (30 MB: 99 s)."""
    import time

    sentence = "Mening nummer {} om samverkan i regionen och näringslivet i Stockholm."
    path = tmp_path / "lang.md"
    path.write_text("# Lång\n\n" + " ".join(sentence.format(i) for i in range(420_000)) + "\n", encoding="utf-8")
    assert path.stat().st_size > 30e6
    started = time.perf_counter()
    document = read_document(path, tmp_path, {}, max_bytes=50_000_000)
    chunks = chunk_document(document)
    seconds = time.perf_counter() - started
    assert seconds < 10, f"{seconds:.1f} s"
    assert all(document.text[c.start : c.end] == c.text for c in chunks[:: len(chunks) // 50])
    assert chunks[-1].text.endswith("Stockholm.")
