"""Word (.docx) reading with python-docx: headings, lists and tables in document order."""

from __future__ import annotations

import io
import re
import zipfile

from docx.opc.exceptions import PackageNotFoundError
from docx.table import Table
from lxml.etree import LxmlError

from kb_app.blocks import BlockBuilder, clean_text, table_rows
from kb_app.errors import CorpusError

_HEADING_STYLE = re.compile(r"^(heading|rubrik)\s*(\d)?$", re.IGNORECASE)


# A .docx is a zip of XML: its unpacked size is checked before parsing, so a small file that
# unpacks to gigabytes (a zip bomb) is refused instead of filling the memory.
MAX_UNPACKED_BYTES = 200_000_000
MAX_RATIO = 100  # unpacked / packed; ordinary Word files stay far below


def check_unpacked_size(data: bytes, doc_id: str, limit: int = MAX_UNPACKED_BYTES) -> None:
    """Refuse a zip whose members would unpack to more than ``limit`` bytes or an implausible ratio.

    Raises:
        CorpusError: the file is not a zip, or it unpacks too large.
    """
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            unpacked = sum(member.file_size for member in archive.infolist())
    except (zipfile.BadZipFile, OSError, ValueError) as exc:
        raise CorpusError(f"{doc_id}: Word-filen är skadad eller inte en .docx-fil ({exc}).") from exc
    if unpacked > limit or unpacked > MAX_RATIO * max(len(data), 1_000_000):
        raise CorpusError(
            f"{doc_id}: Word-filen packas upp till {unpacked / 1e6:.0f} MB, vilket är orimligt mycket "
            f"(gränsen är {limit / 1e6:.0f} MB). Filen hoppas över."
        )


def parse_docx(data: bytes, doc_id: str) -> BlockBuilder:
    """Parse .docx bytes into blocks; consecutive list paragraphs form one list block.

    Raises:
        CorpusError: the file is not a readable Word document, or it unpacks too large.
    """
    check_unpacked_size(data, doc_id)
    try:
        return _parse(data)
    except (zipfile.BadZipFile, KeyError, ValueError, AttributeError, LxmlError, PackageNotFoundError) as exc:
        # python-docx raises these for damaged packages and XML; lxml's whole family is LxmlError
        raise CorpusError(f"{doc_id}: Word-filen är skadad eller inte en .docx-fil ({exc}).") from exc


def _parse(data: bytes) -> BlockBuilder:
    import docx
    from docx.text.paragraph import Paragraph

    document = docx.Document(io.BytesIO(data))
    builder = BlockBuilder()
    items: list[str] = []

    def flush_list() -> None:
        if items:
            builder.block("list", "\n".join(f"- {it}" for it in items), items=tuple(items))
            items.clear()

    for element in document.element.body.iterchildren():
        tag = element.tag.rsplit("}", 1)[-1]
        if tag == "tbl":
            flush_list()
            rows = _table_rows(Table(element, document))
            builder.block("table", "\n".join(rows), items=tuple(rows))
            continue
        if tag != "p":
            continue
        paragraph = Paragraph(element, document)
        text = clean_text(paragraph.text).strip()
        if not text:
            continue
        style = (paragraph.style.name if paragraph.style is not None else "") or ""
        heading = _HEADING_STYLE.match(style)
        if heading or style.lower() in ("title", "rubrik"):
            flush_list()
            builder.heading(text, int(heading.group(2) or 1) if heading else 1)
        elif (
            "list" in style.lower()
            or "lista" in style.lower()
            or element.pPr is not None
            and element.pPr.numPr is not None
        ):
            items.append(" ".join(text.split()))
        else:
            flush_list()
            builder.block("paragraph", text)
    flush_list()
    return builder


def _table_rows(table: Table) -> list[str]:
    """The table's data rows with their headers (kb_app.blocks.table_rows); merged cells count once."""
    grid = []
    for row in table.rows:
        cells, seen = [], None
        for cell in row.cells:
            if cell._tc is not seen:  # a horizontally merged cell repeats across its grid columns
                cells.append(" ".join(clean_text(cell.text).split()))
            seen = cell._tc
        grid.append(cells)
    grid = [row for row in grid if any(row)]
    caption = [" ".join(grid.pop(0))] if len(grid) > 2 and len(grid[0]) == 1 < len(grid[1]) else []
    if len(grid) < 2:
        return caption + [" | ".join(c for c in row if c) for row in grid]
    return caption + table_rows(grid[0], grid[1:])
