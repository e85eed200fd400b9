"""Swedish answers built from the documents' own sentences, each with a numbered citation.

No language model is available offline, so an answer is extractive: the sentences (or list
items) of the retrieved passages are scored against the question (idf-weighted word overlap,
the passage's retrieval rank and a cue for the kind of question), and the best are quoted with
``[n]`` citations. A lead-in that ends with a colon brings its whole list. When the support is
too weak the reply is a fixed, polite abstention with the nearest passages. When the answer lies
in an appendix the report refers to but the knowledge base lacks, the reply says so.
"""

from __future__ import annotations

import math
import os
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from kb_app.lexical import tokenize
from kb_app.models import KIND_APPENDIX, Chunk, Hit
from kb_app.retrieval import Retriever

ABSTAIN_TEXT = (
    "Jag hittar inget svar på den frågan i dokumenten i kunskapsbasen. "
    "Här är de avsnitt som ligger närmast, om du vill kontrollera själv."
)
EMPTY_TEXT = "Skriv en fråga, till exempel: Vilka mål har partnerskapet?"
TOO_LONG_TEXT = "Frågan är för lång ({length} tecken). Korta den till högst {limit} tecken och fråga igen."

_ENGLISH = {"what", "who", "how", "when", "which", "is", "are", "the", "does", "do", "of", "much", "many", "why"}
_FOLLOW_UP_START = re.compile(r"^(och|men|inom|i vilka|vilka av|hur då|varför|vad mer|när då|var då)\b", re.I)
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+(?=[A-ZÅÄÖ0-9\"“])")
_APPENDIX_REF = re.compile(r"\bbilaga\s+(\d+)\b", re.I)
_APPENDIX_LINE = re.compile(r"^(?:- )?Bilaga\s+(\d+)\s+(.+)$", re.I | re.M)

_CUES: dict[str, re.Pattern[str]] = {
    "amount": re.compile(r"\d[\d ,.]*\s*(kronor|kr\b|miljon|miljard|procent|%|tkr|mkr)", re.I),
    "count": re.compile(r"\b\d[\d ,.]*\b|\b(en|ett|två|tre|fyra|fem|sex|sju|åtta|nio|tio)\b", re.I),
    "date": re.compile(
        r"\b(19|20)\d\d\b|\b(januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november|december)\b",
        re.I,
    ),
    "duration": re.compile(
        r"\wårig|\b\d+\s*(år|månader|veckor|dagar)\b|\b(19|20)\d\d\s*[-–]\s*(19|20)\d\d\b"
        r"|\b(ett|två|tre|fyra|fem|sex|sju|åtta|nio|tio)\s+(år|månader)\b",
        re.I,
    ),
    "person": re.compile(
        r"\b[A-ZÅÄÖ][a-zåäöé]+ [A-ZÅÄÖ][a-zåäöé]+\b|ordförande|ledamöter|tjänstemän|handläggare", re.I
    ),
}


# Swedish words for the same relation, as stems: membership (ingå ~ delta ~ medlem ~ ansluta) and
# governance (styra ~ leda). Membership matches by prefix; governance only exactly ("ledande" is not "leds").
_SYNONYM_PREFIXES = ("ingå", "delt", "deltog", "medlem", "anslut")
_SYNONYM_EXACT = frozenset({"styr", "led", "ledning"})


def _synonyms(stem: str) -> int:
    """The synonym group of a stem: 1 membership, 2 governance, 0 none."""
    if stem.startswith(_SYNONYM_PREFIXES):
        return 1
    return 2 if stem in _SYNONYM_EXACT else 0


@dataclass(frozen=True)
class Citation:
    """A numbered source of an answer: the passage and where it stands."""

    n: int
    chunk: Chunk
    sentences: tuple[str, ...]


@dataclass(frozen=True)
class Answer:
    """An answer (or abstention) with its citations and the ranked passages it was built from."""

    question: str
    text: str
    abstained: bool
    citations: tuple[Citation, ...]
    hits: tuple[Hit, ...]
    query: str
    notes: tuple[str, ...] = field(default=())


@dataclass(frozen=True)
class _Unit:
    """A sentence or list item of a passage, with what follows it when it is a lead-in."""

    text: str
    hit_rank: int
    chunk: Chunk
    index: int
    lead_in: bool
    item: bool


@dataclass(frozen=True)
class AnswerPolicy:
    """Thresholds of the extractive answerer, tuned on data (docs/evaluation.md)."""

    min_coverage: float = 0.2
    min_dense_foreign: float = 0.755
    second_ratio: float = 0.9
    passages: int = 5


def too_long_answer(question: str, limit: int) -> Answer:
    """The reply to a question over the length limit (nothing is searched)."""
    text = TOO_LONG_TEXT.format(length=len(question), limit=limit)
    return Answer(question[:limit], text, True, (), (), "")


def question_kind(question: str) -> str:
    """The kind of answer a question wants: amount, count, date, duration, person, list, definition."""
    q = question.lower().strip()
    if re.match(r"^(hur mycket|vad kostar|hur stor|how much|what is the budget)", q) or "budget" in q:
        return "amount"
    if q.startswith(("hur många", "how many")):
        return "count"
    if q.startswith(("när", "vilket år", "vilken dag", "when")):
        return "date"
    if q.startswith(("hur lång", "how long", "under hur lång")):
        return "duration"
    if q.startswith(("vem ", "vilka personer", "who ")):
        return "person"
    if q.startswith(("vilka", "which", "what are", "vad ingår", "lista", "nämn")):
        return "list"
    if re.match(r"^(vad är|vad betyder|vad innebär|what is)\b", q):
        return "definition"
    return "other"


def is_english(question: str) -> bool:
    words = re.findall(r"[a-zåäö]+", question.lower())
    return (
        bool(words)
        and sum(w in _ENGLISH for w in words) >= max(1, len(words) // 4)
        and not re.search("[åäö]", question.lower())
    )


_ACRONYM = re.compile(r"\b[A-ZÅÄÖ]{2,6}\b")
_NAME = re.compile(r"\b(?:[A-ZÅÄÖ][a-zåäöé]+ ){1,5}[A-ZÅÄÖ][a-zåäöé]+\b")


def _acronyms(texts: Iterable[str]) -> dict[str, str]:
    """Acronyms used in the texts mapped to the most frequent capitalised name they abbreviate."""
    texts = list(texts)
    names: Counter[str] = Counter(name for text in texts for name in _NAME.findall(text))
    used = {a for text in texts for a in _ACRONYM.findall(text)}
    found: dict[str, str] = {}
    for name, _ in names.most_common():
        initials = "".join(word[0] for word in name.split()).upper()
        if initials in used and initials not in found:
            found[initials] = name
    return found


def content_stems(query: str) -> list[str]:
    """The query's stems that carry content: the frame of "hur lång/stor/mycket/många" is dropped."""
    frame = re.match(
        r"^\s*(hur|how)\s+(lång\w*|länge|stor\w*|mycket|många|ofta|gammal\w*|hög\w*|much|many|long|big|large|often)\b",
        query.lower(),
    )
    skip = set(tokenize(frame.group(2))) if frame else set()
    return [s for s in dict.fromkeys(tokenize(query)) if s not in skip]


def search_query(question: str, history: list[str] | tuple[str, ...]) -> str:
    """The query to retrieve with: a short or elliptic follow-up borrows the previous question."""
    if not history:
        return question
    content = tokenize(question)
    if len(content) <= 2 or _FOLLOW_UP_START.match(question.strip()):
        return f"{history[-1]} {question}"
    return question


class Answerer:
    """Answers questions from a ``Retriever``'s index. Stateless between calls; thread-safe."""

    def __init__(self, retriever: Retriever, *, policy: AnswerPolicy | None = None) -> None:
        self.retriever = retriever
        self.policy = policy or AnswerPolicy()
        self._df: Counter[str] = Counter()
        for chunk in retriever.chunks:
            self._df.update(set(tokenize(chunk.text)))
        self._n = max(1, len(retriever.chunks))
        self._appendix_titles = self._find_appendix_titles()
        self._missing = self.missing_appendices()
        self._acronyms = _acronyms(chunk.text for chunk in retriever.chunks)

    def expand_acronyms(self, query: str) -> str:
        """Add the spelled-out name after an acronym the documents use (SBA -> Stockholm Business Alliance)."""
        return _ACRONYM.sub(
            lambda m: f"{m.group(0)} ({self._acronyms[m.group(0)]})" if m.group(0) in self._acronyms else m.group(0),
            query,
        )

    def idf(self, stem: str) -> float:
        return math.log(1 + self._n / (1 + self._df.get(stem, 0)))

    def ask(self, question: str, history: list[str] | tuple[str, ...] = ()) -> Answer:
        """Answer ``question`` (Swedish or English) in the context of earlier questions."""
        question = " ".join(question.split())
        query = self.expand_acronyms(search_query(question, history))
        hits = tuple(self.retriever.search(query, k=max(self.policy.passages, 5)))
        if not question or not hits:
            return Answer(question, EMPTY_TEXT if not question else ABSTAIN_TEXT, True, (), hits, query)
        kind = question_kind(question)
        stems = content_stems(query)
        units = [u for hit in hits[:4] for u in self._units(hit.chunk, hit.rank)]
        similarity = self._semantic_overlap(query, units) if is_english(question) else None
        scored = sorted(
            ((self._score(u, stems, kind, similarity[i] if similarity else None), u) for i, u in enumerate(units)),
            key=lambda p: -p[0],
        )
        best_score, best = scored[0]
        coverage = self._coverage(best, stems)
        if self._abstain(question, coverage, hits) or self._unknown_name(question):
            return Answer(question, ABSTAIN_TEXT, True, (), hits, query)
        chosen = [best]
        cue = _CUES.get(kind)
        if cue is not None and not cue.search(best.text):
            # the best match lacks the kind of fact asked for: add the best unit that has it
            for score, unit in scored[1:]:
                if cue.search(unit.text) and score >= 0.5 * best_score and unit.chunk.chunk_id != best.chunk.chunk_id:
                    chosen.append(unit)
                    break
        for score, unit in scored[1:4]:
            if len(chosen) > 1:
                break
            if (
                score >= self.policy.second_ratio * best_score
                and unit.chunk.chunk_id != best.chunk.chunk_id
                and not unit.item
            ):
                chosen.append(unit)
                break
        return self._compose(question, query, chosen, hits)

    def _unknown_name(self, question: str) -> bool:
        """True when the question names something (a capitalised word) the documents never mention."""
        words = re.findall(r"\b\w[\w-]*\b", question)
        for word in words[1:]:
            if word[0].isupper() and not word.isdigit():
                if all(self._df.get(stem, 0) == 0 for stem in tokenize(word)):
                    return True
        return False

    def _matches(self, stem: str, words: set[str]) -> float:
        """1 for the stem itself, 0.5 for a Swedish compound relative (avtalsperiod ~ perioden), 0.8 for a synonym."""
        if stem in words:
            return 1.0
        synonyms = _synonyms(stem)
        if synonyms and any(_synonyms(word) == synonyms for word in words):
            return 0.8
        for word in words:
            shorter = min(len(word), len(stem))
            close = abs(len(word) - len(stem)) <= 2
            if close and shorter >= 5 and len(os.path.commonprefix([word, stem])) >= shorter - 1:
                return 1.0  # the same word inflected: verksamhetsidé ~ verksamhetsidén
            if len(stem) >= 4 and word.startswith(stem):
                return 0.5  # inflection the stemmer left apart: delt ~ deltag(ande)
            if len(stem) >= 7 and len(word) >= 5 and (stem.endswith(word) or word.startswith(stem[:5])):
                return 0.5
        return 0.0

    def _abstain(self, question: str, coverage: float, hits: tuple[Hit, ...]) -> bool:
        if is_english(question):
            return (hits[0].dense_score or 0.0) < self.policy.min_dense_foreign
        return coverage < self.policy.min_coverage

    def _coverage(self, unit: _Unit, stems: list[str]) -> float:
        total = sum(self.idf(s) for s in stems)
        if total == 0:
            return 0.0
        context = set(tokenize(unit.text)) | set(tokenize(" ".join(unit.chunk.section)))
        context |= set(tokenize(unit.chunk.text)) if unit.lead_in else set()
        return sum(self.idf(s) * self._matches(s, context) for s in stems) / total

    @staticmethod
    def _defines(text: str, stems: list[str]) -> bool:
        """True when the text says "<one of the question's words> är …" (a definition)."""
        for match in re.finditer(r"([\wåäöÅÄÖ]+)\s+är\b", text):
            for word in tokenize(match.group(1)):
                if any(len(s) >= 3 and (word.startswith(s) or s.startswith(word)) for s in stems):
                    return True
        return False

    def _semantic_overlap(self, query: str, units: list[_Unit]) -> list[float]:
        """For questions in another language: each unit's embedding similarity, scaled to 0..1."""
        embedder = self.retriever.embedder
        sims = embedder.embed_passages([u.text for u in units]) @ embedder.embed_query(query)
        low, high = float(sims.min()), float(sims.max())
        return [(float(s) - low) / (high - low + 1e-6) for s in sims]

    def _score(self, unit: _Unit, stems: list[str], kind: str, similarity: float | None = None) -> float:
        words = set(tokenize(unit.text))
        where = set(tokenize(" ".join((unit.chunk.title, *unit.chunk.section))))
        total = sum(self.idf(s) for s in stems) or 1.0
        overlap = sum(self.idf(s) * max(self._matches(s, words), 0.5 * self._matches(s, where)) for s in stems) / total
        if similarity is not None:
            overlap = similarity
        score = overlap + 0.15 / unit.hit_rank
        cue = _CUES.get(kind)
        if cue is not None and cue.search(unit.text):
            score += 0.25
        if unit.lead_in:
            score += 0.35 if kind == "list" else 0.2 if kind == "other" else 0.0
        if kind == "definition":
            score += 0.2 * bool(re.search(r"\bär (ett|en)\b", unit.text))
            score += 0.3 * self._defines(unit.text, stems)
        if len(unit.text) < 25:
            score -= 0.2
        listing = _APPENDIX_LINE.match(unit.text)
        if listing and "bilag" not in stems:
            score -= 0.6  # the report's list of appendices only names them
        missing = self._missing
        for number in _APPENDIX_REF.findall(unit.text):
            title = missing.get(int(number), "")
            if not listing and set(tokenize(title)) & set(stems):
                score += 0.3  # the passage points to the appendix that holds what is asked
        return score

    def _units(self, chunk: Chunk, rank: int) -> list[_Unit]:
        units: list[_Unit] = []
        for block in chunk.text.split("\n\n"):
            lines = block.split("\n")
            if all(line.startswith("- ") for line in lines):
                parts = [(line[2:].strip(), True) for line in lines]
            else:
                parts = [(s.strip(), False) for line in lines for s in _SENTENCE_END.split(line) if s.strip()]
            for text, item in parts:
                units.append(_Unit(text, rank, chunk, len(units), text.endswith(":"), item))
        return units

    def _expand(self, unit: _Unit) -> str:
        """A unit with what it needs to stand alone: a lead-in brings its list; a clause its ending."""
        units = self._units(unit.chunk, unit.hit_rank)
        following = units[unit.index + 1 :]
        if unit.lead_in:
            lines = [unit.text]
            for nxt in following:
                if nxt.lead_in or (not nxt.item and len(nxt.text) > 120):
                    break
                lines.append(f"- {nxt.text}")
            return "\n".join(lines)
        if not re.search(r"[.!?:]$", unit.text) and following and following[0].text[:1].islower():
            return f"{unit.text} {following[0].text}"
        return unit.text

    def _compose(self, question: str, query: str, chosen: list[_Unit], hits: tuple[Hit, ...]) -> Answer:
        numbers: dict[str, int] = {}
        quoted: dict[str, list[str]] = {}
        parts: list[str] = []
        texts = [self._expand(unit) for unit in chosen]
        for unit, text in zip(chosen, texts, strict=True):
            n = numbers.setdefault(unit.chunk.chunk_id, len(numbers) + 1)
            quoted.setdefault(unit.chunk.chunk_id, []).append(text)
            parts.append(f"{text.rstrip()} [{n}]")
        notes = self._missing_appendix_notes(query, texts)
        body = "\n\n".join(parts)
        if notes:
            body += "\n\n" + " ".join(notes)
        by_id = {h.chunk.chunk_id: h.chunk for h in hits}
        citations = tuple(
            Citation(n, by_id[cid], tuple(quoted[cid])) for cid, n in sorted(numbers.items(), key=lambda p: p[1])
        )
        return Answer(question, body, False, citations, hits, query, tuple(notes))

    def _find_appendix_titles(self) -> dict[int, str]:
        titles: dict[int, str] = {}
        for chunk in self.retriever.chunks:
            if chunk.kind == KIND_APPENDIX:
                continue
            for number, title in _APPENDIX_LINE.findall(chunk.text):
                titles.setdefault(int(number), " ".join(title.split()))
        return titles

    def present_appendices(self) -> set[int]:
        found = set()
        for chunk in self.retriever.chunks:
            match = re.match(r"bilaga\s+(\d+)", chunk.title, re.I)
            if chunk.kind == KIND_APPENDIX and match:
                found.add(int(match.group(1)))
        return found

    def missing_appendices(self) -> dict[int, str]:
        """Appendices the documents refer to that are not in the knowledge base: {number: title}."""
        present = self.present_appendices()
        return {n: t for n, t in sorted(self._appendix_titles.items()) if n not in present}

    def _missing_appendix_notes(self, query: str, texts: list[str]) -> list[str]:
        missing = self._missing
        wanted: set[int] = set()
        for text in texts:
            wanted |= {int(n) for n in _APPENDIX_REF.findall(text)}
        wanted |= {int(n) for n in _APPENDIX_REF.findall(query)}
        q_stems = set(tokenize(query))
        for number, title in missing.items():
            rare = {s for s in tokenize(title) if self._df.get(s, 0) <= 1}
            if q_stems & rare:
                wanted.add(number)
        return [
            f"Mer finns i Bilaga {n} ({missing[n]}), men den bilagan har inte lagts till i kunskapsbasen."
            for n in sorted(wanted)
            if n in missing
        ]
