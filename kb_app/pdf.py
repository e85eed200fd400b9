"""PDF reading with pypdf: pages, page labels, header/footer removal, de-hyphenation, paragraphs."""

from __future__ import annotations

import io
import logging
import re
from collections import Counter

from kb_app.blocks import BlockBuilder, clean_text
from kb_app.errors import CorpusError

_HEAD_LINES = 4
_FOOT_LINES = 3
_KEEP_HYPHEN_BEFORE = {"och", "eller", "samt", "respektive", "resp", "till", "som", "men", "utan", "el"}
_BULLET = re.compile(r"^(?:[•▪◦●■\-–*]|\(?[a-zåäö0-9]{1,3}\))\s+")
_NUMBERED_HEADING = re.compile(r"^(\d{1,2}(?:\.\d{1,2}){0,3})\.?\s+\S")
_TOC_LINE = re.compile(r"(\.{4,}|…{2,})\s*\d+\s*$|\s\d{1,3}$")
_END_OF_SENTENCE = re.compile(r"[.!?:;]\)?$|\(\w+ \d{4}:\d+\)$")


def parse_pdf(data: bytes, doc_id: str) -> tuple[BlockBuilder, None, int]:
    """Parse PDF bytes into blocks with 1-based pages and printed page labels.

    Raises:
        CorpusError: not a PDF, corrupt, encrypted with a password, no pages or no text layer.
    """
    pages, labels = _page_texts(data, doc_id)
    lines_per_page = _strip_headers_footers([clean_text(t).split("\n") for t in pages], labels)
    builder = BlockBuilder()
    typical = _typical_line_length(lines_per_page)
    paragraph: list[tuple[str, int]] = []  # (line, page)

    def flush() -> None:
        if paragraph:
            first, last = paragraph[0][1], paragraph[-1][1]
            text = _join_lines([line for line, _ in paragraph])
            kind = "list" if _BULLET.match(paragraph[0][0]) else "paragraph"
            builder.block(kind, text, page=first, page_end=last, page_label=labels[first - 1])
            paragraph.clear()

    for number, lines in enumerate(lines_per_page, start=1):
        for k, line in enumerate(lines):
            if not line:
                flush()
                continue
            prev = paragraph[-1][0] if paragraph else ""
            nxt = lines[k + 1] if k + 1 < len(lines) else ""
            if _is_heading(line, prev, nxt, typical, paragraph_open=bool(paragraph)):
                flush()
                level = line.split()[0].count(".") + 1 if _NUMBERED_HEADING.match(line) else 1
                builder.heading(line, level, page=number, page_label=labels[number - 1])
                continue
            if paragraph and (_BULLET.match(line) or _ends_paragraph(prev, typical)):
                flush()
            paragraph.append((line, number))
    flush()
    return builder, None, len(pages)


def _page_texts(data: bytes, doc_id: str) -> tuple[list[str], list[str]]:
    from pypdf import PdfReader
    from pypdf.errors import FileNotDecryptedError, PdfReadError, PdfStreamError, PyPdfError

    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise CorpusError(f"{doc_id}: filen heter .pdf men är ingen PDF.")
    logging.getLogger("pypdf").setLevel(logging.ERROR)
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted and not reader.decrypt(""):
            raise CorpusError(f"{doc_id}: PDF-filen är lösenordsskyddad. Spara en version utan lösenord.")
        texts = [page.extract_text() or "" for page in reader.pages]
        labels = list(reader.page_labels)
    except FileNotDecryptedError as exc:
        raise CorpusError(f"{doc_id}: PDF-filen är lösenordsskyddad. Spara en version utan lösenord.") from exc
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
    return texts, labels


def _key(line: str) -> str:
    return re.sub(r"\d+", "#", line.lower()).replace(" ", "")


def _strip_headers_footers(pages: list[list[str]], labels: list[str]) -> list[list[str]]:
    """Drop lines that repeat at the top or bottom of many pages, and bare page numbers there."""

    def region(lines: list[str], top: bool) -> list[int]:
        idx = [i for i, line in enumerate(lines) if line]
        return idx[:_HEAD_LINES] if top else idx[-_FOOT_LINES:]

    counts: dict[bool, Counter[str]] = {True: Counter(), False: Counter()}
    for lines in pages:
        for top in (True, False):
            counts[top].update({_key(lines[i]) for i in region(lines, top)})
    threshold = max(3, len(pages) // 2)
    result: list[list[str]] = []
    for number, lines in enumerate(pages, start=1):
        drop: set[int] = set()
        for top in (True, False):
            for i in region(lines, top):
                text = lines[i]
                bare_number = text in (str(number), labels[number - 1]) or re.fullmatch(
                    r"(sid(an)?\s*)?\d{1,4}(\s*(av|/)\s*\d{1,4})?", text.lower()
                )
                if bare_number or (len(pages) >= 3 and counts[top][_key(text)] >= threshold):
                    drop.add(i)
        result.append([line for i, line in enumerate(lines) if i not in drop])
    return result


def _typical_line_length(pages: list[list[str]]) -> int:
    lengths = sorted(len(line) for lines in pages for line in lines if line)
    return lengths[int(len(lengths) * 0.8)] if lengths else 80


def _ends_paragraph(line: str, typical: int) -> bool:
    return bool(_END_OF_SENTENCE.search(line)) and len(line) < 0.85 * typical


def _is_heading(line: str, prev: str, nxt: str, typical: int, *, paragraph_open: bool) -> bool:
    if paragraph_open and not _END_OF_SENTENCE.search(prev):
        return False
    if not nxt or len(line) > min(90, 0.75 * typical) or len(line.split()) > 12 or len(line) < 3:
        return False
    if _END_OF_SENTENCE.search(line) or line.endswith((",", "-")) or "§" in line or _TOC_LINE.search(line):
        return False
    if _BULLET.match(line):
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
