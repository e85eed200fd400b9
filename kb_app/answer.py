"""Swedish answers quoted from the documents, each statement with a numbered citation.

No language model runs offline, so an answer is extractive. The path of a question:

1. ``resolve_turn``: a follow-up borrows the topic of the earlier turns for retrieval only; the
   new turn's own words decide what is asked.
2. ``Retriever.search`` finds the passages (hybrid dense + BM25).
3. ``build_candidates`` (kb_app.candidates) cuts the top passages into sentences, list items,
   table rows, lead-ins with their lists and sentence pairs.
   A line that only names an appendix ("Bilaga 2 Verksamhetsprogram och budget …") is no candidate
   unless the question asks about the appendices themselves: what other questions ask lies in the
   appendix.
4. ``candidate_features`` (kb_app.answer_features) describes each candidate; a ranker learned from
   public data (kb_app.training, ``python -m kb_app train``) scores them.
5. A second model turns the best candidates into one probability that the documents answer the
   question; below its threshold the reply is a polite abstention with the nearest passages (and
   the note below, when the question, or the conversation's topic, points to a missing appendix).
6. ``compose`` quotes the best candidate (and a close second from elsewhere), the asked fact in
   bold, "Ja,"/"Nej," for yes/no questions, the whole list for list questions, an English
   lead-in for English questions, and a note when the answer lies in an appendix that is missing.
"""

from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from kb_app import lists
from kb_app.answer_features import (
    FEATURES,
    HOLDS,
    MONTHS,
    QUESTION_FEATURES,
    Question,
    asked_verb,
    candidate_features,
    content_stems,
    coverage,
    question_features,
    question_type,
    without_references,
)
from kb_app.candidates import DOT_LEADER, ITEM, LEAD_IN, PAIR, ROW, Candidate, Unit, build_candidates, split_units
from kb_app.lexical import swedish_stopwords, tokenize, word_stems
from kb_app.models import KIND_APPENDIX, KIND_REPORT, Chunk, Hit
from kb_app.ranker import Model, load_models
from kb_app.retrieval import Retriever
from kb_app.unit_vectors import UnitVectors
from kb_app.vocabulary import Vocabulary

MODEL_FILE = Path(__file__).with_name("data") / "answer_model.json"

NOTHING_FOUND_TEXT = "Jag hittar inget svar på den frågan i dokumenten i kunskapsbasen."
NEAREST_TEXT = "Här är de avsnitt som ligger närmast, om du vill kontrollera själv."
ABSTAIN_TEXT = f"{NOTHING_FOUND_TEXT} {NEAREST_TEXT}"
EMPTY_TEXT = "Skriv en fråga, till exempel: Vilka mål har partnerskapet?"
TOO_LONG_TEXT = "Frågan är för lång ({length} tecken). Korta den till högst {limit} tecken och fråga igen."
UNSURE_YES_NO = "Dokumenten säger inte uttryckligen ja eller nej. Det som står närmast är:"
ENGLISH_LEAD = "In the documents (in Swedish):"

# English function words that are not also Swedish words ("be", "is", "from", "must" are; "a" and
# "it" stand alone in "a-kassa" and "IT").
_ENGLISH = frozenset(
    "what who whom whose how when where which why are was were the an does do did of much many to that"
    " this these those with can could may might should would will shall has have had its they"
    " their there any apply applies about into than been".split()
)
_ANAPHOR = re.compile(
    r"\b(det|den|de|dem|där|dit|dess|deras|denna|detta|dessa|samma|sådan|sådant|sådana|han|hon|honom|henne|hans"
    r"|hennes|dennes|it|they|them|there|this|that|such|he|she|him|her|his)\b"
)
_ELLIPSIS = re.compile(r"^(och|men|samt|även|också|and|what about|how about)\b")
_NEGATION = re.compile(r"\b(inte|ej|icke|aldrig|ingen|inget|inga|varken|not|no|never)\b", re.I)
_APPENDIX_REF = re.compile(r"\bbilaga\s+(\d+)\b", re.I)
_APPENDIX_LINE = re.compile(r"^(?:- )?Bilaga\s+(\d+)\s+(.+)$", re.I | re.M)
# a question about the appendices themselves ("Vilka bilagor finns?", "I vilken bilaga står …?")
_ABOUT_APPENDICES = re.compile(r"\b(?:bilag|appendi|annex)", re.I)
_ACRONYM = re.compile(r"\b[A-ZÅÄÖ]{2,6}\b")
_NAME = re.compile(r"\b(?:[A-ZÅÄÖ][a-zåäöé]+ ){1,5}[A-ZÅÄÖ][a-zåäöé]+\b")
_BOLD_KINDS = ("amount", "date", "duration", "count", "measure", "name", "place")
_NOT_NAMES = frozenset("den det de dem denna detta dessa en ett jag du vi ni man han hon som och att".split())
# verbs that carry no predicate of their own: "Finns det …?", "Är det …?", "Har kommunen …?" are
# settled by what the quote says of the rest, not by the verb
_AUXILIARIES = frozenset(word_stems("finns fanns är var har hade"))
# a whole date ("1 januari 2008", "den 12 maj"), bolded before a bare year or month
_FULL_DATE = re.compile(rf"\b\d{{1,2}}\s+(?:{MONTHS})(?:\s+\d{{4}})?\b", re.I)
# a person's or body's full name; a word before a colon is the next field's label ("Kristina Tidestav Telefon: …")
_FULL_NAME = re.compile(r"\b[A-ZÅÄÖ][a-zåäöé]+(?:\s+[A-ZÅÄÖ][a-zåäöé]+\b(?!:))+")


@dataclass(frozen=True)
class Citation:
    """A numbered source of an answer: the passage and what was quoted from it."""

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
    confidence: float = 0.0  # the abstention model's probability that the documents answer


@dataclass(frozen=True)
class AnswerPolicy:
    """How answers are chosen. The two models, the abstention threshold and the second-quote ratio
    are learned and chosen on public data (kb_app/data/answer_model.json, docs/evaluation.md);
    ``second_ratio`` here overrides the learned ratio. ``yes_no_coverage`` is set by hand.

    ``engine``: "ranker" (the learned models), or "floor": the sentence of the top passage most
    similar to the question, never declining (the baseline the ranker must beat).
    """

    engine: str = "ranker"
    passages: int = 5  # passages whose sentences are candidates
    second_ratio: float | None = None  # a second quote when its odds are this close to the best's
    yes_no_coverage: float = 0.75  # a quote settles a yes/no question when it covers this much of it
    abstain: bool = True


@dataclass(frozen=True)
class Turn:
    """A question resolved against its conversation."""

    question: str  # the new turn, as asked
    query: str  # what is retrieved with (the topic of earlier turns added when the turn leans on it)
    kind: str
    stems: tuple[str, ...]
    history_stems: tuple[str, ...]
    verb: str = ""  # the stem of the verb a yes/no question asks with (an elliptic turn keeps the earlier's)


def too_long_answer(question: str, limit: int) -> Answer:
    """The reply to a question over the length limit (nothing is searched)."""
    text = TOO_LONG_TEXT.format(length=len(question), limit=limit)
    return Answer(question[:limit], text, True, (), (), "")


def is_english(question: str) -> bool:
    """True when at least a quarter of the words are English function words, they outnumber the
    Swedish stopwords and no word has å, ä or ö."""
    words = re.findall(r"[a-zåäö]+", question.lower())
    english = sum(w in _ENGLISH for w in words)
    return (
        english >= max(1, len(words) // 4)
        and english > sum(w in swedish_stopwords() for w in words)
        and not re.search("[åäö]", question.lower())
    )


def resolve_turn(question: str, history: Sequence[str]) -> Turn:
    """Resolve a follow-up: pronouns and ellipsis take the topic of the earlier turns, for retrieval.

    A turn that stands on its own (no pronoun, no "Och …", two or more content words) is asked as
    it is. Otherwise the content words of the latest earlier turn that the new one lacks are added
    to the retrieval query; the new turn's words still decide what is asked, and an elliptic turn
    without a question frame ("Och för 2008?", or a turn of at most one content word) keeps the
    earlier turn's kind of question; any other turn keeps its own ("Vilket departement står bakom
    det?" stays "other" after a question about a date).
    """
    stems = tuple(content_stems(question))
    kind = question_type(question)
    lower = question.lower().strip()
    leans = bool(_ANAPHOR.search(lower) or _ELLIPSIS.match(lower) or len(stems) <= 1)
    if not history or not leans:
        return Turn(question, question, kind, stems, (), asked_verb(question))
    previous = history[-1]
    topic_words = [w for w in re.findall(r"\w+", previous) if tokenize(w) and tokenize(w)[0] not in stems]
    topic_stems = tuple(dict.fromkeys(s for w in topic_words for s in tokenize(w)))
    elliptic = bool(_ELLIPSIS.match(lower))
    if (kind == "other" and (elliptic or len(stems) <= 1)) or (
        elliptic and len(stems) <= 1 and kind in ("list", "yesno")
    ):
        kind, verb = question_type(previous), asked_verb(previous)
    else:
        verb = asked_verb(question)
    query = f"{question} {' '.join(topic_words)}".strip()
    return Turn(question, query, kind, stems, topic_stems, verb)


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


@dataclass(frozen=True)
class Scored:
    """A question's candidates with their features and the models' verdicts."""

    turn: Turn
    question: Question
    hits: tuple[Hit, ...]
    candidates: list[Candidate]
    rows: np.ndarray
    logits: np.ndarray
    question_row: np.ndarray
    confidence: float
    vocabulary: Vocabulary  # the word statistics the features were computed with


class Answerer:
    """Answers questions from a ``Retriever``'s index. Stateless between calls; thread-safe."""

    def __init__(
        self,
        retriever: Retriever,
        *,
        policy: AnswerPolicy | None = None,
        models: tuple[Model, Model] | None = None,
    ) -> None:
        self.retriever = retriever
        self.policy = policy or AnswerPolicy()
        self.ranker, self.gate = models or load_models(MODEL_FILE, FEATURES, QUESTION_FEATURES)
        self.vocabulary = Vocabulary.of(retriever.chunks)
        self.units = UnitVectors(retriever.settings.index_dir, retriever.embedder)
        self._appendix_titles = self._find_appendix_titles()
        self._missing = self.missing_appendices()
        self._appendix_words = self._find_appendix_words()
        self._acronyms = _acronyms(chunk.text for chunk in retriever.chunks)

    def expand_acronyms(self, query: str) -> str:
        """Add the spelled-out name after an acronym the documents use (SBA -> Stockholm Business Alliance)."""
        return _ACRONYM.sub(
            lambda m: f"{m.group(0)} ({self._acronyms[m.group(0)]})" if m.group(0) in self._acronyms else m.group(0),
            query,
        )

    def idf(self, stem: str) -> float:
        return self.vocabulary.idf(stem)

    def ask(self, question: str, history: Sequence[str] = ()) -> Answer:
        """Answer ``question`` (Swedish or English) in the context of earlier questions."""
        question = " ".join(question.split())
        if not question:
            return Answer(question, EMPTY_TEXT, True, (), (), "")
        scored = self.score(question, history)
        if not scored.candidates:
            return self._decline(question, scored)
        if self.policy.engine == "floor":
            first = scored.candidates[0].hit.rank
            top = [c for c in scored.candidates if c.hit.rank == first and c.kind != PAIR] or scored.candidates
            dense = dict(zip(map(id, scored.candidates), scored.rows[:, FEATURES.index("dense")], strict=True))
            return self.compose(scored, [max(top, key=lambda c: dense[id(c)])], floor=True)
        if scored.turn.kind == "yesno":
            answer = self._from_list(scored)
            if answer is not None:
                return answer
        if self.policy.abstain and scored.confidence < self.threshold(scored.question):
            return self._decline(question, scored)
        return self.compose(scored, self.choose(scored))

    def _decline(self, question: str, scored: Scored) -> Answer:
        """The polite abstention with the nearest passages; when the question points to a missing
        appendix, it says that the answer probably lies there."""
        notes = self._missing_appendix_notes(scored.turn.query, [], declined=True)
        text = " ".join([NOTHING_FOUND_TEXT, *notes, NEAREST_TEXT])
        return Answer(question, text, True, (), scored.hits, scored.turn.query, tuple(notes), scored.confidence)

    def _from_list(self, scored: Scored) -> Answer | None:
        """ "Är X med?" answered from a list: the row that names X, or that X is not in the list."""
        asked = content_stems(scored.turn.question)
        name, row, where = lists.membership(scored.turn.question, asked, scored.candidates, self.retriever.chunks)
        if row is not None:
            return self.compose(scored, [row], listed=True)
        if not name or where is None:
            return None
        title = lists.list_title(where)
        text = f"Nej, {name} finns inte med i listan ”{title}”. [1]"
        citation = Citation(1, where.hit.chunk, (title,))
        return Answer(scored.turn.question, text, False, (citation,), scored.hits, scored.turn.query)

    def score(self, question: str, history: Sequence[str] = (), *, doc_ids: Sequence[str] | None = None) -> Scored:
        """Retrieve (from ``doc_ids`` only, when given), build candidates and score them with both models.

        With ``doc_ids`` the word statistics (idf, known words) are those of those documents alone, as
        if the others were not in the knowledge base (training asks questions with their own document
        left out this way)."""
        vocabulary = self.vocabulary
        if doc_ids:  # as in retrieval, an empty list filters nothing
            wanted = set(doc_ids)
            vocabulary = vocabulary.without(c for c in self.retriever.chunks if c.doc_id not in wanted)
        turn = resolve_turn(question, history)
        query = self.expand_acronyms(turn.query)
        turn = Turn(turn.question, query, turn.kind, turn.stems, turn.history_stems, turn.verb)
        k = max(self.retriever.settings.top_k, self.policy.passages, 5)
        hits = tuple(self.retriever.search(query, k=k, doc_ids=doc_ids))
        candidates = build_candidates(hits, passages=self.policy.passages)
        if not asks_about_appendices(turn.query):  # the conversation's topic counts ("Och den tredje?")
            candidates = [c for c in candidates if not names_appendix(c.parts[0])]
        vector = self.retriever.query_vector(query)
        q = Question(question, turn.kind, turn.stems, turn.history_stems, vector, is_english(question))
        parts = [p for c in candidates for p in c.parts]
        table = self.units.vectors(parts) if parts else np.zeros((0, len(vector)), np.float32)
        vectors, offset = [], 0
        for c in candidates:
            vectors.append(table[offset : offset + len(c.parts)])
            offset += len(c.parts)
        rows = candidate_features(q, candidates, vectors, vocabulary.idf)
        logits = self.ranker.logits(rows)
        passages = hits[: self.policy.passages]
        qrow = question_features(q, candidates, rows, logits, passages, vocabulary.known, vocabulary.idf)
        confidence = float(self.gate.probabilities(qrow[None, :])[0]) if candidates and supported(q, qrow) else 0.0
        return Scored(turn, q, hits, candidates, rows, logits, qrow, confidence, vocabulary)

    def threshold(self, question: Question) -> float:
        """The abstention threshold. A question in another language is never declined: no data in
        another language exists to calibrate that decision (its answer carries the English lead-in
        and its sources, so the reader can judge)."""
        return 0.0 if question.english else self.gate.threshold

    def choose(self, scored: Scored) -> list[Candidate]:
        """The best candidate, and a close second that does not overlap it (see ``choose``).

        A list question takes a list about what it asks for (``lists.pick_list``) over a best sentence;
        a chosen item, row or lead-in brings its whole list (``compose``)."""
        ratio = self.policy.second_ratio or float(self.ranker.meta.get("second_ratio", 2.0))
        chosen = [scored.candidates[i] for i in choose(scored.candidates, scored.logits, ratio)]
        if scored.turn.kind == "list" and lists.governed(scored.turn.question) == tokenize("bilagor"):
            listed = [i for i, c in enumerate(scored.candidates) if self._lists_appendix(c)]
            if listed:  # "Vilka bilagor finns?": the report's list of appendices, whole (``_whole_list``)
                return [scored.candidates[max(listed, key=lambda i: float(scored.logits[i]))]]
        if scored.turn.kind == "list" and chosen[0].kind not in (ITEM, ROW, LEAD_IN):
            pick = lists.pick_list(scored.candidates, scored.logits, scored.turn.question)
            if pick is not None:
                return [scored.candidates[pick]]
        return chosen

    def compose(self, scored: Scored, chosen: list[Candidate], *, floor: bool = False, listed: bool = False) -> Answer:
        """The answer text: quotes with [n] citations, the asked fact in bold, form fitted to the question.
        ``listed``: the quote is the list entry that names what a yes/no question asks about ("Ja,",
        unless the question is negated: then the quote must settle it as any other)."""
        turn = scored.turn
        numbers: dict[str, int] = {}
        quoted: dict[str, list[str]] = {}
        parts: list[str] = []
        texts = [self._whole_list(c) if turn.kind == "list" and not floor else c.text for c in chosen]
        for cand, text in zip(chosen, texts, strict=True):
            n = numbers.setdefault(cand.hit.chunk.chunk_id, len(numbers) + 1)
            quoted.setdefault(cand.hit.chunk.chunk_id, []).append(text)
            parts.append(f"{_bold(text, turn.kind)} [{n}]")
        english = is_english(turn.question)
        if turn.kind == "yesno" and not floor and not english:
            lead = "Ja," if listed and not _NEGATION.search(turn.question) else self._yes_no(turn, chosen[0])
            parts[0] = f"{lead} {parts[0]}"
        if english:
            parts.insert(0, ENGLISH_LEAD)
        notes = self._missing_appendix_notes(turn.query, texts)
        body = "\n\n".join(parts) + ("\n\n" + " ".join(notes) if notes else "")
        by_id = {h.chunk.chunk_id: h.chunk for h in scored.hits}
        citations = tuple(
            Citation(n, by_id[cid], tuple(quoted[cid])) for cid, n in sorted(numbers.items(), key=lambda p: p[1])
        )
        return Answer(turn.question, body, False, citations, scored.hits, turn.query, tuple(notes), scored.confidence)

    def _yes_no(self, turn: Turn, cand: Candidate) -> str:
        """ "Ja,"/"Nej," when the quote covers the question and says what it asks (its verb, ``_states``:
        "Kräver en padelbana lov?" is settled by "Padelbanor kräver inte lov", "Får man ha en
        padelbana?" is not); otherwise say the documents do not settle it. Of a quote of two
        sentences, the one with the verb that covers the question best says yes or no."""
        if coverage(turn.stems, set(tokenize(cand.text)), self.idf) < self.policy.yes_no_coverage:
            return UNSURE_YES_NO
        stating = [part for part in cand.parts if _states(turn.verb, part)]
        if not stating:
            return UNSURE_YES_NO
        said = max(stating, key=lambda part: coverage(turn.stems, set(tokenize(part)), self.idf))
        asked_negative = bool(_NEGATION.search(turn.question))
        stated_negative = bool(_NEGATION.search(said))
        return "Ja," if asked_negative == stated_negative else "Nej,"

    def _whole_list(self, cand: Candidate) -> str:
        """For a list question: an item or row comes with its lead-in and every item of its list;
        a table's rows come from every passage it was cut into. A line naming an appendix comes with
        the other lines around it that name one, bullet or not (a report's list of appendices often
        has none on its first line)."""
        if cand.kind == ROW:
            return "\n".join(f"- {row}" for row in lists.whole_table(cand, self.retriever.chunks))
        appendix = names_appendix(cand.text)
        if cand.kind != ITEM and not appendix:
            return cand.text
        units = split_units(cand.hit.chunk.text)

        def same(unit: Unit) -> bool:
            return names_appendix(unit.text) if appendix else unit.kind == ITEM

        start = cand.index
        while start > 0 and same(units[start - 1]):
            start -= 1
        end = cand.index
        while end + 1 < len(units) and same(units[end + 1]):
            end += 1
        lines = [f"- {u.text}" for u in units[start : end + 1]]
        if start > 0 and units[start - 1].text.endswith(":"):
            lines.insert(0, units[start - 1].text)
        return "\n".join(lines)

    def _lists_appendix(self, cand: Candidate) -> bool:
        """True for a line of the report's own list of appendices (not a contents line, nor an added
        appendix's heading)."""
        return _lists_appendices(cand.hit.chunk) and not DOT_LEADER.search(cand.text) and names_appendix(cand.text)

    def _find_appendix_titles(self) -> dict[int, str]:
        """{number: title} of the appendices the report lists ("Bilaga 2 Verksamhetsprogram …"), from
        the report's own text (kind "rapport"); a contents line (dot leaders, a page number) names a
        part of its own document, not an appendix to add."""
        titles: dict[int, str] = {}
        for chunk in filter(_lists_appendices, self.retriever.chunks):
            for number, title in _APPENDIX_LINE.findall(chunk.text):
                if not DOT_LEADER.search(title):
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

    def _find_appendix_words(self) -> dict[str, int]:
        """{stem: appendix}: words of a missing appendix's title (of five letters or more) that no
        passage uses without referring to that appendix by number ("marknadsplan" when every passage
        that says it also says "bilaga 3"); "Stockholm" in the same title is used everywhere and
        points nowhere."""
        referring: dict[int, list[Chunk]] = {number: [] for number in self._missing}
        for chunk in self.retriever.chunks:  # one pass, whatever the number of missing appendices
            for number in _appendix_numbers(chunk.text) & referring.keys():
                referring[number].append(chunk)
        words: dict[str, int] = {}
        for number, chunks in referring.items():
            counts = Counter(s for c in chunks for s in set(tokenize(c.text)))
            for stem in tokenize(self._missing[number]):
                if len(stem) >= 5 and stem.isalpha() and counts[stem] == self.vocabulary.count(stem) > 0:
                    words.setdefault(stem, number)
        return words

    def _missing_appendix_notes(self, query: str, texts: list[str], *, declined: bool = False) -> list[str]:
        """One note on the missing appendices that the quoted texts or the question refer to: by number,
        or by a word of a title that points to it (``_find_appendix_words``). When the question is
        declined, the note says that the answer probably lies there; when the quote already gives their
        titles (a list of appendices), it only says which are missing."""
        missing = self._missing
        wanted: set[int] = set()
        for text in [*texts, query]:
            wanted |= _appendix_numbers(text)
        wanted |= {n for s in tokenize(query) for word, n in self._appendix_words.items() if _inflects(s, word)}
        numbers = [n for n in sorted(wanted) if n in missing]
        if not numbers:
            return []
        found = [f"Bilaga {n} ({missing[n]})" for n in numbers]
        if declined:
            return [f"Svaret finns troligen i {_listed(found, 'eller')}, som inte har lagts till i kunskapsbasen."]
        quoted = " ".join(" ".join(text.split()) for text in texts)
        if all(missing[n] in quoted for n in numbers):
            if len(numbers) == 1:
                return [f"Bilaga {numbers[0]} har inte lagts till i kunskapsbasen."]
            return [f"Bilagorna {_listed([str(n) for n in numbers], 'och')} har inte lagts till i kunskapsbasen."]
        if len(found) == 1:
            return [f"Mer finns i {found[0]}, men den bilagan har inte lagts till i kunskapsbasen."]
        return [f"Mer finns i {_listed(found, 'och')}, men de bilagorna har inte lagts till i kunskapsbasen."]


_PASSAGE_COVERAGE = QUESTION_FEATURES.index("passage_coverage")


def _lists_appendices(chunk: Chunk) -> bool:
    """True for a passage where the report may list its appendices: the report's own text, not a
    contents page."""
    return chunk.kind == KIND_REPORT and chunk.role != "contents"


def _appendix_numbers(text: str) -> set[int]:
    """The appendices a text refers to by number."""
    return {int(n) for n in _APPENDIX_REF.findall(text)}


def _inflects(word: str, stem: str) -> bool:
    """True when a question's ``word`` is ``stem`` or ``stem`` with an ending the stemmer left
    (verksamhetsprogrammet for verksamhetsprogram); not a shorter word ("verksam" is no programme)."""
    return word == stem or (len(stem) >= 6 and word.startswith(stem) and len(word) - len(stem) <= 3)


def asks_about_appendices(question: str) -> bool:
    """True for a question about the appendices themselves ("Vilka bilagor finns?", "I vilken bilaga står
    förteckningen?"); not for one about what a numbered appendix holds ("Vilka kommuner står i bilaga 1?")."""
    return bool(_ABOUT_APPENDICES.search(question)) and not _APPENDIX_REF.search(question)


def _listed(items: Sequence[str], conjunction: str) -> str:
    """ "A", "A och B", "A, B och C" (or "eller")."""
    return items[0] if len(items) == 1 else f"{', '.join(items[:-1])} {conjunction} {items[-1]}"


def _states(verb: str, text: str) -> bool:
    """True when ``text`` uses the verb a yes/no question asks with, in any form the stemmer leaves
    apart ("krävdes" and "kräver"), or the verb is an auxiliary (``_AUXILIARIES``)."""
    if not verb or verb in _AUXILIARIES:
        return True
    return any(
        w == verb or (min(len(w), len(verb)) >= 4 and (w.startswith(verb) or verb.startswith(w)))
        for w in word_stems(text)
    )


def names_appendix(text: str) -> bool:
    """True for a line that only names an appendix ("Bilaga 2 Verksamhetsprogram och budget för … 2007"):
    a title in a list of appendices, not a statement (a sentence about an appendix ends with a stop)."""
    return bool(_APPENDIX_LINE.match(text)) and not text.rstrip().endswith((".", "!", "?", ":"))


def supported(question: Question, row: np.ndarray) -> bool:
    """False when none of a Swedish question's content words (or their compound parts) occurs in the
    passages found: an extractive answer then cannot be about what was asked (the confidence is 0).
    In SweQUAD-MC this holds for 14 of 1,190 removed-context questions and 1 answerable one. A
    follow-up is not judged this way: its own words may be few ("Vad kostar det?")."""
    return question.english or not question.stems or bool(question.history_stems) or row[_PASSAGE_COVERAGE] > 0


def choose(candidates: Sequence[Candidate], logits: np.ndarray, ratio: float) -> list[int]:
    """Indices of what to quote: the best candidate, plus the next best that does not overlap it when its
    odds are at least ``ratio`` times the best's (``ratio`` above 1: never a second quote)."""
    order = np.argsort(-logits, kind="stable")
    chosen = [int(order[0])]
    for i in order[1:4]:
        if logits[i] < logits[order[0]] + math.log(ratio):
            break
        if not any(_overlaps(candidates[int(i)], candidates[j]) for j in chosen):
            chosen.append(int(i))
            break
    return chosen


def _overlaps(a: Candidate, b: Candidate) -> bool:
    """True when two candidates quote some of the same text."""
    if a.hit.chunk.chunk_id != b.hit.chunk.chunk_id:
        return bool(set(a.parts) & set(b.parts))
    a_end, b_end = a.index + len(a.parts) - 1, b.index + len(b.parts) - 1
    return a.index <= b_end and b.index <= a_end


def _has_function_word(phrase: str, kind: str) -> bool:
    """True when a capitalised run is no name: one of its words is an article or a pronoun that
    starts the next sentence ("Inventeringsansvarig Den tjänsteman …"; "Hans Andersson" is a name)."""
    if kind not in ("name", "place"):
        return False
    words = phrase.split()
    if kind == "place":
        words = words[1:]  # the preposition
    return any(w.lower() in _NOT_NAMES for w in words)


def _bold(text: str, kind: str) -> str:
    """The first phrase of the asked type (amount, date, …) in bold; the text unchanged otherwise."""
    if kind not in _BOLD_KINDS:
        return text
    pattern = {"name": _FULL_NAME, "date": _FULL_DATE}.get(kind)
    plain = without_references(text)
    matches = [*(pattern.finditer(text) if pattern else ()), *HOLDS[kind].finditer(plain)]
    # a name is no function word, nor has one among its words ("Inventeringsansvarig Den tjänsteman …")
    match = next((m for m in matches if m.group(0).strip() and not _has_function_word(m.group(0), kind)), None)
    if match is None:
        return text
    start, end = match.span()
    phrase = text[start:end].rstrip(" ,.")
    end = start + len(phrase)
    return f"{text[:start]}**{phrase}**{text[end:]}"
