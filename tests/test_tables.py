"""Tables, lists, headings and contents pages in PDF and Word, on clearly fictional fixtures."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from kb_app import doc_fixtures, fidelity
from kb_app.answer import Answer
from kb_app.blocks import table_rows
from kb_app.config import Settings
from kb_app.documents import read_document
from kb_app.embeddings import Embedder
from kb_app.finder import contains
from kb_app.indexing import index_corpus
from kb_app.models import Document
from kb_app.pdf_tables import find_tables
from kb_app.service import KnowledgeBase

from .conftest import MODEL_CACHE, PDF_DIR, REPO


@pytest.fixture(scope="module")
def fixtures(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Document]:
    folder = tmp_path_factory.mktemp("fixtures")
    doc_fixtures.write_fixtures(folder)
    return {name: read_document(folder / name, folder, {}, max_bytes=50_000_000) for name in doc_fixtures.EXPECTED}


def _blocks(document: Document, kind: str) -> list:
    return [b for b in document.blocks if b.kind == kind]


def test_fidelity_on_the_fixtures_meets_the_target() -> None:
    report = fidelity.measure()
    assert report["cells"] >= 0.95 and report["items"] >= 0.95, report
    assert report["headings"] == 1.0 and report["sections"] == 1.0, report
    assert all(entry["contents"] for entry in report["files"].values()), report


def test_ruled_table_over_a_page_break_keeps_header_and_group(fixtures: dict[str, Document]) -> None:
    members = fixtures["Bilaga 1 Fiktiva medlemmar.pdf"]
    tables = _blocks(members, "table")
    assert [(t.page, t.page_end) for t in tables] == [(1, 1), (2, 2)]  # one block per page
    assert tables[0].items[0] == "Norrlunda län — Kommun: Björkvik"
    assert tables[0].items[1] == "Norrlunda län — Kommun: Ekvik"  # empty first cell: the county carries down
    # the repeated header row on page 2 is dropped, and the county carries over the page break
    assert tables[1].items[0] == "Västmyra län — Kommun: Sjöåker"
    assert not any("Län" == h.text or "Kommun" == h.text for h in _blocks(members, "heading"))
    after = next(b for b in members.blocks if b.text.startswith("Medlemskapet"))
    assert after.section == ("Medlemskommuner i det fiktiva partnerskapet",) and after.page == 2


def test_unruled_budget_table_rows_keep_their_headers(fixtures: dict[str, Document]) -> None:
    programme = fixtures["Bilaga 2 Fiktivt program.pdf"]
    (budget,) = _blocks(programme, "table")
    assert budget.page == 3 and budget.section == ("4. Budget 2007",)
    assert "Kompetensförsörjning — Budget 2007 (tkr): 600; Utfall 2006 (tkr): 550" in budget.items
    assert budget.items[-1] == "Totalt — Budget 2007 (tkr): 13 000; Utfall 2006 (tkr): 12 200"


def test_numbered_headings_contents_page_and_name_list(fixtures: dict[str, Document]) -> None:
    programme = fixtures["Bilaga 2 Fiktivt program.pdf"]
    (contents,) = _blocks(programme, "contents")
    assert contents.page == 1 and len(contents.items) == 6
    headings = {h.text: h.section for h in _blocks(programme, "heading")}
    assert headings["2.1 Mässor"] == ("2. Marknadsföring",)  # "2.1" sits under "2."
    assert headings["3. Nätverk"] == ()  # "3." closes "2." and "2.1"
    first = next(b for b in programme.blocks if b.kind == "paragraph" and b.page == 2)
    assert first.section == ("1. Investeringsfrämjande verksamhet",)
    names = next(b for b in _blocks(programme, "list") if b.section == ("3. Nätverk",))
    assert names.items == doc_fixtures.NETWORK
    assert not any(h.text in doc_fixtures.NETWORK for h in _blocks(programme, "heading"))


def test_two_column_page_reads_left_column_first(fixtures: dict[str, Document]) -> None:
    programme = fixtures["Bilaga 2 Fiktivt program.pdf"]
    page = [b.text for b in programme.blocks if b.page == 4 and b.kind == "paragraph"]
    text = " ".join(page)
    left, right = doc_fixtures.EXPECTED["Bilaga 2 Fiktivt program.pdf"].columns
    assert left in text and right in text and text.index(left) < text.index(right)
    assert not _blocks(programme, "table") or all(t.page != 4 for t in _blocks(programme, "table"))


def test_docx_table_with_merged_cells(fixtures: dict[str, Document]) -> None:
    plan = fixtures["Bilaga 3 Fiktiv marknadsplan.docx"]
    (table,) = _blocks(plan, "table")
    assert table.items == (
        "Aktiviteter 2007 (fiktiva)",  # the caption row merged across the table
        "Annonsering — Kanal: Fackpress; Kostnad (tkr): 450",
        "Annonsering — Kanal: Webbplats; Kostnad (tkr): 300",  # the cell merged over two rows
        "Mässa i Testköping — Kanal: Monter; Kostnad (tkr): 800",
    )
    assert _blocks(plan, "list")[0].items == doc_fixtures.MARKET_BULLETS


def test_table_rows_carry_the_group_and_skip_empty_cells() -> None:
    rows = table_rows(["Län", "Kommun", "Sedan"], [["Län A", "Ort 1", ""], ["", "Ort 2", "2005"]], carry="")
    assert rows == ["Län A — Kommun: Ort 1", "Län A — Kommun: Ort 2; Sedan: 2005"]
    assert table_rows(["Län", "Kommun"], [["", "Ort 3"]], carry="Län B") == ["Län B — Kommun: Ort 3"]


def test_justified_prose_and_bullets_are_not_tables() -> None:
    prose = "\n".join(
        [
            "Dataskyddsförordningen    kommer    att   utgöra    grunden    för",
            "generell personuppgiftsbehandling  inom  EU.      Detta   innebär att",
            "personuppgiftslagen    och    personuppgiftsförordningen,       samt",
            "\uf0b7    lämna förslag till upphävande av den nuvarande generella",
            "     personuppgiftsregleringen, och",
            "\uf0b7    lämna förslag till författningsbestämmelser som på ett",
        ]
    )
    assert find_tables(prose) == []
    two_columns = "\n".join(
        [
            " Den vänstra spalten beskriver uppföljningen      Den högra spalten handlar om utvärderingen.",
            " av det påhittade programmet. Styrgruppen         En extern granskare läser rapporten och",
            " samlar in siffror från varje kommun och          lämnar förslag på förbättringar. Förslagen",
        ]
    )
    assert find_tables(two_columns) == []


def test_shared_pdfs_contents_lines_are_marked(tmp_path: Path) -> None:
    path = PDF_DIR / "prop_2012-13_187_vissa_skolfragor.pdf"
    document = read_document(path, PDF_DIR, {}, max_bytes=50_000_000)
    contents = _blocks(document, "contents")
    assert contents and {b.page for b in contents} <= {2, 3}
    leaders = [b for b in document.blocks if b.kind != "contents" and "......" in b.text]
    assert not leaders


@pytest.fixture(scope="module")
def appendix_kb(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> KnowledgeBase:
    """The shipped report plus the three fictional appendices, indexed once."""
    root = tmp_path_factory.mktemp("appendices")
    shutil.copytree(REPO / "corpus", root / "corpus")
    doc_fixtures.write_fixtures(root / "corpus")
    settings = Settings(corpus_dir=root / "corpus", index_dir=root / "index", model_cache=MODEL_CACHE)
    index_corpus(settings, embedder=embedder)
    return KnowledgeBase(settings, embedder=embedder)


def _cited(answer: Answer) -> tuple[str, int | None]:
    chunk = answer.citations[0].chunk
    return chunk.doc_id, chunk.page


def test_a_budget_row_gives_that_rows_amount(appendix_kb: KnowledgeBase) -> None:
    answer = appendix_kb.ask("Hur mycket är budgeten för kompetensförsörjning 2007?")
    assert "Kompetensförsörjning — Budget 2007 (tkr): 600" in answer.text
    assert len(answer.text) < 250  # the row, not the whole table
    assert _cited(answer) == ("Bilaga 2 Fiktivt program.pdf", 3)


def test_the_tables_total_gives_the_total(appendix_kb: KnowledgeBase) -> None:
    answer = appendix_kb.ask("Vad är den totala budgeten för 2007 i verksamhetsprogrammet?")
    assert (
        answer.text.startswith("Totalt — Budget 2007 (tkr): 13 000")
        or "Totalt — Budget 2007 (tkr): 13 000" in answer.text
    )
    assert _cited(answer) == ("Bilaga 2 Fiktivt program.pdf", 3)


def test_a_member_list_question_gives_the_whole_list(appendix_kb: KnowledgeBase) -> None:
    answer = appendix_kb.ask("Vilka kommuner är medlemmar?")
    assert all(name in answer.text for name in doc_fixtures.MUNICIPALITIES)  # both pages of the table
    assert _cited(answer)[0] == "Bilaga 1 Fiktiva medlemmar.pdf"


def test_is_x_in_the_list(appendix_kb: KnowledgeBase) -> None:
    answer = appendix_kb.ask("Är Ekby med?")
    assert answer.text.startswith("Ja,") and "Västmyra län — Kommun: Ekby" in answer.text
    assert _cited(answer) == ("Bilaga 1 Fiktiva medlemmar.pdf", 2)
    answer = appendix_kb.ask("Är Göteborg med?")
    assert answer.text.startswith("Nej, Göteborg finns inte med i listan")
    assert _cited(answer)[0] == "Bilaga 1 Fiktiva medlemmar.pdf"


def test_contents_pages_rank_last_and_are_never_quoted(appendix_kb: KnowledgeBase) -> None:
    hits = appendix_kb.search("Investeringsfrämjande verksamhet Marknadsföring Mässor Nätverk", k=100)
    roles = [h.chunk.role for h in hits]
    assert roles[-1] == "contents" and roles.count("contents") == 1  # every word matches, yet it comes last
    answer = appendix_kb.ask("Vilka avsnitt har verksamhetsprogrammet?")
    assert "....." not in answer.text


def test_finder_shows_the_matching_row_first_and_similar_apart(appendix_kb: KnowledgeBase) -> None:
    result = appendix_kb.find("Dalåker")
    first = result.matches[0]
    assert first.text == "Västmyra län — Kommun: Dalåker"  # the row with its headers, not the whole table
    assert first.chunk.doc_id == "Bilaga 1 Fiktiva medlemmar.pdf" and first.chunk.page == 2
    assert all(contains(f.text, "Dalåker") for f in result.matches)
    assert result.similar and not any("Dalåker" in f.text for f in result.similar)
    phrase = appendix_kb.find('"tre påhittade mässor"')
    assert [f.text for f in phrase.matches] == ["Partnerskapet deltar i tre påhittade mässor under året."]


def test_contains_needs_every_word_and_the_phrase() -> None:
    assert contains("Budgeten fördelas på verksamheterna", "budget verksamhet")
    assert not contains("Budgeten fördelas", "budget verksamhet")
    assert contains("Investera i Stockholm nu", '"i Stockholm"') and not contains("Stockholms län", '"i Stockholm"')


def test_all_caps_and_numbered_headings_nest(tmp_path: Path) -> None:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import getSampleStyleSheet
    from reportlab.platypus import Paragraph, SimpleDocTemplate

    styles = getSampleStyleSheet()
    body = styles["BodyText"]
    story = [
        Paragraph("ORGANISATION OCH STYRNING", body),
        Paragraph("Den fiktiva styrgruppen möts fyra gånger per år och leds av en ordförande.", body),
        Paragraph("4. Budget 2007", body),
        Paragraph("Den påhittade budgeten beslutas av styrgruppen i december varje år.", body),
        Paragraph("4.1 Uppföljning", body),
        Paragraph("Utfallet jämförs med budgeten efter varje kvartal under det fiktiva året.", body),
    ]
    path = tmp_path / "rubriker.pdf"
    SimpleDocTemplate(str(path), pagesize=A4).build(story)
    document = read_document(path, tmp_path, {}, max_bytes=10_000_000)
    sections = {b.text.split()[1]: b.section for b in document.blocks if b.kind == "paragraph"}
    assert sections["fiktiva"] == ("ORGANISATION OCH STYRNING",)
    assert sections["påhittade"] == ("4. Budget 2007",)
    assert sections["jämförs"] == ("4. Budget 2007", "4.1 Uppföljning")
