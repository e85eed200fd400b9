"""Which stems the documents use and how rare they are (document frequencies over passages).

A passage is read with its document title and heading trail, as BM25 and the embedding model read
it: a word that only a heading uses ("Tjänsteutlåtande 2007:10") is still a word of the documents.

The answer features weigh a question's words by their rarity (idf), and the abstention model asks
which of the question's words the documents never use. Training asks questions against the corpus
with their own document left out, so a ``Vocabulary`` can leave documents out too: the features
then see that corpus as it would be without them (BM25's own statistics still count them).
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field

from kb_app.lexical import tokenize
from kb_app.models import Chunk


def _document_frequencies(chunks: Iterable[Chunk]) -> tuple[Counter[str], int]:
    df: Counter[str] = Counter()
    n = 0
    for chunk in chunks:
        df.update(set(tokenize(chunk.embedding_text())))
        n += 1
    return df, n


@dataclass(frozen=True)
class Vocabulary:
    """Passage frequencies of stems: ``df`` over ``n`` passages, less the ``removed`` ones."""

    df: Counter[str]
    n: int
    removed: Counter[str] = field(default_factory=Counter)
    removed_n: int = 0
    # idf by stem, filled as asked: the answer features ask for the same few stems many times
    _idf: dict[str, float] = field(default_factory=dict, compare=False, repr=False)

    @classmethod
    def of(cls, chunks: Iterable[Chunk]) -> Vocabulary:
        df, n = _document_frequencies(chunks)
        return cls(df, n)

    def count(self, stem: str) -> int:
        """In how many passages the stem occurs."""
        return max(0, self.df.get(stem, 0) - self.removed.get(stem, 0))

    def idf(self, stem: str) -> float:
        value = self._idf.get(stem)
        if value is None:
            value = self._idf[stem] = math.log(1 + max(1, self.n - self.removed_n) / (1 + self.count(stem)))
        return value

    def known(self, stem: str) -> bool:
        """True when the documents use the stem at all."""
        return self.count(stem) > 0

    def without(self, chunks: Iterable[Chunk]) -> Vocabulary:
        """The same vocabulary with these passages (which it must hold) left out."""
        df, n = _document_frequencies(chunks)
        return Vocabulary(self.df, self.n, self.removed + df, self.removed_n + n)
