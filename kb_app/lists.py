"""Answers from lists and tables.

A list question ("Vilka kommuner ingår i partnerskapet?") that the abstention model lets through is
answered with a whole list when a list or table among the top passages is about what the question
asks for: its column headers, lead-in or section hold the noun after "vilka/vilken/vilket" (or, without
one, at least half of the question's content words). A table split over
several passages comes back whole.

A yes/no question about a name ("Är Ekby med?") is answered from a list when one is there: the row
or item that names it ("Ja, …"), or, when the whole list is one of names and does not contain the
name, "Nej, … finns inte med i listan" (the goals of a partnership are no roll of its members).
Names are the capitalised words of the question after its first word.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence

import numpy as np

from kb_app.answer_features import content_stems
from kb_app.candidates import ITEM, LEAD_IN, ROW, Candidate, split_units
from kb_app.lexical import tokenize
from kb_app.models import Chunk

_NAME = re.compile(r"(?<!^)\b[A-ZÅÄÖ][a-zåäöéü]+(?:[ -][A-ZÅÄÖ][a-zåäöéü]+)*")
MIN_LIST = 3  # units in a run before it counts as a list


def headers(row: str) -> tuple[str, ...]:
    """The column headers a table row carries ("label — H1: v; H2: v" gives H1, H2)."""
    _, _, rest = row.partition(" — ")
    return tuple(part.split(":", 1)[0].strip() for part in (rest or row).split("; ") if ":" in part)


def _lead_in(cand: Candidate) -> str:
    """The sentence ending with a colon that introduces the candidate's list ("" when there is none)."""
    if cand.kind == LEAD_IN:
        return cand.parts[0]
    units = split_units(cand.hit.chunk.text)
    start = cand.index
    while start > 0 and units[start - 1].kind == units[cand.index].kind:
        start -= 1
    return units[start - 1].text if start > 0 and units[start - 1].text.endswith(":") else ""


def about(cand: Candidate) -> set[str]:
    """The stems of what a row or item is a member of: headers, lead-in and section title."""
    head = " ".join(headers(cand.text)) if cand.kind == ROW else _lead_in(cand)
    return set(tokenize(f"{head} {cand.hit.chunk.section_title}"))


def pick_list(candidates: Sequence[Candidate], logits: np.ndarray, question: str) -> int | None:
    """The best-scored row or item whose list is about what the question asks for: the noun after
    "vilka/vilken/vilket" ("Vilka kommuner …" wants a list of kommuner; "Vilka gränser för antal
    bäddar …" does not want a list of staff counts), or, without one, at least half of the
    question's content words (one word in common is not enough)."""
    noun = governed(question)
    wanted = set(noun or content_stems(question))
    need = 1 if noun else (len(wanted) + 1) // 2
    fitting = [
        i
        for i, c in enumerate(candidates)
        if wanted and c.kind in (ITEM, ROW, LEAD_IN) and _in_list(c) and len(about(c) & wanted) >= need
    ]
    return max(fitting, key=lambda i: float(logits[i])) if fitting else None


_GOVERNED = re.compile(r"\b(?:vilka|vilken|vilket|which)\s+(\w+)", re.I)


def governed(question: str) -> list[str]:
    """The stem of the noun an interrogative governs ("Vilka kommuner …" gives kommun), if any."""
    m = _GOVERNED.search(question)
    return tokenize(m.group(1)) if m else []


_PROPER = re.compile(r"^[A-ZÅÄÖ][^\W\d_]+(?:[ -][^\W\d_]+){0,3}$")


def of_names(cand: Candidate) -> bool:
    """True when most entries of the candidate's list are names (the last cell of a row, or an item)."""
    units = [u for u in split_units(cand.hit.chunk.text) if u.kind == cand.kind]
    entries = [u.text.rsplit(": ", 1)[-1] if u.kind == ROW else u.text for u in units]
    return bool(entries) and sum(bool(_PROPER.match(e)) for e in entries) >= 0.8 * len(entries)


def _in_list(cand: Candidate) -> bool:
    units = split_units(cand.hit.chunk.text)
    kind = ITEM if cand.kind == LEAD_IN else cand.kind
    return sum(1 for u in units if u.kind == kind) >= MIN_LIST


def whole_table(cand: Candidate, chunks: Sequence[Chunk]) -> list[str]:
    """Every row with the same headers in the candidate's document and section, in order, once each.

    A long table is cut into several passages; this puts it back together.
    """
    key = headers(cand.text)
    own = cand.hit.chunk
    rows: dict[str, None] = {}
    for chunk in sorted(
        (c for c in chunks if c.doc_id == own.doc_id and c.section == own.section), key=lambda c: c.position
    ):
        for unit in split_units(chunk.text):
            if unit.kind == ROW and headers(unit.text) == key:
                rows.setdefault(unit.text)
    return list(rows) or [cand.text]


def names(question: str) -> list[str]:
    """Capitalised words after the first word: the names a yes/no question asks about."""
    return [m.group(0) for m in _NAME.finditer(question.strip()) if len(m.group(0)) >= 3]


def membership(
    question: str, asked: Iterable[str], candidates: Sequence[Candidate], chunks: Sequence[Chunk]
) -> tuple[str, Candidate | None, Candidate | None]:
    """(name, the row or item that names it, the list it was looked for in) for "Är X med?".

    The list must be about the question's other words (``asked`` without the name), or, when the
    question has none ("Är Ekby med?"), be a list of names. The name is "not in the list" only when the
    list is one of names and no retrieved passage mentions it either. Returns an empty name when the
    question is not of this kind.
    """
    for name in names(question):
        needle = name.lower()
        rest = set(asked) - set(tokenize(name))
        lists = [
            c
            for c in candidates
            if c.kind in (ITEM, ROW) and _in_list(c) and (rest & about(c) if rest else of_names(c))
        ]
        found = next((c for c in lists if re.search(rf"\b{re.escape(needle)}\b", c.text.lower())), None)
        if found is not None:
            return name, found, found
        mentioned = any(needle in c.hit.chunk.text.lower() for c in candidates)
        # a name can only be missing from a list of names: the goals of a partnership are no roll of members
        named = [c for c in lists if of_names(c)]
        if named and not mentioned:
            first = named[0]
            rows = whole_table(first, chunks) if first.kind == ROW else [first.hit.chunk.text]
            if not any(needle in row.lower() for row in rows):
                return name, None, first
    return "", None, None


def list_title(cand: Candidate) -> str:
    """How to name a list for the reader: its lead-in, else its section, else its document."""
    chunk = cand.hit.chunk
    return _lead_in(cand).rstrip(":") or chunk.section_title or chunk.title
