"""Word (.docx) reading with python-docx: headings, lists and tables in document order."""

from __future__ import annotations

import io
import re
import zipfile

from kb_app.blocks import BlockBuilder, clean_text
from kb_app.errors import CorpusError

_HEADING_STYLE = re.compile(r"^(heading|rubrik)\s*(\d)?$", re.IGNORECASE)


def parse_docx(data: bytes, doc_id: str) -> BlockBuilder:
    """Parse .docx bytes into blocks; consecutive list paragraphs form one list block.

    Raises:
        CorpusError: the file is not a readable Word document.
    """
    import docx
    from docx.table import Table
    from docx.text.paragraph import Paragraph

    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise CorpusError(f"{doc_id}: Word-filen är skadad eller inte en .docx-fil ({exc}).") from exc
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
