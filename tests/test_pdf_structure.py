"""Headings and contents pages in the shared PDFs: the layouts pypdf gives us that are easy to misread."""

from __future__ import annotations

import re
from functools import cache

import pytest

from kb_app.documents import read_document
from kb_app.models import Document
from kb_app.pdf import _DIVISION, _contents_run, _follows, _starts_item, _strip_headers_footers, _wrapped_heading

from .conftest import PDF_DIR


@cache
def _pdf(name: str) -> Document:
    return read_document(PDF_DIR / name, PDF_DIR, {}, max_bytes=50_000_000)


def _headings(document: Document) -> list[str]:
    return [b.text for b in document.blocks if b.kind == "heading"]


def _block_starting(document: Document, start: str):  # type: ignore[no-untyped-def]
    return next(b for b in document.blocks if b.kind != "heading" and b.text.startswith(start))


def test_numbered_heading_wrapped_over_lines_is_one_heading() -> None:
    prop = _pdf("prop_2012-13_187_vissa_skolfragor.pdf")
    title = "4 Lärare och förskollärare med lång yrkeserfarenhet i skolväsendet – särskilda behörighetskrav för"
    title += " undervisning"
    assert title in _headings(prop)
    assert _block_starting(prop, "Regeringens förslag: Bemyndigandet för regeringen").section[-1] == title
    assert "2.1 Förslag till lag om ändring i skollagen (2010:800)" in _headings(prop)
    # a blank line may follow a wrapped heading
    title = "16.2 Förslaget till lag om ändring i lagen (2010:801) om införande av skollagen (2010:800)"
    assert title in _headings(prop)


def test_appendix_label_is_a_heading_and_its_running_header_is_dropped() -> None:
    prop = _pdf("prop_2012-13_187_vissa_skolfragor.pdf")
    appendix = _block_starting(prop, "Fritidspedagogers, speciallärares och specialpedagoger behörighet")
    assert appendix.section[-1] == "Sammanfattning av promemorian" and appendix.page == 49
    assert "Bilaga 1" in _headings(prop)
    # the label repeated at the top of the appendix's later pages is no heading and no text
    assert _block_starting(prop, "Speciallärare och specialpedagoger enligt ovan").section[-1] != "Bilaga 1"
    body = [b for b in prop.blocks if b.kind != "heading" and (b.page or 0) >= 49]
    assert not [b.text for b in body if re.match(r"Bilaga \d ", b.text)]


def test_a_lead_in_to_a_list_is_no_heading() -> None:
    nfs = _pdf("nfs_2007_10_inventering_stora_rovdjur.pdf")
    assert "Lyckad häckning av kungsörn ska bedömas om" not in _headings(nfs)
    lead_in = _block_starting(nfs, "Lyckad häckning av kungsörn ska bedömas om")
    assert lead_in.section[-1] == "Kriterier för att fastställa en häckning"


def test_heading_after_a_short_line_without_full_stop() -> None:
    directive = _pdf("dir_2016_15_dataskyddsforordningen.pdf")
    assert "Sammanfattning" in _headings(directive)
    summary = _block_starting(directive, "Inom kort förväntas EU besluta")
    assert summary.section == ("Sammanfattning",)
    assert _block_starting(directive, "Beslut vid regeringssammanträde").text.endswith("2016")


def test_contents_page_without_dot_leaders_is_contents() -> None:
    afs = _pdf("afs_2011_19_kemiska_arbetsmiljorisker.pdf")
    entry = re.compile(r"[^\W\d_] \d{1,2}\b")
    early = [b for b in afs.blocks if (b.page or 0) <= 3 and b.kind in ("paragraph", "list")]
    assert not [b.text for b in early if len(entry.findall(b.text)) >= 3]
    contents = "\n".join(b.text for b in afs.blocks if b.kind == "contents")
    assert "Reach-förordningen 4\nDefinitioner 4" in contents
    # an entry wrapped over two lines is one entry
    assert "Prioritetsordning vid val av åtgärder för att ytterligare begränsa riskerna (åtgärdstrappa) 8" in contents


def test_headings_nest() -> None:
    prop = _pdf("prop_2012-13_187_vissa_skolfragor.pdf")
    # an unnumbered heading sits under the numbered section, a subtitle under its title
    reasons = _block_starting(prop, "Regeringens förslag: Den övergångsperiod som gäller")
    assert reasons.section[0] == "6 Förlängning av övergångsperioden"
    under = [
        b.section for b in prop.blocks if b.kind == "heading" and b.text == "Övergångsperioden och behörighetsläget"
    ]
    assert under == [("6 Förlängning av övergångsperioden", "Skälen för regeringens förslag")]
    # an appendix opening a page closes the numbered sections
    appendix = _block_starting(prop, "Fritidspedagogers, speciallärares och specialpedagoger behörighet")
    assert appendix.section == ("Bilaga 1", "Sammanfattning av promemorian")
    nfs = _pdf("nfs_2007_10_inventering_stora_rovdjur.pdf")
    visits = _block_starting(nfs, "• Tidigare kända revir/boplatser ska besökas")
    # a subtitle sits one level below its title, not on a ladder of every heading before it
    assert visits.section == ("Bilaga 1", "Metoder för inventering av kungsörn", "Häckning")
    # a label with a number inside a page ("Punkt 2") is an ordinary heading: it does not hold the rest
    afs = _pdf("afs_2011_19_kemiska_arbetsmiljorisker.pdf")
    later = [b.section for b in afs.blocks if b.kind == "heading" and b.text == "Läkarundersökningar"]
    assert later and all("Punkt 2" not in section for section in later)


@pytest.mark.parametrize(
    ("lines", "page", "pages", "entries"),
    [
        (["Inledning 3", "Bakgrund och syfte 4", "Metod 4", "Resultat 7"], 2, 40, 4),
        (["Ett långt kapitel om saker som", "fortsätter på raden efter 3", "Metod 5", "Slut 9"], 2, 40, 3),
        # a wrapped entry goes on in lower case; a title above the entries is not joined to them
        (["Del ett av rapporten", "Inledning 3", "Bakgrund 4", "Metod 5"], 2, 40, 0),
        # page numbers going down are no contents (a list of counts, say)
        (["Stockholm 12", "Solna 8", "Täby 5"], 2, 40, 0),
        # numbers beyond the document, or a page past its first tenth: counts in a list, not contents
        (["Solna 5", "Täby 12", "Vallentuna 20"], 1, 3, 0),
        (["Solna 5", "Täby 12", "Vallentuna 20"], 30, 100, 0),
        # two entries are too few, and a sentence is never an entry
        (["Inledning 3", "Bakgrund 4"], 2, 40, 0),
        (["Avgiften är 10.", "Den betalas senast dag 20", "Den höjs år 30"], 2, 40, 0),
    ],
)
def test_contents_run(lines: list[str], page: int, pages: int, entries: int) -> None:
    assert len(_contents_run(list(lines), 0, page, pages)) == entries


def test_a_heading_may_end_in_a_preposition_when_no_list_follows() -> None:
    afs = _pdf("afs_2011_19_kemiska_arbetsmiljorisker.pdf")
    assert "Vilka föreskrifterna riktar sig till" in _headings(afs)
    assert _block_starting(afs, "2 § Arbetsgivaren").section[-1] == "Vilka föreskrifterna riktar sig till"


def test_only_a_division_label_repeated_at_the_top_is_a_running_header() -> None:
    pages = [
        ["Bilaga 1", "Allmänna råd", "Beslutet får överklagas.", "Text på första sidan."],
        ["Bilaga 1", "Allmänna råd", "Beslutet får överklagas.", "Text på andra sidan."],
    ]
    kept = _strip_headers_footers(pages, ["1", "2"])
    assert kept[0] == pages[0]
    assert kept[1] == pages[1][1:]


def test_heading_numbers_follow_each_other() -> None:
    assert _follows((2,), (3,)) and _follows((2,), (2, 1)) and _follows((2, 1), (2, 2)) and _follows((2, 1), (3,))
    assert _follows((2,), (4,))  # one heading missed
    assert not _follows((2,), (2,)) and not _follows((7,), (2,)) and not _follows((2, 1), (2, 4))


@pytest.mark.parametrize(
    ("line", "division"),
    [("Bilaga 1", True), ("Kapitel 3", True), ("Bilaga A", True), ("Tabell 3", False), ("Etapp 2", False)],
)
def test_division_labels(line: str, division: bool) -> None:
    assert bool(_DIVISION.match(line)) == division


@pytest.mark.parametrize(
    ("lines", "used"),
    [
        (["3 Den fiktiva styrgruppens", "arbete under året", "Styrgruppen möts varje månad."], 2),
        (["2.1 Förslag till lag om ändring i", "(2099:1) om påhittade saker", "Härigenom föreskrivs"], 2),
        # a footnote ends with a full stop; a number and a lower-case word is running text
        (["1 Senaste lydelse 2099:1 och", "ändrad senare.", "Nästa stycke"], 0),
        (["8 läsår eller motsvarande tid", "under de senaste åren", "Det bör gälla"], 0),
        # a numbered heading on one line is left to the line-by-line rules
        (["5 Konsekvenser", "Förslaget kostar inget."], 0),
        # the next line must start a new sentence
        (["3 Den fiktiva styrgruppens", "arbete under året", "och mer text"], 0),
        # a full stop after the number, or an open end, marks a list item
        (["1. Byggnader som är klassade i plan eller", "bevarandeprogram = bygglov", "2. Att måla"], 0),
        (["3 Den fiktiva styrgruppen ska", "arbeta med", "Mer text"], 0),
    ],
)
def test_wrapped_heading(lines: list[str], used: int) -> None:
    assert _wrapped_heading(list(lines), 0, 70) == used


def test_wrapped_heading_number_must_follow_the_last_heading() -> None:
    item = ["2 Lärare som undervisar i", "modersmål (hemspråk)", "Nästa rad."]
    assert _wrapped_heading(item, 0, 70, (2, 1)) == 0
    assert _wrapped_heading(item, 0, 70, (1,)) == 2


def _read_lines(lines: list[str], pages: int = 30) -> list[tuple[str, str]]:
    from kb_app.blocks import BlockBuilder
    from kb_app.pdf import _Reader

    reader = _Reader(BlockBuilder(), [str(n) for n in range(1, pages + 1)], 70)
    reader.page(1, list(lines))
    reader.finish()
    return [(b.kind, b.text) for b in reader.builder.blocks()]


def test_contents_lines_need_a_contents_heading() -> None:
    addresses = ["Fastigheter som berörs av beslutet.", "Ängen 1", "Ängen 2", "Ängen 3", "Beslutet gäller i dag."]
    assert "contents" not in [kind for kind, _ in _read_lines(addresses)]
    contents = ["Innehåll", "Inledning 2", "Metod 3", "Resultat 5", "", "Text på sidan."]
    assert ("contents", "Inledning 2\nMetod 3\nResultat 5") in _read_lines(contents)


def test_a_numbered_list_starts_its_own_paragraphs() -> None:
    afs = _pdf("afs_2011_19_kemiska_arbetsmiljorisker.pdf")
    lead_in = _block_starting(afs, "50 § När nedan uppräknade ämnen")
    assert lead_in.text.endswith("ska riskbedömningen alltid innefatta mätningar av ämnena i andningszonen.")
    assert _block_starting(afs, "1. Bly och oorganiska blyföreningar").text == "1. Bly och oorganiska blyföreningar."
    # items in lower case that end with a comma: each number after the last opens the next item
    nfs = _pdf("nfs_2007_10_inventering_stora_rovdjur.pdf")
    first = _block_starting(nfs, "1. om föryngring av arterna")
    assert first.text == "1. om föryngring av arterna förekommer samt antal föryngringar,"
    assert _block_starting(nfs, "2. om arterna uppträder regelbundet").text.endswith("(om föryngring inte förekommer),")
    # a "1." that only wraps a reference ("i bilaga" / "1. (NFS 2014:23)") opens no item
    assert not [b for b in nfs.blocks if b.text.startswith("1. (NFS")]
    # a lead-in that stops mid-sentence keeps its items: the provision is one sentence
    prop = _pdf("prop_2012-13_187_vissa_skolfragor.pdf")
    provision = _block_starting(prop, "16 § Statens skolverk ska efter ansökan meddela legitimation")
    assert "förskollärare som 1. har behörighetsgivande examen," in provision.text


def test_a_short_item_that_goes_on_a_list_is_no_heading() -> None:
    guide = _pdf("helsingborg_bygglov_samsynsguiden_2023-10-10.pdf")
    assert not [title for title in _headings(guide) if title.startswith("3. Om det är reklambudskap")]
    item = _block_starting(guide, "3. Om det är reklambudskap")
    assert item.section == _block_starting(guide, "2. Att måla direkt på tegelfasader").section


def test_an_amendment_note_wrapped_over_two_lines_ends_the_paragraph() -> None:
    nfs = _pdf("nfs_2007_10_inventering_stora_rovdjur.pdf")
    # "… synonymt med föryngring. (NFS" / "2014:23)": the next term is a paragraph of its own
    definition = _block_starting(nfs, "Spår av lodjurshona med unge/ungar")
    assert definition.text.endswith("Termen kan användas synonymt med föryngring. (NFS 2014:23)")
    assert _block_starting(nfs, "Familjegrupp varg").text == "Familjegrupp varg (NFS 2014:23)"


@pytest.mark.parametrize(
    ("line", "first", "prev", "starts"),
    [
        ("1. Bly och oorganiska blyföreningar.", "50 § När …", "… ämnena i andningszonen.", True),
        ("1. om föryngring av arterna", "3 § Under inventeringsperioden", "och sameby fastställas:", True),
        ("1. har behörighetsgivande examen,", "16 § Statens skolverk …", "förskollärare som", False),
        ("2. om arterna uppträder regelbundet", "1. om föryngring av arterna förekommer", "…,", True),
        ("3. om arterna uppträder tillfälligt", "1. om föryngring av arterna förekommer", "…,", False),
        ("1. (NFS 2014:23)", "metodiken för kungsörn i bilaga", "i bilaga", False),
        ("2 § Länsstyrelsen ska", "1. om föryngring", "…,", False),
    ],
)
def test_starts_item(line: str, first: str, prev: str, starts: bool) -> None:
    assert _starts_item(line, first, prev) is starts
