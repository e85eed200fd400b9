from __future__ import annotations

from pathlib import Path

import docx
import pytest

from kb_app.documents import decode_text, document_info, load_catalog, read_document
from kb_app.errors import CorpusError
from kb_app.models import KIND_APPENDIX, KIND_REPORT
from kb_app.pdf import _join_lines

from .conftest import PDF_DIR, REPO, REPORT

BIG = 10**9


def _read(path: Path, corpus: Path | None = None) -> object:
    corpus = corpus or path.parent
    return read_document(path, corpus, load_catalog(corpus), max_bytes=BIG)


def test_report_markdown_has_sections_paragraphs_and_lists() -> None:
    doc = read_document(REPORT, REPO / "corpus", load_catalog(REPO / "corpus"), max_bytes=BIG)
    assert doc.info.title == "Lägesredovisning av Stockholm Business Alliance"
    assert doc.info.kind == KIND_REPORT
    assert doc.info.date == "2007-01-13"
    assert doc.info.reference == "09-006/2007"
    headings = [b.text for b in doc.blocks if b.kind == "heading"]
    assert headings[:3] == ["Tjänsteutlåtande 2007:10", "Lägesredovisning av Stockholm Business Alliance", "Bakgrund"]
    goals = next(b for b in doc.blocks if b.kind == "list" and "ledande tillväxtregion" in b.text)
    assert goals.section[-1] == "Bakgrund"
    assert len(goals.items) == 3
    areas = next(b for b in doc.blocks if b.kind == "list" and "Exportfrämjande" in b.text)
    assert len(areas.items) == 6
    body = [b for b in doc.blocks if b.kind != "heading"]
    assert [b.paragraph for b in body] == list(range(1, len(body) + 1))
    source = REPORT.read_text(encoding="utf-8")
    for block in body:
        # the span points at the block's own source text
        assert block.text.split()[0].strip("*-") in source[block.start : block.end]


def test_bold_line_is_a_heading_below_real_headings() -> None:
    builder_doc = _parse_md("# Rubrik\n\n**Fet underrubrik**\n\nText här.\n\n## Nästa\n\nMer text.\n")
    blocks = [(b.kind, b.text, b.section) for b in builder_doc.blocks()]
    assert ("paragraph", "Text här.", ("Rubrik", "Fet underrubrik")) in blocks
    assert ("paragraph", "Mer text.", ("Rubrik", "Nästa")) in blocks


def _parse_md(text: str):  # type: ignore[no-untyped-def]
    from kb_app.documents import parse_markdown

    return parse_markdown(text)


@pytest.mark.parametrize(
    ("lines", "expected"),
    [
        (["studiestöds-", "datalagen gäller"], "studiestödsdatalagen gäller"),
        (["stöd till närings-", "och arbetsliv"], "stöd till närings- och arbetsliv"),
        (["inom EU-", "regleringen"], "inom EU-regleringen"),
        (["vägar för sjö-", "eller flygtrafik"], "vägar för sjö- eller flygtrafik"),
        (["en vanlig rad", "fortsätter här"], "en vanlig rad fortsätter här"),
    ],
)
def test_pdf_line_joining_keeps_swedish_compounds(lines: list[str], expected: str) -> None:
    assert _join_lines(lines) == expected


@pytest.mark.parametrize(
    ("file", "phrase", "page", "header"),
    [
        ("dir_2016_15_dataskyddsforordningen.pdf", "Dataskyddsförordningen – den nya regleringen", 3, None),
        ("afs_2011_19_kemiska_arbetsmiljorisker.pdf", "Kemiska riskkällor som ska identifieras", 2, "AFS 2011:19"),
        ("helsingborg_bygglov_samsynsguiden_2023-10-10.pdf", "riktlinjer för hur inredning", 8, "Sid 8 av 103"),
        ("nfs_2007_10_inventering_stora_rovdjur.pdf", "förhindra faunakriminalitet", 3, None),
    ],
)
def test_pdf_phrase_is_on_its_page_and_headers_are_gone(file: str, phrase: str, page: int, header: str | None) -> None:
    doc = _read(PDF_DIR / file)
    block = next(b for b in doc.blocks if phrase in b.text)  # type: ignore[attr-defined]
    assert block.page == page
    assert block.page_label == str(page)
    if header:  # the running header stood on every page; at most a mention in the text is left
        assert doc.pages >= 10  # type: ignore[attr-defined]
        assert sum(header in b.text for b in doc.blocks) <= 1  # type: ignore[attr-defined]
    assert not any(b.text.strip().isdigit() for b in doc.blocks)  # type: ignore[attr-defined]


def test_pdf_paragraph_across_pages_is_joined_and_dehyphenated() -> None:
    doc = _read(PDF_DIR / "dir_2016_15_dataskyddsforordningen.pdf")
    block = next(b for b in doc.blocks if "studiestödsdatalagen (2009:287)" in b.text)  # type: ignore[attr-defined]
    assert (block.page, block.page_end) == (2, 3)


def test_docx_headings_lists_and_tables(tmp_path: Path) -> None:
    word = docx.Document()
    word.add_heading("Testbilaga för verksamhetsprogram", level=1)
    word.add_paragraph("Detta är ett påhittat testdokument som inte har något med SBA att göra.")
    word.add_heading("Aktiviteter", level=2)
    word.add_paragraph("Aktiviteterna är:")
    word.add_paragraph("Påhittad aktivitet A", style="List Bullet")
    word.add_paragraph("Påhittad aktivitet B", style="List Bullet")
    table = word.add_table(rows=2, cols=2)
    table.cell(0, 0).text, table.cell(0, 1).text = "Post", "Belopp"
    table.cell(1, 0).text, table.cell(1, 1).text = "Testpost", "1 krona"
    path = tmp_path / "Bilaga 2 Testprogram.docx"
    word.save(str(path))

    doc = _read(path)
    assert doc.info.kind == KIND_APPENDIX  # type: ignore[attr-defined]
    assert doc.info.appendix == 2  # type: ignore[attr-defined]
    blocks = doc.blocks  # type: ignore[attr-defined]
    items = next(b for b in blocks if b.kind == "list")
    assert items.items == ("Påhittad aktivitet A", "Påhittad aktivitet B")
    assert items.section == ("Testbilaga för verksamhetsprogram", "Aktiviteter")
    table_block = next(b for b in blocks if b.kind == "table")
    assert "Testpost — Belopp: 1 krona" in table_block.text  # the row keeps its header


def test_appendix_recognised_from_file_name() -> None:
    info = document_info("Bilaga 3 Marknadsplan 2007.pdf", {})
    assert (info.kind, info.appendix, info.title) == (KIND_APPENDIX, 3, "Bilaga 3 Marknadsplan 2007")


@pytest.mark.parametrize(
    ("data", "text"),
    [
        ("Näringsliv i Mälardalen: åäö ÅÄÖ".encode("cp1252"), "Näringsliv i Mälardalen: åäö ÅÄÖ"),
        ("Näringsliv åäö".encode("utf-16"), "Näringsliv åäö"),
        ("\ufeffNäringsliv åäö".encode(), "Näringsliv åäö"),
    ],
)
def test_text_encodings(data: bytes, text: str) -> None:
    assert decode_text(data, "x.txt") == text


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("tom.md", b"", "tom"),
        ("falsk.pdf", b"det har ar ingen pdf", "ingen PDF"),
        ("trasig.pdf", b"%PDF-1.4\n1 0 obj\n<<", "skadad"),
        ("trasig.docx", b"PK\x03\x04 inte en zip", "skadad"),
    ],
)
def test_unreadable_files_raise_a_swedish_message_naming_the_file(
    tmp_path: Path, name: str, content: bytes, message: str
) -> None:
    path = tmp_path / name
    path.write_bytes(content)
    with pytest.raises(CorpusError, match=message) as info:
        _read(path)
    assert name in str(info.value)


def test_size_cap(tmp_path: Path) -> None:
    path = tmp_path / "stor.txt"
    path.write_text("ord " * 1000)
    with pytest.raises(CorpusError, match="KB_MAX_FILE_MB"):
        read_document(path, tmp_path, {}, max_bytes=100)


def test_catalog_entry_found_for_a_file_name_in_the_other_unicode_form(tmp_path: Path) -> None:
    import unicodedata

    nfc = "Årsrapport för Täby.md"
    nfd = unicodedata.normalize("NFD", nfc)
    assert nfd != nfc
    (tmp_path / "catalog.toml").write_text(f'["{nfc}"]\ntitle = "Påhittad årsrapport"\n', encoding="utf-8")
    (tmp_path / nfd).write_text("# Rubrik\n\nPåhittad text om samverkan.\n", encoding="utf-8")
    doc = read_document(tmp_path / nfd, tmp_path, load_catalog(tmp_path), max_bytes=BIG)
    assert doc.info.title == "Påhittad årsrapport"


def test_a_bad_appendix_number_in_the_catalog_is_a_swedish_error() -> None:
    with pytest.raises(CorpusError, match="heltal"):
        document_info("bilaga.md", {"bilaga.md": {"appendix": "två"}})


def test_a_reader_version_re_reads_only_its_own_format(monkeypatch: pytest.MonkeyPatch) -> None:
    from kb_app import documents

    data = "samma innehåll".encode()
    before = {name: documents.fingerprint(data, name, {}) for name in ("a.pdf", "a.md", "a.docx")}
    monkeypatch.setitem(documents.FORMAT_VERSIONS, ".pdf", "nästa")
    after = {name: documents.fingerprint(data, name, {}) for name in before}
    assert after["a.pdf"] != before["a.pdf"]
    assert after["a.md"] == before["a.md"] and after["a.docx"] == before["a.docx"]
