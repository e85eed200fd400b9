"""Tables, lists, headings and contents pages in PDF and Word, on clearly fictional fixtures."""

from __future__ import annotations

from pathlib import Path

import pytest

from kb_app import doc_fixtures, fidelity
from kb_app.blocks import table_rows
from kb_app.documents import read_document
from kb_app.models import Document
from kb_app.pdf_tables import find_tables

SHARED_PDFS = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "pdfs"


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


@pytest.mark.skipif(not SHARED_PDFS.is_dir(), reason="the shared PDFs are not beside the repository")
def test_shared_pdfs_contents_lines_are_marked(tmp_path: Path) -> None:
    path = SHARED_PDFS / "prop_2012-13_187_vissa_skolfragor.pdf"
    document = read_document(path, SHARED_PDFS, {}, max_bytes=50_000_000)
    contents = _blocks(document, "contents")
    assert contents and {b.page for b in contents} <= {2, 3}
    leaders = [b for b in document.blocks if b.kind != "contents" and "......" in b.text]
    assert not leaders
