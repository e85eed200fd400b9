"""Lexical search: BM25 (bm25s) with Swedish stopwords and the Swedish Snowball stemmer."""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Sequence
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

_WORD = re.compile(r"\w+", re.UNICODE)
# Bumped whenever tokenize() or the BM25 parameters change, so saved indexes made with another version are rebuilt.
TOKENIZER_VERSION = 5
# Tuned on SweQUAD-MC training+dev and SweFAQ dev (docs/evaluation.md): short passages favour low b.
BM25_K1 = 0.9
BM25_B = 0.4
# Question and auxiliary words that the Snowball list lacks.
_EXTRA_STOPWORDS = {
    "ska",
    "skall",
    "hur",
    "vilka",
    "vilken",
    "vilket",
    "vem",
    "vad",
    "varför",
    "finns",
    "får",
    "kan",
    "bör",
}


@lru_cache(maxsize=1)
def _stemmer() -> Any:
    import Stemmer

    return Stemmer.Stemmer("swedish")


@lru_cache(maxsize=1)
def swedish_stopwords() -> frozenset[str]:
    """The Swedish stopwords that ``tokenize`` drops."""
    from bm25s.stopwords import STOPWORDS_SWEDISH

    return frozenset(STOPWORDS_SWEDISH) | _EXTRA_STOPWORDS


# Only m and n: "medlem"/"medlemmar", "vän"/"vännen", "program"/"programmen". Base forms keep the
# other doubled consonants ("full", "rätt", "grupp"), and undoubling them merges words ("vissa" with
# "visa", "större" with "stör"). Some m/n words merge too (vinna/vin, damm/dam, brunn/brun): the
# price of medlem/medlemmar meeting.
_UNDOUBLED = "mn"


def tokenize(text: str) -> list[str]:
    """Lower-case words, Swedish stopwords removed, stemmed; a stem's final "mm" or "nn" is made
    single, as in the base form ("medlemmar" and "medlem" both give "medlem")."""
    words = [w for w in _WORD.findall(text.lower()) if w not in swedish_stopwords()]
    return [_undouble(s) for s in _stemmer().stemWords(words)]


def word_stems(text: str) -> list[str]:
    """Every word of ``text`` stemmed as ``tokenize`` does, stopwords kept ("får", "är", "kan")."""
    return [_undouble(s) for s in _stemmer().stemWords(_WORD.findall(text.lower()))]


def _undouble(stem: str) -> str:
    """The Swedish Snowball stemmer leaves the doubled m or n of an inflected form ("medlemm",
    "gemensamm", "vänn") that the base form lacks."""
    return stem[:-1] if len(stem) > 3 and stem[-1] in _UNDOUBLED and stem[-1] == stem[-2] else stem


class LexicalIndex:
    """BM25 over chunk texts, addressed by chunk id."""

    def __init__(self, ids: Sequence[str], model: Any) -> None:
        self.ids = list(ids)
        self._model = model
        self._row = {chunk_id: i for i, chunk_id in enumerate(self.ids)}

    @classmethod
    def build(cls, ids: Sequence[str], texts: Sequence[str]) -> LexicalIndex:
        import bm25s

        model = bm25s.BM25(k1=BM25_K1, b=BM25_B)
        if texts:
            model.index([tokenize(t) or [""] for t in texts], show_progress=False)
        return cls(ids, model)

    def scores(self, query: str) -> np.ndarray:
        """BM25 score of every chunk, in ``ids`` order."""
        tokens = tokenize(query)
        if not self.ids or not tokens:
            return np.zeros(len(self.ids), dtype=np.float32)
        return np.asarray(self._model.get_scores(tokens), dtype=np.float32)

    def row(self, chunk_id: str) -> int | None:
        return self._row.get(chunk_id)

    def save(self, folder: Path) -> None:
        """Write the index to ``folder`` atomically (a sibling folder renamed into place)."""
        staging = folder.with_name(folder.name + ".new")
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        if self.ids:
            self._model.save(str(staging / "bm25"))
        (staging / "ids.json").write_text(json.dumps({"version": TOKENIZER_VERSION, "ids": self.ids}))
        old = folder.with_name(folder.name + ".old")
        shutil.rmtree(old, ignore_errors=True)
        if folder.exists():
            folder.rename(old)
        staging.rename(folder)
        shutil.rmtree(old, ignore_errors=True)

    @staticmethod
    def is_current(folder: Path) -> bool:
        """True when ``folder`` holds an index made by this tokenizer version (cheap: nothing is loaded)."""
        try:
            saved = json.loads((folder / "ids.json").read_text())
        except (OSError, ValueError):
            return False
        return isinstance(saved, dict) and saved.get("version") == TOKENIZER_VERSION

    @classmethod
    def load(cls, folder: Path) -> LexicalIndex | None:
        """The saved index, or None when there is none or it was made by another tokenizer."""
        ids_file = folder / "ids.json"
        if not ids_file.is_file():
            return None
        import bm25s

        try:
            saved = json.loads(ids_file.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return None  # damaged: the caller rebuilds it from the chunks
        if not isinstance(saved, dict) or saved.get("version") != TOKENIZER_VERSION:
            return None
        ids = saved.get("ids")
        if not isinstance(ids, list) or not all(isinstance(i, str) for i in ids):
            return None
        if not ids:
            return cls([], None)
        try:
            return cls(ids, bm25s.BM25.load(str(folder / "bm25")))
        except (OSError, ValueError, KeyError) as exc:
            logging.getLogger(__name__).warning("BM25-indexet i %s är skadat (%s); det byggs om.", folder, exc)
            return None
