"""BlockBuilder: the shared bookkeeping of every reader (heading trail, numbering, offsets)."""

from __future__ import annotations

import re
import unicodedata

from kb_app.models import Block

LIGATURES = str.maketrans({"ﬀ": "ff", "ﬁ": "fi", "ﬂ": "fl", "ﬃ": "ffi", "ﬄ": "ffl", "ﬅ": "st", "ﬆ": "st"})
_SPACES = re.compile(r"[ \t\u00a0\u2000-\u200a\u202f\u205f\u3000]+")
CONTROL = re.compile(r"[\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f\u00ad\u200b\ufeff]")


def clean_text(text: str) -> str:
    """Fix ligatures, drop control characters and soft hyphens, collapse spaces in each line."""
    text = unicodedata.normalize("NFC", text.translate(LIGATURES))
    text = CONTROL.sub("", text.replace("\r\n", "\n").replace("\r", "\n"))
    return "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))


class BlockBuilder:
    """Collects blocks in document order and keeps the heading trail.

    Headings carry a level; a heading pops every open heading of the same or deeper level.
    ``soft`` headings (a line of bold text in Markdown) sit under the current real heading and
    are replaced by the next heading of any kind.
    """

    def __init__(self) -> None:
        self._trail: list[tuple[float, str, bool]] = []
        self._blocks: list[Block] = []
        self._paragraph = 0
        self._parts: list[str] = []
        self._offset = 0

    @property
    def section(self) -> tuple[str, ...]:
        return tuple(title for _, title, _ in self._trail)

    def heading(
        self,
        title: str,
        level: float,
        *,
        soft: bool = False,
        span: tuple[int, int] | None = None,
        page: int | None = None,
        page_label: str | None = None,
    ) -> None:
        """Open a heading; ``span`` gives its source offsets when the reader knows them."""
        title = " ".join(title.split())
        if not title:
            return
        while self._trail and (self._trail[-1][2] or (not soft and self._trail[-1][0] >= level)):
            self._trail.pop()
        if soft:
            level = (self._trail[-1][0] if self._trail else 0) + 0.5
        section = self.section
        self._trail.append((level, title, soft))
        self._add("heading", title, section, 0, (), span, page, page, page_label)

    def block(
        self,
        kind: str,
        text: str,
        *,
        items: tuple[str, ...] = (),
        span: tuple[int, int] | None = None,
        page: int | None = None,
        page_end: int | None = None,
        page_label: str | None = None,
    ) -> None:
        """Add a paragraph, list or table under the current heading trail."""
        if not text.strip():
            return
        self._paragraph += 1
        end_page = page_end if page_end is not None else page
        self._add(kind, text.strip(), self.section, self._paragraph, items, span, page, end_page, page_label)

    def _add(
        self,
        kind: str,
        text: str,
        section: tuple[str, ...],
        paragraph: int,
        items: tuple[str, ...],
        span: tuple[int, int] | None,
        page: int | None,
        page_end: int | None,
        page_label: str | None,
    ) -> None:
        if span is None:  # offsets into the text assembled from the blocks
            if self._parts:
                self._offset += 2
            span = (self._offset, self._offset + len(text))
            self._parts.append(text)
            self._offset = span[1]
        self._blocks.append(
            Block(
                kind=kind,
                text=text,
                section=section,
                paragraph=paragraph,
                start=span[0],
                end=span[1],
                page=page,
                page_end=page_end,
                page_label=page_label,
                items=items,
            )
        )

    def assembled_text(self) -> str:
        """The text made of the blocks, when offsets were not given by the reader."""
        return "\n\n".join(self._parts)

    def blocks(self) -> tuple[Block, ...]:
        return tuple(self._blocks)

    @property
    def open_heading(self) -> float | None:
        """The level of the last heading when nothing has come under it yet, else None."""
        if self._blocks and self._blocks[-1].kind == "heading" and self._trail:
            return self._trail[-1][0]
        return None


def table_rows(header: list[str], rows: list[list[str]], *, carry: str = "") -> list[str]:
    """One line per data row that keeps its column headers: "Kompetensförsörjning — Budget 2007 (tkr): 600".

    The first cell labels the row; an empty first cell carries the label of the row above (a group
    such as a county). Empty cells are left out; ``carry`` is the label in force when the table goes
    on from the page before. Every reader writes tables this way.
    """
    lines = []
    label = carry
    for row in rows:
        label = row[0] or label
        pairs = [f"{h}: {c}" if h else c for h, c in zip(header[1:], row[1:], strict=False) if c]
        if not pairs:
            lines.append(label)
        elif label:
            lines.append(f"{label} — {'; '.join(pairs)}")
        else:
            lines.append("; ".join(pairs))
    return lines
