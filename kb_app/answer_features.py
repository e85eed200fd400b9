"""Features of answer candidates for the learned ranker and the abstention model.

The question asks for a type of fact (``question_type``: amount, date, count, duration, name,
measure, place, reason, yes/no, list, definition or other); general patterns tell which types a sentence
holds (``held_types``). Each candidate gets a vector of ``FEATURES``: dense similarity of the
question and its sentences, idf-weighted coverage of the question's content words, the passage's
retrieval score and rank, answer-type match, position and length. ``question_features`` summarise
a whole question's candidates for the abstention model.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from kb_app.candidates import ITEM, LEAD_IN, PAIR, ROW, Candidate, split_units
from kb_app.lexical import tokenize, word_stems
from kb_app.models import Hit

FACT_TYPES = ("amount", "date", "count", "duration", "measure", "name", "place", "reason")

_NUMBER = r"\d[\d  ,.]*"
MONTHS = "januari|februari|mars|april|maj|juni|juli|augusti|september|oktober|november|december"
_NUMBER_WORDS = "två|tre|fyra|fem|sex|sju|åtta|nio|tio|elva|tolv|tjugo|trettio|fyrtio|femtio|hundra|tusen"
# words that follow a number without being its unit ("kapitel 2 och 3 i …")
_FUNCTION_WORDS = "och|eller|i|av|på|till|för|med|om|att|som|är|var|den|det|de|en|ett|kap|st|ff|and|or|of|in|to"
_UNITS = "kronor|kr|tkr|mkr|miljon\\w*|miljard\\w*|procent|%|euro|sek|€|\\$"

# References to statutes, bills and their parts ("(NFS 2014:23)", "prop. 1998/99:110", "2012/13:187",
# "21 kap. 7 §", "36 §", "artikel 9a", "punkt 1", "95/46/EG"): their numbers are no count, year or
# measure to put in bold. The features still see them (HOLDS): a retrain that blanked them was not
# kept in the sixteenth round (docs/evaluation.md).
REFERENCE = re.compile(
    r"(?:\b[A-ZÅÄÖ]{2,5}|\b(?:prop|bet|rskr|dir|skr)\.)\s*\d{4}(?:/\d{2})?:\s?\w+"
    r"|\b\d{4}/\d{2,4}:\w+"
    r"|\b\d+\s*kap\.(?:\s*\d+\s*[a-z]?\s*§+)?"
    r"|\b\d+\s*[a-z]?\s*§+"
    r"|§+\s*\d+"
    r"|\b(?:artikel|artiklarna|art\.|punkt|punkterna)\s*\d+\s?[a-z]?\b"
    r"|\b\d{2,4}/\d+/[A-Z]{2,3}\b"
    r"|\(EU\)\s*(?:nr\s*)?\d{2,4}/\d+",
    re.I,
)


def without_references(text: str) -> str:
    """``text`` with its references (``REFERENCE``) blanked, the same length (spans stay valid)."""
    return REFERENCE.sub(lambda m: " " * len(m.group(0)), text)


# What a sentence holds. Case-sensitive where capitals matter (names and places).
HOLDS: dict[str, re.Pattern[str]] = {
    "amount": re.compile(rf"{_NUMBER}\s*(?:{_UNITS})\b|{_NUMBER}\s*%|(?:{_NUMBER_WORDS})\s+(?:{_UNITS})\b", re.I),
    "date": re.compile(
        rf"\b(?:1[89]|20)\d\d\b|\b\d{{1,2}}\s+(?:{MONTHS})\b|\b(?:{MONTHS})\b|\b\d{{4}}-\d\d-\d\d\b"
        r"|\b(?:våren|hösten|sommaren|vintern|årsskiftet|kvartal)\b",
        re.I,
    ),
    "count": re.compile(rf"\b(?!(?:1[89]|20)\d\d\b)\d+\b(?![/-]\d)(?!\s*(?:{_UNITS}))|\b(?:{_NUMBER_WORDS})\b", re.I),
    "duration": re.compile(
        rf"\b(?:\d+|{_NUMBER_WORDS}|en|ett)\s+(?:år|månader|månad|veckor|vecka|dagar|dag|timmar|timme)\b"
        r"|\w+årig\w*|\b(?:1[89]|20)\d\d\s*[-–]\s*(?:1[89]|20)\d\d\b",
        re.I,
    ),
    # a number with a unit or noun after it: "5 km", "0,1 ppm", "3,6 meter", "9 bäddar" (not a year)
    "measure": re.compile(
        r"(?<![\d,.:/-])(?!(?:1[89]|20)\d\d\b)\d+(?:[,.]\d+)?(?![\d.:/-])\s?"
        rf"(?:%|(?!(?:{_FUNCTION_WORDS})\b)[^\W\d_]+\b)",
        re.I,
    ),
    # a capitalised word that does not start the sentence (a name, an authority, a title)
    "name": re.compile(r"(?<=[\w,;:)]\s)[A-ZÅÄÖ][\wåäöé]+(?:\s+[A-ZÅÄÖ][\wåäöé]+)*"),
    "place": re.compile(r"\b(?:i|på|från|till|inom|utanför)\s+[A-ZÅÄÖ][\wåäöé]+"),
    "reason": re.compile(r"\b(?:för att|eftersom|därför|på grund av|syftet|i syfte|syfte att|so that|because)\b", re.I),
}

# What a question asks for, from its interrogative frame (Swedish and English).
_ASKS: tuple[tuple[str, re.Pattern[str]], ...] = (
    (
        "amount",
        re.compile(
            rf"^(hur mycket|vad kostar|vilke[nt] \w*(belopp|avgift|kostnad|summa|pris)|how much|hur många ({_UNITS}))\b"
        ),
    ),
    ("count", re.compile(r"^(hur många|hur stort antal|how many)\b")),
    ("duration", re.compile(r"^(hur länge|hur lång tid|under hur lång|how long|for how long)\b")),
    (
        "date",
        re.compile(r"^(när|vilket år|vilket \w*datum|vilken \w*dag|vilken tidpunkt|från och med när|when|what year)\b"),
    ),
    (
        "measure",
        re.compile(
            r"^(hur (stor|stort|stora|hög|högt|höga|bred|brett|djup|tung|gammal|gammalt|lång|långt|långa)"
            r"|how (big|large|high|wide|old|long))\b"
        ),
    ),
    (
        "name",
        re.compile(
            r"^(vem|vilka personer|vilken \w*(myndighet|organisation|person)|vilka \w*(myndigheter|aktörer)|who)\b"
        ),
    ),
    ("place", re.compile(r"^(var|vart|i vilken (stad|kommun|region|län|land)|where)\b")),
    ("reason", re.compile(r"^(varför|vilken anledning|vilket skäl|vad är syftet|why)\b")),
    ("definition", re.compile(r"^(vad (är|betyder|innebär|menas|avses)|what (is|are|does .* mean))\b")),
    ("list", re.compile(r"^(vilka|vad ingår|lista|nämn|which|what are)\b")),
    (
        "yesno",
        re.compile(
            r"^(är|finns|får|kan|ska|skall|måste|behöver|har|gäller|omfattas|ingår|krävs|bör|blir|var|do|does|is|are|can|must|may|has|have)\b"
        ),
    ),
)

# Words that may stand before the interrogative: prepositions ("Från vilket datum …", "Vid hur många
# tillfällen …") and adverbs of approximation ("Ungefär hur många …").
_BEFORE_FRAME = (
    "och|men|från|efter|före|senast|sedan|till|vid|under|inom|i|med|för|av|på|om|inför|tillsammans|ungefär|cirka"
)

_FRAME = re.compile(
    rf"^\s*(?:(?:{_BEFORE_FRAME})\s+){{0,2}}?"
    r"(hur|how)\s+(lång|långt|långa|länge|stor|stort|stora|större|störst|mycket|många|ofta|gammal|gammalt|gamla"
    r"|hög|högt|höga|högre|högst|bred|brett|breda|djup|djupt|djupa|tung|tungt|tunga"
    r"|much|many|long|big|large|often|high|wide|old)\b"
)

FEATURES = (
    "bias",
    "dense",
    "dense_gap",
    "dense_first",
    "dense_second",
    "coverage",
    "coverage_gap",
    "coverage_context",
    "history_coverage",
    "passage_score",
    "passage_dense",
    "passage_lexical",
    "inverse_rank",
    "first_passage",
    "type_match",
    "type_missing",
    *(f"holds_{t}" for t in FACT_TYPES),
    "defines",
    "list_lead_in",
    "list_question",
    "is_pair",
    "is_lead_in",
    "is_item",
    "is_row",
    "position",
    "first_unit",
    "log_length",
    "short",
    "pair_overlap",
    "matched_idf",
    "new_words",
    "previous_coverage",
    "next_coverage",
    "dense_rank",
    "coverage_rank",
    "order_match",
    "proximity",
    "local_coverage",
    "english",
)

# Features that compare words: for a question in another language they carry no signal, so they are
# blanked (at answer time, and in the language-blind copies the models are trained on).
LEXICAL = frozenset(
    {
        "coverage",
        "coverage_gap",
        "coverage_context",
        "history_coverage",
        "passage_lexical",
        "defines",
        "pair_overlap",
        "matched_idf",
        "new_words",
        "previous_coverage",
        "next_coverage",
        "coverage_rank",
        "order_match",
        "proximity",
        "local_coverage",
        "best_local_coverage",
        "max_local_coverage",
        "best_coverage",
        "passage_coverage",
        "unknown_share",
        "best_pair_overlap",
        "max_coverage",
        "passage_max_coverage",
        "lexical_sharpness",
        "rarest_in_best",
        "covered_type",
        "missing_rare",
        "missing_idf",
    }
)

QUESTION_FEATURES = (
    "bias",
    "best_probability",
    "best_logit",
    "best_dense",
    "top_passage_dense",
    "best_coverage",
    "passage_coverage",
    "unknown_share",
    "type_available",
    "english",
    "best_pair_overlap",
    "max_coverage",
    "logit_margin",
    "matched_idf",
    "passage_max_coverage",
    "dense_sharpness",
    "lexical_sharpness",
    "rarest_in_best",
    "asks_fact",
    "best_type",
    "covered_type",
    "missing_rare",
    "missing_idf",
    "top_agrees",
    "best_passage_rank",
    "dense_margin",
    "lexical_margin",
    "best_local_coverage",
    "max_local_coverage",
)


_COL = {name: i for i, name in enumerate(FEATURES)}


_LEADING = re.compile(rf"^(?:{_BEFORE_FRAME}|upp till|fram till|from|after|before|until|by|in|at|for|to|of|on)\s+")


def question_type(question: str) -> str:
    """The kind of answer a question wants (see _ASKS); "other" when its frame says nothing.

    The frame may follow a preposition ("Från vilket datum", "Vid hur många tillfällen")."""
    q = _asking_sentence(question.strip()).lower().lstrip("¿-–— ")
    for _ in range(4):
        for kind, pattern in _ASKS:
            if pattern.match(q):
                return kind
        stripped = _LEADING.sub("", q, count=1)
        if stripped == q:
            break
        q = stripped
    return "yesno" if _VERB_FIRST.match(q) and q.endswith("?") else "other"


# Swedish asks yes/no by putting the finite verb first ("Behövs bygglov …?", "Ärver barnet …?"):
# a present tense ends in -r or -s, a past tense in -de/-te, or it is one of the irregular auxiliaries.
# A subject follows the verb; a noun phrase ("Regler för hotell?", "Projektets budget?") has a
# preposition, a number or nothing after its first word, or starts with a definite genitive.
_VERB_FIRST = re.compile(
    r"^(?!(?:och|men|eller|om|jag|vi|du|ni|man|min|mitt|mina|vår|vårt|våra|dom|de|det|den|detta|denna|dessa|där|här)\b)"
    r"(?!(?:\S+\s+){0,3}(?:vad|vem|vems|vilk\w*|hur|när|var|vart|varför|varifrån)\b)"
    r"(?![^\W\d_]+(?:ens|ets|ans|ernas|arnas|ornas)\s)"
    r"(?:[^\W\d_]+(?:[^\W\d_]r|[^\W\d_]s|de|te)|kan|ska|vill|bör|fick|blev|gick|kom|fanns|gav)\s+"
    rf"(?!(?:{_BEFORE_FRAME}|och|eller)\b|\d)[^\W\d_]"
)


def asked_verb(question: str) -> str:
    """The stem of the first word of the sentence that asks: the finite verb of a yes/no question
    ("Behövs bygglov …?" gives behöv, "Får man …?" får)."""
    stems = word_stems(_asking_sentence(question.strip()))
    return stems[0] if stems else ""


def _asking_sentence(question: str) -> str:
    """The sentence that asks: a question of several sentences ("Mitt barn har astma. Vad ska jag
    tänka på?") asks in its first sentence that ends with a question mark. A sentence ends at ? or !,
    or at a full stop after a word of four letters or more before a capital ("t.ex." and "enl." do
    not end one)."""
    parts = re.split(r"(?<=[?!])\s+|(?<=[^\W\d_]{4}\.)\s+(?=[A-ZÅÄÖ])", question)
    asking = [s for s in parts if s.endswith("?")]
    return asking[0] if asking else question


@lru_cache(maxsize=65_536)
def held_types(text: str) -> frozenset[str]:
    """The types of fact a sentence holds, by the general patterns in HOLDS (cached: passages recur)."""
    return frozenset(kind for kind, pattern in HOLDS.items() if pattern.search(text))


@lru_cache(maxsize=65_536)
def stems(text: str) -> tuple[str, ...]:
    """``tokenize(text)``, cached for candidate and passage texts, which recur between questions."""
    return tuple(tokenize(text))


def content_stems(question: str) -> list[str]:
    """The question's stems that carry content: the frame of "hur lång/stor/mycket/många" is dropped."""
    frame = _FRAME.match(question.lower())
    skip = set(tokenize(frame.group(2))) if frame else set()
    return [s for s in dict.fromkeys(tokenize(question)) if s not in skip]


@dataclass(frozen=True)
class Question:
    """What the features need to know about a question."""

    text: str
    kind: str
    stems: tuple[str, ...]  # the current turn's content stems
    history_stems: tuple[str, ...]  # stems that only earlier turns bring
    vector: np.ndarray  # the query embedding used for retrieval
    english: bool


def _match(stem: str, words: set[str]) -> float:
    """1 for the stem itself; 0.5 when one stands inside the other as part of a Swedish compound
    (investering ~ investeringsfrämjande, telefonnummer ~ telefon)."""
    if stem in words:
        return 1.0
    n = len(stem)
    if n < 5:  # the shorter part would be under 5 letters
        return 0.0
    for word in words:
        if (stem in word) if len(word) > n else (len(word) >= 5 and word in stem):
            return 0.5
    return 0.0


def coverage(stems: Sequence[str], words: set[str], idf: Callable[[str], float]) -> float:
    """Idf-weighted share of ``stems`` found in ``words`` (compound parts count half)."""
    weights = [idf(s) for s in stems]
    total = sum(weights)
    if total <= 0:
        return 0.0
    return sum(w * _match(s, words) for s, w in zip(stems, weights, strict=True)) / total


def candidate_features(
    question: Question,
    candidates: Sequence[Candidate],
    vectors: Sequence[np.ndarray],
    idf: Callable[[str], float],
) -> np.ndarray:
    """One row of FEATURES per candidate; ``vectors[i]`` holds the unit vectors of candidate i."""
    rows = np.zeros((len(candidates), len(FEATURES)), dtype=np.float64)
    if not candidates:
        return rows
    top_lexical = max((c.hit.lexical_score or 0.0) for c in candidates) or 1.0
    asks_fact = question.kind in FACT_TYPES
    for i, (cand, parts) in enumerate(zip(candidates, vectors, strict=True)):
        sims = parts @ question.vector
        joined = parts.sum(axis=0)
        dense = float(joined @ question.vector / (np.linalg.norm(joined) or 1.0))
        words = set(stems(cand.text))
        context = words | set(stems(" ".join((cand.hit.chunk.title, *cand.hit.chunk.section))))
        holds = held_types(cand.text)
        f = rows[i]
        f[1] = dense
        f[3] = float(sims[0])
        f[4] = float(sims[1:].max()) if len(sims) > 1 else 0.0
        f[5] = coverage(question.stems, words, idf)
        f[7] = coverage(question.stems, context, idf)
        f[8] = coverage(question.history_stems, words, idf)
        f[9] = cand.hit.score
        f[10] = cand.hit.dense_score or 0.0
        f[11] = (cand.hit.lexical_score or 0.0) / top_lexical
        f[12] = 1.0 / cand.hit.rank
        f[13] = float(cand.hit.rank == 1)
        f[14] = float(asks_fact and question.kind in holds)
        f[15] = float(asks_fact and question.kind not in holds)
        for j, kind in enumerate(FACT_TYPES):
            f[16 + j] = float(kind in holds)
        base = 16 + len(FACT_TYPES)
        f[base] = float(question.kind == "definition" and _defines(cand.text, question.stems))
        f[base + 1] = float(question.kind in ("list", "other") and cand.kind == LEAD_IN)
        f[base + 2] = float(question.kind == "list")
        f[base + 3] = float(cand.kind == PAIR)
        f[base + 4] = float(cand.kind == LEAD_IN)
        f[base + 5] = float(cand.kind == ITEM)
        f[base + 6] = float(cand.kind == ROW)
        f[base + 7] = cand.index / max(1, cand.count - 1)
        f[base + 8] = float(cand.index == 0)
        f[base + 9] = math.log(1 + len(cand.text))
        f[base + 10] = float(len(cand.text) < 30)
    _lexical_features(question, candidates, rows, idf)
    rows[:, 0] = 1.0
    rows[:, 2] = rows[:, 1] - rows[:, 1].max()
    rows[:, 6] = rows[:, 5] - rows[:, 5].max()
    rows[:, _COL["dense_rank"]] = 1.0 / (1 + np.argsort(np.argsort(-rows[:, 1], kind="stable")))
    rows[:, _COL["coverage_rank"]] = 1.0 / (1 + np.argsort(np.argsort(-rows[:, 5], kind="stable")))
    return language_blind(rows, FEATURES) if question.english else rows


def language_blind(rows: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """``rows`` with the word-comparing features blanked and the "english" flag set."""
    blind = rows.copy()
    for i, name in enumerate(names):
        if name in LEXICAL:
            blind[..., i] = 0.0
        elif name == "english":
            blind[..., i] = 1.0
    return blind


def _lexical_features(
    question: Question, candidates: Sequence[Candidate], rows: np.ndarray, idf: Callable[[str], float]
) -> None:
    """Word-pair overlap, matched idf mass, new words, and how well the neighbouring units match."""
    asked = set(question.stems)
    asked_pairs = set(zip(question.stems, question.stems[1:], strict=False))
    neighbours: dict[str, list[float]] = {}
    local = _local_weights(question.stems, candidates, idf)
    for i, cand in enumerate(candidates):
        found = stems(cand.text)
        words = set(found)
        pairs = set(zip(found, found[1:], strict=False))
        f = rows[i]
        f[_COL["pair_overlap"]] = len(asked_pairs & pairs) / len(asked_pairs) if asked_pairs else 0.0
        f[_COL["matched_idf"]] = math.log1p(sum(idf(s) for s in asked & words))
        f[_COL["new_words"]] = len(words - asked) / max(1, len(words))
        f[_COL["order_match"]] = _common_subsequence(question.stems, found) / max(1, len(question.stems))
        positions = [j for j, s in enumerate(found) if s in asked]
        f[_COL["proximity"]] = len(positions) / (positions[-1] - positions[0] + 1) if positions else 0.0
        f[_COL["local_coverage"]] = coverage(question.stems, words, local)
        chunk = cand.hit.chunk
        if chunk.chunk_id not in neighbours:
            neighbours[chunk.chunk_id] = [
                coverage(question.stems, set(stems(u.text)), idf) for u in split_units(chunk.text)
            ]
        cover = neighbours[chunk.chunk_id]
        f[_COL["previous_coverage"]] = cover[cand.index - 1] if cand.index > 0 else 0.0
        last = cand.index + len(cand.parts)
        f[_COL["next_coverage"]] = cover[last] if last < len(cover) else 0.0


def _local_weights(
    asked: Sequence[str], candidates: Sequence[Candidate], idf: Callable[[str], float]
) -> Callable[[str], float]:
    """Idf times the share of the retrieved passages that lack the word: the words every passage shares
    name the topic, the rest name what is asked about it ("handläggare" beside the report's own name)."""
    passages = [set(stems(c.hit.chunk.text)) for c in {c.hit.chunk.chunk_id: c for c in candidates}.values()]
    lacking = {s: sum(_match(s, words) == 0 for words in passages) / max(1, len(passages)) for s in asked}
    return lambda s: idf(s) * lacking.get(s, 1.0)


def _common_subsequence(a: Sequence[str], b: Sequence[str]) -> int:
    """Length of the longest common subsequence: the question's words in the candidate's order."""
    if not a or not b:
        return 0
    previous = [0] * (len(b) + 1)
    for x in a:
        current = [0]
        for j, y in enumerate(b):
            current.append(previous[j] + 1 if x == y else max(previous[j + 1], current[j]))
        previous = current
    return previous[-1]


def _defines(text: str, stems: Sequence[str]) -> bool:
    """True when the text says "<one of the question's words> är/innebär/avses …" (a definition)."""
    for match in re.finditer(r"([\wåäöÅÄÖ]+)\s+(?:är|innebär|avses|betyder|menas)\b", text):
        for word in tokenize(match.group(1)):
            if any(len(s) >= 3 and (word.startswith(s) or s.startswith(word)) for s in stems):
                return True
    return False


def question_features(
    question: Question,
    candidates: Sequence[Candidate],
    rows: np.ndarray,
    logits: np.ndarray,
    passages: Sequence[Hit],
    known: Callable[[str], bool],
    idf: Callable[[str], float],
) -> np.ndarray:
    """One row of QUESTION_FEATURES: how well the best candidates and passages support an answer at all."""
    values = {
        "bias": 1.0,
        "english": float(question.english),
        "asks_fact": float(question.kind in FACT_TYPES),
        **_passage_support(question.stems, passages, known, idf),
    }
    if len(logits):
        values.update(_candidate_support(question, candidates, rows, logits, idf))
    f = np.array([values.get(name, 0.0) for name in QUESTION_FEATURES], dtype=np.float64)
    return language_blind(f, QUESTION_FEATURES) if question.english else f


def _passage_support(
    asked: Sequence[str], passages: Sequence[Hit], known: Callable[[str], bool], idf: Callable[[str], float]
) -> dict[str, float]:
    """How much of the question the passages (and the documents at all) hold, and how peaked retrieval is."""
    passage_words = [set(stems(h.chunk.embedding_text())) for h in passages]  # headings count
    found = set().union(*passage_words)
    total = sum(idf(s) for s in asked) or 1.0
    missing = [idf(s) for s in asked if s not in found]
    values = {
        "passage_coverage": coverage(asked, found, idf),
        "unknown_share": sum(idf(s) for s in asked if not known(s)) / total,
        "missing_rare": max(missing) / max(idf(s) for s in asked) if missing else 0.0,
        "missing_idf": max(missing, default=0.0),
    }
    if not passages:
        return values
    dense = sorted((h.dense_score or 0.0 for h in passages), reverse=True)
    lexical = np.array([h.lexical_score or 0.0 for h in passages])
    top_lexical = np.sort(lexical)[::-1]
    first_dense = passages[0].dense_score or 0.0
    return values | {
        "passage_max_coverage": max(coverage(asked, words, idf) for words in passage_words),
        "dense_sharpness": first_dense - (passages[-1].dense_score or 0.0),
        "lexical_sharpness": float((lexical[0] - lexical.mean()) / (lexical.std() + 1e-6)),
        "top_agrees": float(first_dense >= dense[0] and lexical[0] >= lexical.max()),
        "dense_margin": dense[0] - dense[1] if len(dense) > 1 else 0.0,
        "lexical_margin": float((top_lexical[0] - top_lexical[1]) / (top_lexical[0] + 1e-6))
        if len(lexical) > 1
        else 0.0,
    }


def _candidate_support(
    question: Question,
    candidates: Sequence[Candidate],
    rows: np.ndarray,
    logits: np.ndarray,
    idf: Callable[[str], float],
) -> dict[str, float]:
    """How good the best candidates are: the ranker's verdict, their similarity, words and kind of fact."""
    best = int(np.argmax(logits))
    ordered = np.sort(logits)
    asks_fact = question.kind in FACT_TYPES
    typed = rows[:, _COL["type_match"]] if asks_fact else np.ones(len(rows))
    values = {
        "best_probability": 1.0 / (1.0 + math.exp(-float(logits[best]))),
        "best_logit": float(logits[best]),
        "best_dense": float(rows[:, _COL["dense"]].max()),
        "top_passage_dense": float(rows[:, _COL["passage_dense"]].max()),
        "best_coverage": float(rows[best, _COL["coverage"]]),
        "type_available": float(typed.max()),
        "best_pair_overlap": float(rows[:, _COL["pair_overlap"]].max()),
        "max_coverage": float(rows[:, _COL["coverage"]].max()),
        "logit_margin": float(ordered[-1] - ordered[-2]) if len(ordered) > 1 else 0.0,
        "matched_idf": float(rows[:, _COL["matched_idf"]].max()),
        "best_type": float(typed[best]),
        "covered_type": float((rows[:, _COL["coverage"]] * typed).max()),
        "best_passage_rank": float(rows[best, _COL["inverse_rank"]]),
        "best_local_coverage": float(rows[best, _COL["local_coverage"]]),
        "max_local_coverage": float(rows[:, _COL["local_coverage"]].max()),
    }
    if question.stems:
        values["rarest_in_best"] = float(max(question.stems, key=idf) in set(stems(candidates[best].text)))
    return values
