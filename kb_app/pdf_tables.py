"""Tables in PDF pages, found from pypdf's layout text, which keeps column positions.

pypdf's plain text gives a table cell by cell, one per line, with nothing to tell rows and columns
apart. Its layout mode pads the text with spaces so columns line up. ``find_tables`` reads the
layout lines of a page: a run of at least three lines whose cells (text separated by two or more
spaces) start at the same columns is a table. A line with a cell only in a later column is a row
whose first cell is empty (the group from the row above carries down); a short line in the first
column alone continues the label above it. Two columns of prose (a two-column page) are not a
table, nor are contents lines with dot leaders. ``splice`` then swaps the table's lines in the plain
text for the table, so everything else keeps pypdf's plain reading order.
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field

from kb_app.blocks import CONTROL, LIGATURES

_GAP = re.compile(r"\S+(?: \S+)*")  # a cell: words separated by single spaces
_DOT_LEADER = re.compile(r"(?:\.\s*){4,}|…{2,}")
_TOLERANCE = 2  # characters a cell may start off its column
_PROSE = 25  # mean characters per cell from which a column reads as running text
_MAX_CELL = 60


@dataclass
class Table:
    """A table of one page (or, after ``continues``, several): header row and data rows of cells."""

    header: list[str]
    rows: list[list[str]]
    page: int = 0
    page_end: int = 0
    anchors: list[int] = field(default_factory=list)
    carry: str = ""  # the row label carried in from the part of the table on the page before

    def is_contents(self) -> bool:
        """Titles with page numbers: a contents page set as a table, without dot leaders."""
        numbers = [row[-1] for row in [self.header, *self.rows]]
        if len(self.header) != 2 or not all(n.isdigit() for n in numbers):
            return False
        values = [int(n) for n in numbers]
        return values == sorted(values)

    def cell_text(self) -> str:
        """All cell text without whitespace, in row order (to find the table in the plain text)."""
        return "".join("".join(c.split()) for row in [self.header, *self.rows] for c in row)


def clean_layout(text: str) -> str:
    """Layout text with ligatures fixed and control characters dropped; the spaces stay."""
    text = unicodedata.normalize("NFC", text.translate(LIGATURES))
    text = CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return re.sub(r"[\t\u00a0\u2000-\u200a\u202f]", " ", text)


_MARKER = re.compile(r"^(\s*(?:[\W_]|[a-zåäö0-9]{1,2}[.)]))\s{2,}")  # a bullet, "–", "a)" or "1." before a gap


def _cells(line: str) -> list[tuple[int, str]]:
    """(column, text) of each cell; a bullet or list number stays with the text it marks."""
    line = _MARKER.sub(lambda m: m.group(1) + " ", line, count=1)
    return [(m.start(), m.group(0)) for m in _GAP.finditer(line)]


def _column(start: int, anchors: list[int]) -> int | None:
    return next((k for k, a in enumerate(anchors) if abs(start - a) <= _TOLERANCE), None)


def _row(cells: list[tuple[int, str]], anchors: list[int]) -> list[str] | None:
    """The line's cells placed in the table's columns, or None when they do not fit them."""
    row = [""] * len(anchors)
    for start, text in cells:
        k = _column(start, anchors)
        if k is None or row[k] or len(text) > _MAX_CELL:
            return None
        if k + 1 < len(anchors) and start + len(text) >= anchors[k + 1]:
            return None  # runs across the next column: running text, not a cell
        row[k] = text
    return row


def _is_prose(rows: list[list[str]]) -> bool:
    """Two or more columns of long text: a multi-column page, not a table."""
    columns = list(zip(*rows, strict=True))
    wide = 0
    for column in columns:
        filled = [c for c in column if c]
        if filled and sum(map(len, filled)) / len(filled) >= _PROSE:
            wide += 1
    return wide >= 2


def _grow(lines: list[str], i: int) -> tuple[Table | None, int]:
    """The table that starts at line ``i``, and the index after it."""
    first = _cells(lines[i])
    anchors = [start for start, _ in first]
    if len(first) < 2 or any(_DOT_LEADER.search(t) for _, t in first):
        return None, i + 1
    rows: list[list[str]] = []
    j = i
    while j < len(lines):
        if not lines[j].strip():
            if j + 1 < len(lines) and lines[j + 1].strip() and _row(_cells(lines[j + 1]), anchors):
                j += 1  # one blank line inside a table
                continue
            break
        row = _row(_cells(lines[j]), anchors)
        if row is None or _DOT_LEADER.search(lines[j]):
            break
        if rows and row[0] and not any(row[1:]) and rows[-1][0] and len(rows) > 1:
            rows[-1][0] = f"{rows[-1][0]} {row[0]}"  # a wrapped label
        else:
            rows.append(row)
        j += 1
    full = sum(1 for r in rows if sum(1 for c in r if c) >= 2)
    tabular = sum(1 for r in rows if any(r[1:]))  # the label column alone reads as running text
    if len(rows) < 3 or full < 2 or 2 * tabular < len(rows) or _is_prose(rows):
        return None, i + 1
    return Table(header=rows[0], rows=rows[1:], anchors=anchors), j


def find_tables(layout: str) -> list[Table]:
    """The tables of one page's layout text, top to bottom."""
    lines = layout.split("\n")
    tables = []
    i = 0
    while i < len(lines):
        table, i = _grow(lines, i) if lines[i].strip() else (None, i + 1)
        if table is not None:
            tables.append(table)
    return tables


def splice(lines: list[str], tables: list[Table]) -> list[str | Table]:
    """Replace the plain-text lines that spell each table, cell by cell, with the table itself.

    A table whose cells cannot be found in order in the plain text is left as plain lines.
    """
    out: list[str | Table] = list(lines)
    for table in tables:
        key = table.cell_text()
        start, end = _find(out, key)
        if start is not None:
            out[start:end] = [table]
    return out


def _find(lines: list[str | Table], key: str) -> tuple[int | None, int]:
    squeezed = ["".join(line.split()) if isinstance(line, str) else None for line in lines]
    for i, first in enumerate(squeezed):
        if not first or not key.startswith(first):
            continue
        size, j = 0, i
        while j < len(lines) and squeezed[j] is not None and size < len(key):
            piece = squeezed[j] or ""
            if not key.startswith(piece, size):
                break
            size += len(piece)
            j += 1
        if size == len(key):
            return i, j
    return None, 0


def continues(previous: Table, table: Table) -> bool:
    """True when ``table`` goes on from ``previous`` across a page break (same columns)."""
    if len(previous.header) != len(table.header):
        return False
    return table.header == previous.header or all(
        abs(a - b) <= _TOLERANCE + 1 for a, b in zip(previous.anchors, table.anchors, strict=True)
    )


def carry_on(previous: Table, table: Table) -> None:
    """Make ``table`` the next page's part of ``previous``: same header, the group label carried over.

    A repeated header row is dropped; a first row that differs from the header is data.
    """
    if table.header != previous.header:
        table.rows.insert(0, table.header)
    table.header = previous.header
    labels = [row[0] for row in previous.rows if row[0]]
    table.carry = labels[-1] if labels else previous.carry
