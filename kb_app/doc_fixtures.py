"""Clearly fictional appendix-like documents with known structure, for tests and the fidelity measure.

Nothing here describes the real appendices of the SBA report: every name, county and amount is
invented, and each document says so on its first page. The builders write a member list (a ruled
table that runs over a page break), a programme (contents page, running header, numbered headings,
an unruled budget table, a one-name-per-line list and a two-column page) and a Word market plan
(bullets and a table with merged cells). ``EXPECTED`` holds what a reader must get out of them.
reportlab (PDF) and python-docx (Word) write the files.
"""

from __future__ import annotations

import io
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

FICTIONAL = "Fiktiv testdata: alla namn och belopp är påhittade."

COUNTIES = ("Norrlunda län", "Söderås län", "Västmyra län", "Österhed län")
_PREFIXES = ("Björk", "Ek", "Gran", "Lind", "Sjö", "Berg", "Ås", "Dal", "Hav", "Löv")
_SUFFIXES = ("vik", "backa", "lunda", "åker", "by", "hamn")
MUNICIPALITIES = tuple(p + s for s in _SUFFIXES for p in _PREFIXES)  # 60 invented names

BUDGET = (
    ("Investeringsfrämjande verksamhet", "5 200", "4 800"),
    ("Näringslivsservice och kundmätning", "1 100", "1 000"),
    ("Kompetensförsörjning", "600", "550"),
    ("Marknadsföring och mässor", "3 900", "3 700"),
    ("Nätverk och seminarier", "2 200", "2 150"),
)
BUDGET_TOTAL = ("Totalt", "13 000", "12 200")
BUDGET_HEADERS = ("Verksamhet", "Budget 2007 (tkr)", "Utfall 2006 (tkr)")
NETWORK = ("Fjällmora", "Kvarnbo", "Rönnhult", "Tallvreten", "Videbäck")

MARKET_HEADERS = ("Aktivitet", "Kanal", "Kostnad (tkr)")
MARKET_ROWS = (
    ("Annonsering", "Fackpress", "450"),
    ("Annonsering", "Webbplats", "300"),
    ("Mässa i Testköping", "Monter", "800"),
)
MARKET_BULLETS = ("Öka kännedomen om regionen", "Locka fler fiktiva investerare", "Samordna budskapen")


@dataclass(frozen=True)
class Expected:
    """What a reader must find in one fixture: table cells, list items and headings by page."""

    cells: tuple[tuple[str, str, str, int], ...] = ()  # (row label, header, value, page or 0 for Word)
    items: tuple[str, ...] = ()
    headings: tuple[tuple[str, int], ...] = ()  # (title, level)
    contents_pages: tuple[int, ...] = ()
    after_table: tuple[tuple[str, str], ...] = ()  # (text that follows a table, the section it belongs to)
    columns: tuple[str, ...] = field(default=())  # sentences of a two-column page, in reading order


def member_rows() -> list[tuple[str, str]]:
    """(county, municipality) pairs: each county's first row names it, the others leave it empty."""
    rows = []
    for n, name in enumerate(MUNICIPALITIES):
        county = COUNTIES[n // 15]
        rows.append((county if n % 15 == 0 else "", name))
    return rows


def _styles() -> Any:
    from reportlab.lib.styles import getSampleStyleSheet

    return getSampleStyleSheet()


def members_pdf() -> bytes:
    """A ruled two-column table of 60 invented municipalities over two pages, header repeated."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import Paragraph, SimpleDocTemplate, Table, TableStyle

    styles = _styles()
    data = [["Län", "Kommun"], *[list(row) for row in member_rows()]]
    table = Table(data, repeatRows=1, style=TableStyle([("GRID", (0, 0), (-1, -1), 0.5, colors.black)]))
    story = [
        Paragraph("Medlemskommuner i det fiktiva partnerskapet", styles["Heading1"]),
        Paragraph(FICTIONAL + " Tabellen listar kommunerna efter län.", styles["BodyText"]),
        table,
        Paragraph("Medlemskapet gäller tills vidare och omprövas varje år.", styles["BodyText"]),
    ]
    buffer = io.BytesIO()
    SimpleDocTemplate(buffer, pagesize=A4, title="Fiktiv medlemslista").build(story)
    return buffer.getvalue()


def _programme_page(canvas: Any, doc: Any) -> None:
    """Running header and page number on every page."""
    canvas.saveState()
    canvas.setFont("Helvetica", 8)
    canvas.drawString(72, 810, "Verksamhetsprogram 2007 (fiktiv testdata)")
    canvas.drawRightString(523, 30, f"Sida {doc.page}")
    canvas.restoreState()


def programme_pdf() -> bytes:
    """Contents page, numbered headings, an unruled budget table, a name list and a two-column page."""
    from reportlab.lib.pagesizes import A4
    from reportlab.platypus import BaseDocTemplate, Frame, PageTemplate

    buffer = io.BytesIO()
    document = BaseDocTemplate(buffer, pagesize=A4, title="Fiktivt verksamhetsprogram")
    width, height = A4
    one = Frame(72, 72, width - 144, height - 144, id="one")
    left = Frame(72, 72, (width - 144) / 2 - 12, height - 144, id="left")
    right = Frame(width / 2 + 12, 72, (width - 144) / 2 - 12, height - 144, id="right")
    document.addPageTemplates(
        [
            PageTemplate("one", [one], onPage=_programme_page),
            PageTemplate("two", [left, right], onPage=_programme_page),
        ]
    )
    document.build(_programme_story())
    return buffer.getvalue()


def _programme_story() -> list[Any]:
    """The programme's flowables: contents, numbered sections, the list, the budget, two columns."""
    from reportlab.platypus import FrameBreak, NextPageTemplate, PageBreak, Paragraph, Table

    styles = _styles()
    body, h1, h2 = styles["BodyText"], styles["Heading1"], styles["Heading2"]
    contents = [
        ("1. Investeringsfrämjande verksamhet", 2),
        ("2. Marknadsföring", 2),
        ("2.1 Mässor", 2),
        ("3. Nätverk", 3),
        ("4. Budget 2007", 3),
        ("5. Uppföljning", 4),
    ]
    story: list[Any] = [Paragraph("Innehåll", h1)]
    story += [Paragraph(f"{title} {'.' * 60} {page}", body) for title, page in contents]
    story += [
        PageBreak(),
        Paragraph("1. Investeringsfrämjande verksamhet", h1),
        Paragraph(FICTIONAL + " Programmet beskriver hur investerare ska lockas till regionen.", body),
        Paragraph("2. Marknadsföring", h1),
        Paragraph("Marknadsföringen riktas mot fiktiva målgrupper i andra länder.", body),
        Paragraph("2.1 Mässor", h2),
        Paragraph("Partnerskapet deltar i tre påhittade mässor under året.", body),
        PageBreak(),
        Paragraph("3. Nätverk", h1),
        Paragraph("Följande orter ingår i det fiktiva nätverket:", body),
        *[Paragraph(name, body) for name in NETWORK],
        Paragraph("4. Budget 2007", h1),
        Paragraph("Budgeten fördelas på verksamheterna enligt tabellen.", body),
        Table([list(BUDGET_HEADERS), *[list(r) for r in BUDGET], list(BUDGET_TOTAL)]),
        Paragraph("Budgeten följs upp av styrgruppen varje kvartal.", body),
        NextPageTemplate("two"),
        PageBreak(),
        Paragraph("5. Uppföljning", h1),
        Paragraph(_COLUMN_TEXT[0], body),
        FrameBreak(),
        Paragraph(_COLUMN_TEXT[1], body),
    ]
    return story


_COLUMN_TEXT = (
    "Den vänstra spalten beskriver uppföljningen av det påhittade programmet. Styrgruppen samlar in "
    "siffror från varje kommun och jämför dem med målen. Resultatet redovisas i en årlig rapport.",
    "Den högra spalten handlar om utvärderingen. En extern granskare läser rapporten och lämnar "
    "förslag på förbättringar. Förslagen behandlas på ett möte i december.",
)


def market_docx() -> bytes:
    """A Word market plan: bullets and a table with a merged caption row and a cell merged over two rows."""
    import docx

    document = docx.Document()
    document.add_heading("Marknadsplan 2007 (fiktiv)", level=1)
    document.add_paragraph(FICTIONAL)
    document.add_heading("Mål", level=2)
    for bullet in MARKET_BULLETS:
        document.add_paragraph(bullet, style="List Bullet")
    document.add_heading("Aktiviteter", level=2)
    table = document.add_table(rows=2 + len(MARKET_ROWS), cols=3)
    caption = table.cell(0, 0).merge(table.cell(0, 2))  # a caption row across the whole table
    caption.text = "Aktiviteter 2007 (fiktiva)"
    for c, header in enumerate(MARKET_HEADERS):
        table.cell(1, c).text = header
    for r, row in enumerate(MARKET_ROWS, start=2):
        for c, value in enumerate(row):
            if not (c == 0 and r == 3):  # the second "Annonsering" comes from the merged cell
                table.cell(r, c).text = value
    merged = table.cell(2, 0).merge(table.cell(3, 0))  # one cell over two rows
    merged.text = "Annonsering"
    document.add_paragraph("Kostnaderna ryms inom den fiktiva budgeten.")
    buffer = io.BytesIO()
    document.save(buffer)
    return buffer.getvalue()


def _member_cells() -> tuple[tuple[str, str, str, int], ...]:
    cells = []
    county = ""
    for n, (group, name) in enumerate(member_rows()):
        county = group or county
        cells.append((county, "Kommun", name, 1 if n < 34 else 2))  # 34 rows fit on page 1
    return tuple(cells)


EXPECTED: dict[str, Expected] = {
    "Bilaga 1 Fiktiva medlemmar.pdf": Expected(
        cells=_member_cells(),
        after_table=(("Medlemskapet gäller tills vidare", "Medlemskommuner i det fiktiva partnerskapet"),),
    ),
    "Bilaga 2 Fiktivt program.pdf": Expected(
        cells=tuple(
            (row[0], header, value, 3)
            for row in (*BUDGET, BUDGET_TOTAL)
            for header, value in zip(BUDGET_HEADERS[1:], row[1:], strict=True)
        ),
        items=NETWORK,
        headings=(
            ("1. Investeringsfrämjande verksamhet", 1),
            ("2. Marknadsföring", 1),
            ("2.1 Mässor", 2),
            ("3. Nätverk", 1),
            ("4. Budget 2007", 1),
            ("5. Uppföljning", 1),
        ),
        contents_pages=(1,),
        after_table=(("Budgeten följs upp av styrgruppen", "4. Budget 2007"),),
        columns=(_COLUMN_TEXT[0].split(". ")[0], _COLUMN_TEXT[1].split(". ")[0]),
    ),
    "Bilaga 3 Fiktiv marknadsplan.docx": Expected(
        cells=tuple(
            (row[0], header, value, 0)
            for row in MARKET_ROWS
            for header, value in zip(MARKET_HEADERS[1:], row[1:], strict=True)
        ),
        items=MARKET_BULLETS,
        after_table=(("Kostnaderna ryms", "Aktiviteter"),),
    ),
}

BUILDERS = {
    "Bilaga 1 Fiktiva medlemmar.pdf": members_pdf,
    "Bilaga 2 Fiktivt program.pdf": programme_pdf,
    "Bilaga 3 Fiktiv marknadsplan.docx": market_docx,
}


def write_fixtures(folder: Path) -> list[Path]:
    """Write the three fictional appendices into ``folder`` and return their paths."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, build in BUILDERS.items():
        path = folder / name
        path.write_bytes(build())
        paths.append(path)
    return paths
