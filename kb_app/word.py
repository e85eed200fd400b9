"""Word (.docx) reading with python-docx: headings, lists and tables in document order."""

from __future__ import annotations

import io
import re
import zipfile

from docx.opc.exceptions import PackageNotFoundError
from lxml.etree import LxmlError

from kb_app.blocks import BlockBuilder, clean_text
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
    from docx.table import Table
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
            rows = [
                " | ".join(clean_text(cell.text).replace("\n", " ") for cell in row.cells)
                for row in Table(element, document).rows
            ]
            builder.block("table", "\n".join(r for r in rows if r.strip(" |")))
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
