"""PDF reading with pypdf: pages, page labels, header/footer removal, de-hyphenation, paragraphs."""

from __future__ import annotations

import io
import logging
import re
from collections import Counter
from typing import TYPE_CHECKING

from kb_app.blocks import BlockBuilder, clean_text, table_rows
from kb_app.errors import CorpusError
from kb_app.pdf_tables import Table, carry_on, clean_layout, continues, find_tables, splice

if TYPE_CHECKING:
    from pypdf import PageObject

_HEAD_LINES = 4
_FOOT_LINES = 3
_KEEP_HYPHEN_BEFORE = {"och", "eller", "samt", "respektive", "resp", "till", "som", "men", "utan", "el"}
_BULLET = re.compile(r"^(?:[•▪◦●■\-–*]|\(?[a-zåäö0-9]{1,3}\))\s+")
_NUMBERED_HEADING = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+\S")
_NUMBERED_ITEM = re.compile(r"^(\d{1,2})\.\s+[^\W\d_]")  # "1. Bly och oorganiska blyföreningar.", "2. om arterna …"
_NUMBERED_TITLE = re.compile(r"^\d{1,2}(?:\.\d{1,2}){0,3}\.?\s+[A-ZÅÄÖ]")
# a division of a document: the word for an appendix, chapter or part and its number ("Bilaga 1");
# a caption ("Tabell 3") or an item carried over ("Etapp 2") is none
_DIVISION = re.compile(
    r"^(?:Bilaga|Bil\.|Kapitel|Kap\.|Del|Avdelning|Appendix|Annex|Chapter|Part)\s+(?:\d{1,3}|[A-Z]|[IVX]+)$"
)
# the heading of a contents page
_CONTENTS_HEADING = re.compile(r"^(?:innehåll|innehållsförteckning|contents|table of contents)\b", re.I)
_TOC_LINE = re.compile(r"(\.{4,}|…{2,})\s*\d+\s*$|\s\d{1,3}$")
# a contents entry without dot leaders: a title ending in a word, then its page number
_PAGE_REFERENCE = re.compile(r"[^\W\d_]\)?\s+(\d{1,3})$")
# a line ending in a preposition or conjunction before a list leads into it ("… bedömas om"); a
# heading may end so ("Vilka föreskrifterna riktar sig till")
_OPEN_END = re.compile(r"\b(?:om|att|av|för|till|med|i|på|som|och|eller|samt|från|vid|enligt|när|där|då)$", re.I)
# what follows a lead-in: a list item, or the sentence going on ("33 § första stycket …", "i …"),
# not a new provision ("2 § Arbetsgivaren …")
_CONTINUES = re.compile(r"^(?:[•▪◦●■\-–*\uf0b7]\s|\d{1,2}[.)]\s|[a-zåäö]\)\s|\d+\s*(?:§\s*)?[a-zåäö]|[a-zåäö])")
_DOT_LEADER_LINE = re.compile(r"(?:\.\s*){4,}\s*\d{0,4}\s*$|…{2,}")
_END_OF_SENTENCE = re.compile(r"[.!?:;]\)?$|\(\w+ \d{4}:\d+\)$")


def parse_pdf(data: bytes, doc_id: str) -> tuple[BlockBuilder, None, int]:
    """Parse PDF bytes into blocks with 1-based pages and printed page labels.

    Tables become table blocks whose rows keep their headers (kb_app.pdf_tables), a run of short
    name lines becomes a list, numbered list items ("1. Bly …") paragraphs of their own, numbered and
    all-caps lines headings, and contents lines
    with dot leaders become a contents block that answers never quote.

    Raises:
        CorpusError: not a PDF, corrupt, encrypted with a password, no pages or no text layer.
    """
    pages, layouts, labels = _page_texts(data, doc_id)
    raw = [
        splice(clean_text(t).split("\n"), _tables(layout, n))
        for n, (t, layout) in enumerate(zip(pages, layouts, strict=True), 1)
    ]
    pages_lines = _strip_headers_footers(raw, labels)
    reader = _Reader(BlockBuilder(), labels, _typical_line_length(pages_lines))
    for number, lines in enumerate(pages_lines, start=1):
        reader.page(number, lines)
    reader.finish()
    return reader.builder, None, len(pages)


def _tables(layout: str, page: int) -> list[Table]:
    tables = find_tables(clean_layout(layout))
    for table in tables:
        table.page = table.page_end = page
    return tables


class _Reader:
    """Turns the lines and tables of each page into blocks, keeping a paragraph open across pages."""

    def __init__(self, builder: BlockBuilder, labels: list[str], typical: int) -> None:
        self.builder, self.labels, self.typical = builder, labels, typical
        self.paragraph: list[tuple[str, int]] = []  # (line, page)
        self.contents: list[tuple[str, int]] = []
        self.table: Table | None = None  # the last table, open while nothing follows it
        self.number: tuple[int, ...] = ()  # the last heading number (its length is its level)
        self.contents_page = -1  # the last page that had contents lines
        self.top = True

    def page(self, number: int, lines: list[str | Table]) -> None:
        k = 0
        self.top = True  # nothing read on this page yet
        while k < len(lines):
            line = lines[k]
            if k and lines[k - 1]:
                self.top = False
            if isinstance(line, Table) and line.is_contents():
                rows = [" ".join(row) for row in [line.header, *line.rows]]
                if self._unfinished(2):  # an entry's wrapped beginning
                    rows[0] = _join_lines([*(text for text, _ in self.paragraph), rows[0]])
                    self.paragraph.clear()
                self.flush()
                self.contents.extend((row, number) for row in rows)
            elif isinstance(line, Table):
                self.add_table(line, first=not any(isinstance(x, str) and x for x in lines[:k]))
            elif not line:
                self.flush_paragraph()  # an open table may still run on over the page break
            elif _DOT_LEADER_LINE.search(line):
                self.contents_line(line, number)
            elif self._in_contents(number) and (entries := _contents_run(lines, k, number, len(self.labels))):
                self.flush_paragraph()
                self.contents.extend((entry, number) for entry, _ in entries)
                k += sum(used for _, used in entries)
                continue
            elif (
                (used := _wrapped_heading(lines, k, self.typical, self.number))
                and not self._leads_in()
                and not self._next_item(str(line))
            ):
                self.heading(_join_lines([str(x) for x in lines[k : k + used]]), number)
                k += used
                continue
            else:
                run = _name_run(lines, k, self.paragraph)
                if run:
                    self.flush()
                    names = [str(n) for n in lines[k : k + run]]
                    self.builder.block(
                        "list",
                        "\n".join(f"- {n}" for n in names),
                        items=tuple(names),
                        page=number,
                        page_label=self.labels[number - 1],
                    )
                    k += run
                    continue
                nxt = lines[k + 1] if k + 1 < len(lines) else ""
                self.line(line, number, nxt if isinstance(nxt, str) else "")
            k += 1

    def line(self, line: str, number: int, nxt: str) -> None:
        prev = self.paragraph[-1][0] if self.paragraph else ""
        # a lone short line without a full stop ("Beslut vid regeringssammanträdet den 25 februari 2016")
        # has ended its paragraph, so a heading may follow it
        lone = len(self.paragraph) == 1 and len(prev) < 0.85 * self.typical
        # a division label opening a page ("Bilaga 1") is a heading, not a contents line
        division = self.top and bool(_DIVISION.match(line))
        open_paragraph = bool(self.paragraph) and not lone
        if not self._next_item(line) and (
            division or _is_heading(line, prev, nxt, self.typical, paragraph_open=open_paragraph)
        ):
            self.heading(line, number)
            return
        if self.paragraph and (_BULLET.match(line) or _ends_paragraph(self.paragraph, self.typical)):
            self.flush()
        elif self.paragraph and _starts_item(line, self.paragraph[0][0], prev):
            self.flush()
        self.flush_table_and_contents()
        self.paragraph.append((line, number))

    def heading(self, title: str, number: int) -> None:
        """Open a heading. A numbered one takes its level from its numbering, a division opening a
        page ("Bilaga 1") closes every section and starts the numbering afresh; any other sits under
        the last numbered heading, and under the heading just before it when nothing came between
        them (a title and its subtitle: "Bilaga 1" / "Sammanfattning av promemorian")."""
        self.flush()
        numbering = _heading_number(title) if _NUMBERED_TITLE.match(title) else ()
        above = self.builder.open_heading
        if numbering:
            self.number = numbering
            level: float = len(numbering)
        elif _DIVISION.match(title) and self.top:  # "Bilaga 1", "Kapitel 3" opening a page: above every section
            self.number = ()
            level = 0
        elif above is not None:  # a subtitle, one level below (not a ladder of consecutive headings)
            level = min(above + 1, len(self.number) + 2)
        else:
            level = len(self.number) + 1
        self.builder.heading(title, level, page=number, page_label=self.labels[number - 1])

    def _in_contents(self, page: int) -> bool:
        """True under a contents heading, or on a page of or after one with contents lines."""
        if any(_CONTENTS_HEADING.match(title) for title in self.builder.section):
            return True
        return bool(self.contents) or self.contents_page >= page - 1

    def _next_item(self, line: str) -> bool:
        """True when ``line`` is the item after the one the open paragraph began with ("2. Att måla …" /
        "3. Om det är reklambudskap …"): a list goes on, however short its items (no heading)."""
        return bool(self.paragraph) and _next_number(line, self.paragraph[0][0])

    def _leads_in(self) -> bool:
        """True when the open paragraph stops without a sentence end or with a colon (a list follows)."""
        return self._unfinished(len(self.paragraph)) or bool(self.paragraph and self.paragraph[-1][0].endswith(":"))

    def _unfinished(self, most: int) -> bool:
        """True when an open paragraph of at most ``most`` lines stops without a sentence end."""
        return 0 < len(self.paragraph) <= most and not _END_OF_SENTENCE.search(self.paragraph[-1][0])

    def contents_line(self, line: str, number: int) -> None:
        """A contents entry; the open lines without a sentence end are its wrapped beginning."""
        if self._unfinished(3):
            line = " ".join([*(text for text, _ in self.paragraph), line])
            self.paragraph.clear()
        self.flush_paragraph()
        if self.table is not None:
            self.flush_table_and_contents()
        self.contents.append((line, number))

    def add_table(self, table: Table, *, first: bool) -> None:
        if first and not self.paragraph and self.table is not None and continues(self.table, table):
            carry_on(self.table, table)  # the table runs on over a page break: one block per page
        self.flush()
        self.table = table

    def flush(self) -> None:
        """Close the open paragraph, contents block and table, in the order they came."""
        self.flush_paragraph()
        self.flush_table_and_contents()

    def flush_paragraph(self) -> None:
        if self.paragraph:
            first, last = self.paragraph[0][1], self.paragraph[-1][1]
            text = _join_lines([line for line, _ in self.paragraph])
            kind = "list" if _BULLET.match(self.paragraph[0][0]) else "paragraph"
            self.builder.block(kind, text, page=first, page_end=last, page_label=self.labels[first - 1])
            self.paragraph.clear()

    def flush_table_and_contents(self) -> None:
        if self.contents:
            first, last = self.contents[0][1], self.contents[-1][1]
            self.contents_page = max(self.contents_page, last)
            lines = tuple(line for line, _ in self.contents)
            self.builder.block(
                "contents", "\n".join(lines), items=lines, page=first, page_end=last, page_label=self.labels[first - 1]
            )
            self.contents.clear()
        if self.table is not None:
            table, self.table = self.table, None
            rows = table_rows(table.header, table.rows, carry=table.carry)
            self.builder.block(
                "table",
                "\n".join(rows),
                items=tuple(rows),
                page=table.page,
                page_end=table.page_end,
                page_label=self.labels[table.page - 1],
            )

    def finish(self) -> None:
        self.flush()


def _name_run(lines: list[str | Table], k: int, paragraph: list[tuple[str, int]]) -> int:
    """Length of the run of at least three short name lines starting at ``k`` (a list), else 0."""
    if paragraph and not paragraph[-1][0].endswith(":"):
        return 0
    run = 0
    while k + run < len(lines) and _is_name(lines[k + run]):
        run += 1
    return run if run >= 3 else 0


def _contents_run(lines: list[str | Table], k: int, page: int, pages: int) -> list[tuple[str, int]]:
    """The contents entries starting at ``k`` as (entry, lines it took): on a page in the first tenth of
    the document, three or more lines ending in non-decreasing numbers of pages from this one to its
    last, an entry wrapped onto a line in lower case joined; [] where none starts."""
    entries: list[tuple[str, int]] = []
    last = page
    if page > max(3, pages // 10):
        return []
    while k < len(lines):
        first, nxt = lines[k], lines[k + 1] if k + 1 < len(lines) else ""
        if not isinstance(first, str) or not first or _DOT_LEADER_LINE.search(first):
            break
        parts = [first] if _PAGE_REFERENCE.search(first) else [first, nxt]
        end = parts[-1]
        if not isinstance(end, str) or _END_OF_SENTENCE.search(first) or len(first) > 120:
            break
        if len(parts) == 2 and not end[:1].islower():
            break
        number = _PAGE_REFERENCE.search(end)
        if number is None or not last <= int(number.group(1)) <= pages:
            break
        last = int(number.group(1))
        entries.append((_join_lines([str(p) for p in parts]), len(parts)))
        k += len(parts)
    return entries if len(entries) >= 3 else []


def _wrapped_heading(lines: list[str | Table], k: int, typical: int, previous: tuple[int, ...] = ()) -> int:
    """How many lines a numbered heading wrapped over several lines takes ("4 Lärare med lång" /
    "yrkeserfarenhet i skolväsendet"), or 0: its number follows ``previous``, the last heading number
    (a list item numbered without a full stop does not), the lines after the first start in lower
    case or with a parenthesis, and the line after the heading starts a new sentence."""
    first = lines[k]
    if not isinstance(first, str) or not _NUMBERED_TITLE.match(first) or len(first) > typical:
        return 0
    if previous and not _follows(previous, _heading_number(first)):
        return 0
    used = 1
    while used < 4 and k + used < len(lines):
        line = lines[k + used]
        if not isinstance(line, str) or not line or not (line[0].islower() or line[0] in "(–"):
            break
        used += 1
    after = next((x for x in lines[k + used :] if x), "")  # blank lines may follow the heading
    title = _join_lines([str(x) for x in lines[k : k + used]])
    if used == 1 or not isinstance(after, str) or not after[:1].isupper() and not after[:1].isdigit():
        return 0
    # a full stop after the number ("1. Byggnader som …") marks a list item more often than a heading
    if len(title) > 160 or "§" in title or re.search(r"[.!?:;,]$|[.!?:;]\s", title) or _OPEN_END.search(title):
        return 0
    return used


def _heading_number(title: str) -> tuple[int, ...]:
    numbering = _NUMBERED_HEADING.match(title)
    return tuple(int(n) for n in re.findall(r"\d+", numbering.group(1))) if numbering else ()


def _follows(previous: tuple[int, ...], number: tuple[int, ...]) -> bool:
    """True when ``number`` can come next after ``previous``: the next at some level (2.1 -> 2.2, 3), or
    the one after it when a heading was missed (2.1 -> 2.3, 4), or the first below it (2 -> 2.1)."""
    nexts = [(*previous[:i], previous[i] + step) for i in range(len(previous)) for step in (1, 2)]
    return number in [*nexts, (*previous, 1)]


def _is_name(line: str | Table) -> bool:
    if not isinstance(line, str) or not line or len(line) > 40 or len(line.split()) > 4:
        return False
    if _NUMBERED_HEADING.match(line) or _BULLET.match(line) or _DOT_LEADER_LINE.search(line):
        return False
    return line[0].isupper() and not re.search(r"[.!?:;,]$|\d", line)


def _page_texts(data: bytes, doc_id: str) -> tuple[list[str], list[str], list[str]]:
    """Plain text, layout text (columns kept, for tables) and printed label of every page."""
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, LimitReachedError, PdfReadError, PdfStreamError, PyPdfError

    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise CorpusError(f"{doc_id}: filen heter .pdf men är ingen PDF.")
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise CorpusError(f"{doc_id}: PDF-filen är lösenordsskyddad. Spara en version utan lösenord.")
        texts = [page.extract_text() or "" for page in reader.pages]
        layouts = [_layout_text(page) if text.strip() else "" for page, text in zip(reader.pages, texts, strict=True)]
        labels = list(reader.page_labels)
    except FileNotDecryptedError as exc:
        raise CorpusError(f"{doc_id}: PDF-filen är lösenordsskyddad. Spara en version utan lösenord.") from exc
    except LimitReachedError as exc:  # pypdf caps every decompressed stream (75 MB by default)
        raise CorpusError(
            f"{doc_id}: PDF-filen innehåller data som packas upp till orimligt mycket ({exc}). Filen hoppas över."
        ) from exc
    except (PdfReadError, PdfStreamError, PyPdfError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise CorpusError(f"{doc_id}: PDF-filen är skadad eller ofullständig ({exc}).") from exc
    if not texts:
        raise CorpusError(f"{doc_id}: PDF-filen har inga sidor.")
    if not any(t.strip() for t in texts):
        raise CorpusError(
            f"{doc_id}: PDF-filen saknar textlager (troligen skannad). Den behöver OCR innan den kan indexeras."
        )
    if len(labels) != len(texts):
        labels = [str(i) for i in range(1, len(texts) + 1)]
    return texts, layouts, labels


def _layout_text(page: PageObject) -> str:
    """The page in pypdf's layout mode; a page it cannot lay out simply has no tables."""
    try:
        return page.extract_text(extraction_mode="layout") or ""
    except Exception:  # noqa: BLE001 - layout mode is an extra; its failures must not stop the file
        return ""


def _key(line: str | Table) -> str:
    if isinstance(line, Table):
        return f"table-{id(line)}"  # a table is never a running header
    return re.sub(r"\d+", "#", line.lower()).replace(" ", "")


def _strip_headers_footers(pages: list[list[str | Table]], labels: list[str]) -> list[list[str | Table]]:
    """Drop lines that repeat at the top or bottom of many pages, a division label ("Bilaga 1")
    repeated at the top from one of the two pages before, and bare page numbers there."""

    def region(lines: list[str | Table], top: bool) -> list[int]:
        idx = [i for i, line in enumerate(lines) if line]
        return idx[:_HEAD_LINES] if top else idx[-_FOOT_LINES:]

    counts: dict[bool, Counter[str]] = {True: Counter(), False: Counter()}
    for lines in pages:
        for top in (True, False):
            counts[top].update({_key(lines[i]) for i in region(lines, top)})
    threshold = max(3, len(pages) // 2)
    result: list[list[str | Table]] = []
    above: list[set[str]] = [set(), set()]  # the top lines of the two pages before
    for number, lines in enumerate(pages, start=1):
        drop: set[int] = set()
        for top in (True, False):
            for i in region(lines, top):
                text = lines[i]
                if isinstance(text, Table):
                    continue
                if _is_page_number(text, number, labels) or (len(pages) >= 3 and counts[top][_key(text)] >= threshold):
                    drop.add(i)
                elif top and _DIVISION.match(text) and any(text in seen for seen in above):
                    drop.add(i)  # a division's running header ("Bilaga 1"): a heading on its first page only
        above = [above[1], {line for i in region(lines, True) if isinstance(line := lines[i], str)}]
        result.append([line for i, line in enumerate(lines) if i not in drop])
    return result


def _is_page_number(text: str, number: int, labels: list[str]) -> bool:
    if text in (str(number), labels[number - 1]):
        return True
    return bool(re.fullmatch(r"(sid(a|an)?\s*)?\d{1,4}(\s*(av|/)\s*\d{1,4})?", text.lower()))


def _starts_item(line: str, first: str, prev: str) -> bool:
    """True when ``line`` opens a numbered list item: item 1 after a finished sentence or a colon
    ("… i andningszonen." / "1. Bly och oorganiska blyföreningar."), or the item after the one the open
    paragraph began with ("1. om föryngring …," / "2. om arterna …"). A list whose lead-in stops
    mid-sentence ("… förskollärare som" / "1. har behörighetsgivande examen,") stays one sentence with
    it, so the provision is quoted whole."""
    if _item_number(line) == 1:
        return bool(_END_OF_SENTENCE.search(prev))
    return _next_number(line, first)


def _item_number(line: str) -> int | None:
    """The number of a numbered list item ("2. om arterna …" gives 2), or None."""
    item = _NUMBERED_ITEM.match(line)
    return int(item.group(1)) if item else None


def _next_number(line: str, first: str) -> bool:
    """True when ``line`` is the item numbered one after the item ``first`` ("2. …" after "1. …")."""
    number, before = _item_number(line), _item_number(first)
    return number is not None and before is not None and number == before + 1


def _typical_line_length(pages: list[list[str | Table]]) -> int:
    lengths = sorted(len(line) for lines in pages for line in lines if isinstance(line, str) and line)
    return lengths[int(len(lengths) * 0.8)] if lengths else 80


def _ends_paragraph(paragraph: list[tuple[str, int]], typical: int) -> bool:
    """True when the open paragraph's last line is short and ends a sentence; the end is read over the
    last two lines, since an amendment note may wrap ("… synonymt med föryngring. (NFS" / "2014:23)")."""
    last = paragraph[-1][0]
    tail = " ".join(line for line, _ in paragraph[-2:])
    return bool(_END_OF_SENTENCE.search(tail)) and len(last) < 0.85 * typical


def _is_heading(line: str, prev: str, nxt: str, typical: int, *, paragraph_open: bool) -> bool:
    if paragraph_open and not _END_OF_SENTENCE.search(prev):
        return False
    if not nxt or len(line) > min(90, 0.75 * typical) or len(line.split()) > 12 or len(line) < 3:
        return False
    if _END_OF_SENTENCE.search(line) or line.endswith((",", "-")) or "§" in line or _TOC_LINE.search(line):
        return False
    if _BULLET.match(line) or (_OPEN_END.search(line) and _CONTINUES.match(nxt)):
        return False
    first = line[0]
    return (first.isupper() or bool(_NUMBERED_HEADING.match(line))) and (
        nxt[0].isupper() or nxt[0].isdigit() or bool(_BULLET.match(nxt))
    )


def _join_lines(lines: list[str]) -> str:
    """Join wrapped lines; rejoin hyphenated words but keep "närings- och" style compounds."""
    out = lines[0]
    for line in lines[1:]:
        if _BULLET.match(line):
            out += "\n" + line
            continue
        word = re.match(r"[\wåäöÅÄÖ]+", line)
        if out.endswith("-") and len(out) > 1 and out[-2].isalpha() and word:
            if word.group(0).lower() in _KEEP_HYPHEN_BEFORE:
                out += " " + line
            elif out[-2].isupper() or line[0].isupper():
                out += line
            else:
                out = out[:-1] + line
        else:
            out += " " + line
    return out
