"""Answer candidates: the sentences, list items and table rows of retrieved passages.

``split_units`` cuts a passage into units the same way at index time (their vectors are stored,
kb_app.unit_vectors) and at answer time. ``build_candidates`` turns the units of the top passages
into what the answer may quote: each unit alone, a lead-in with its whole list, and a unit joined
with the sentence that follows it. Contents lines, dot leaders, page numbers and bare headings are
marked as noise and never become candidates.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache

from kb_app.models import Hit

SENTENCE, ITEM, ROW, LEAD_IN, PAIR = "sentence", "item", "row", "lead_in", "pair"

# Common Swedish abbreviations that end with a full stop but do not end a sentence.
# Legal citations use more: "prop. 1997/98:44", "bet. 2010/11:UbU5", "kl. 10.30", "art. 5".
_ABBREVIATIONS = (
    *("t.ex.", "bl.a.", "s.k.", "m.m.", "o.s.v.", "osv.", "fr.o.m.", "t.o.m.", "ca.", "kap.", "jfr.", "nr."),
    *("kl.", "prop.", "bet.", "rskr.", "dir.", "art.", "resp."),
)
# an abbreviation as a word of its own: "partnerskap." and "kunskap." end sentences, "2 kap." does not
_ABBREVIATION_END = re.compile(r"(?<![^\W\d_])(?:" + "|".join(map(re.escape, _ABBREVIATIONS)) + r")$", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÅÄÖ0-9\"“(§])")
_ITEM = re.compile(r"^(?:[-•*–]\s+|\d{1,2}[.)]\s+|[a-z][.)]\s+)")
_AMENDMENT_NOTE = re.compile(r"\s*\(\w+ \d{4}:\d+\)$")  # "(NFS 2014:23)" after a provision
DOT_LEADER = re.compile(r"(?:\.\s*){4,}|…{2,}|(?:\s\.){3,}|_{4,}")
_WORDS = re.compile(r"[^\W\d_]{2,}")
# a field of a form or a letterhead: a label, a colon and its value ("Telefon: 08-508 280 22", "Tel.: …");
# not a page, figure or table label ("Sida: 3"), nor an empty field ("Datum: ___")
_LABELLED = re.compile(
    r"^(?!(?:sida|sid|figur|fig|bild|tabell|tab|page|figure|table)\b)[^\W\d_]{2,}\.?:\s*[^\W_]", re.I
)


@dataclass(frozen=True)
class Unit:
    """One sentence, list item or table row of a passage."""

    text: str
    kind: str  # SENTENCE | ITEM | ROW
    index: int
    block: int = 0  # which paragraph, list or table of the passage it belongs to


@dataclass(frozen=True)
class Candidate:
    """Something the answer may quote, with the passage it comes from."""

    text: str
    kind: str  # SENTENCE | ITEM | ROW | LEAD_IN | PAIR
    hit: Hit
    index: int  # position of its first unit in the passage
    count: int  # units in the passage
    parts: tuple[str, ...]  # the unit texts it is made of (their vectors give its dense similarity)


def sentences(line: str) -> list[str]:
    """The sentences of one line (a period after a known abbreviation ends none)."""
    pieces: list[str] = []
    for piece in _SENTENCE_END.split(line):
        piece = piece.strip()
        if pieces and _ABBREVIATION_END.search(pieces[-1]):
            pieces[-1] = f"{pieces[-1]} {piece}"
        elif piece:
            pieces.append(piece)
    return pieces


@lru_cache(maxsize=16_384)
def split_units(text: str) -> tuple[Unit, ...]:
    """The sentences, list items and table rows of a passage, in order (cached: passages recur)."""
    units: list[Unit] = []
    for number, block in enumerate(text.split("\n\n")):
        lines = [line.strip() for line in block.split("\n") if line.strip()]
        if not lines:
            continue
        if all(_ITEM.match(line) for line in lines):
            parts = [(_ITEM.sub("", line, count=1).strip(), ITEM) for line in lines]
        elif len(lines) > 1 and 2 * sum(" | " in line or " — " in line for line in lines) >= len(lines):
            parts = [(line, ROW) for line in lines]
        else:
            parts = [(s, SENTENCE) for line in lines for s in sentences(line)]
        for piece, kind in parts:
            if piece:
                units.append(Unit(piece, kind, len(units), number))
    return tuple(units)


def is_noise(unit: Unit) -> bool:
    """True for text an answer must never quote: contents lines, dot leaders, page numbers, bare headings."""
    text = unit.text
    if DOT_LEADER.search(text):
        return True
    words = _WORDS.findall(text)
    if unit.kind in (ITEM, ROW):
        return not words  # a list of names or a table row may be one word long
    if len(words) < 2 and not _LABELLED.match(text):
        return True  # a page number, a bare figure or a one-word label (but a labelled value is a fact)
    if unit.kind == SENTENCE and len(words) <= 4 and not re.search(r"[.!?:;,\d]", text):
        return True  # a bare heading
    return False


def build_candidates(hits: Sequence[Hit], *, passages: int) -> list[Candidate]:
    """Candidates from the top ``passages`` hits: units, lead-ins with their lists, and sentence pairs.

    A lead-in ("… är att:") is only ever quoted with its list; a pair joins a sentence with the next
    sentence of the same paragraph (and that sentence's list, when it is a lead-in), or with the
    paragraph that follows when the sentence ends with a colon ("… beräknas enligt följande:"), goes
    on there (``runs_on``) or, in a PDF, is a term that paragraph's first sentence defines
    (``is_term``). Contents pages give none.
    """
    found: list[Candidate] = []
    for hit in hits[:passages]:
        if hit.chunk.role == "contents":
            continue
        units = split_units(hit.chunk.text)
        n = len(units)
        # two-column lists of definitions come from PDFs; in a text file a short line is as often a
        # heading, which the first sentence under it does not define (SweQUAD-MC's contexts)
        paged = hit.chunk.page is not None
        for i, unit in enumerate(units):
            if is_noise(unit):
                continue
            items = _run(units[i + 1 :]) if unit.text.endswith(":") else []
            if items:
                text = "\n".join([unit.text, *(f"- {u.text}" for u in items)])
                found.append(Candidate(text, LEAD_IN, hit, i, n, (unit.text, *(u.text for u in items))))
                continue
            found.append(Candidate(unit.text, unit.kind, hit, i, n, (unit.text,)))
            after = units[i + 1] if i + 1 < n else None
            term = paged and is_term(units, i)
            next_paragraph = unit.text.endswith(":") or term or (after is not None and runs_on(unit, after))
            joined = after is not None and (after.block == unit.block or next_paragraph)
            if unit.kind == SENTENCE and after and after.kind == SENTENCE and joined:
                if is_noise(after):
                    continue
                parts = [after, *(_run(units[i + 2 :]) if after.text.endswith(":") else [])]
                lines = [f"{unit.text} {after.text}", *(f"- {u.text}" for u in parts[1:])]
                found.append(Candidate("\n".join(lines), PAIR, hit, i, n, (unit.text, *(u.text for u in parts))))
    return found


def runs_on(unit: Unit, after: Unit) -> bool:
    """True when a sentence goes on in the next paragraph: it has no end mark and the next begins in
    lower case ("Styrelsen föreslås besluta" / "att godkänna lägesredovisningen.", the form of a
    Swedish decision proposal)."""
    ended = unit.text.endswith((".", "!", "?", ";"))
    return unit.kind == after.kind == SENTENCE and not ended and after.text[:1].islower()


def is_term(units: Sequence[Unit], i: int) -> bool:
    """True when unit ``i`` is the term of a two-column list of definitions ("Familjegrupp varg (NFS
    2014:23)" / "Minst tre vargar i sällskap …"): a paragraph of its own of at most six words, without an
    end mark, in capitals first, and made of words alone (an amendment note at its end aside; no date,
    number, address or label)."""
    unit = units[i]
    alone = (i == 0 or units[i - 1].block != unit.block) and (i + 1 == len(units) or units[i + 1].block != unit.block)
    ended = unit.text.endswith((".", "!", "?", ";", ":", ","))
    words = _AMENDMENT_NOTE.sub("", unit.text)
    plain = words[:1].isupper() and not re.search(r"\d|:|www\.|[/@&=]", words)
    return unit.kind == SENTENCE and alone and not ended and plain and len(unit.text.split()) <= 6


def _run(units: Sequence[Unit]) -> list[Unit]:
    """The list items or rows at the start of ``units``."""
    run = []
    for unit in units:
        if unit.kind not in (ITEM, ROW):
            break
        run.append(unit)
    return run
