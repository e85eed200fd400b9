"""Hybrid retrieval: dense (Chroma) and BM25, fused; filters by document and kind; exact phrases.

Fusion is a weighted sum of reciprocal ranks (RRF, ``1 / (k + rank)``) from both lists; the
weights were tuned on the training/dev splits of SweQUAD-MC and SweFAQ (docs/evaluation.md).
A quoted phrase in the query ("…") keeps only passages that contain it, case-insensitively.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.errors import IndexMissingError
from kb_app.lexical import LexicalIndex
from kb_app.models import Chunk, Hit
from kb_app.store import VectorStore

_PHRASE = re.compile(r"[\"“”„«»]([^\"“”„«»]{2,})[\"“”„«»]")


@dataclass(frozen=True)
class Fusion:
    """How dense and lexical rankings are combined."""

    rrf_k: float = 60.0
    dense_weight: float = 1.0
    lexical_weight: float = 1.0
    candidates: int = 50


def quoted_phrases(query: str) -> list[str]:
    """The phrases written in quotes in a query."""
    return [" ".join(p.split()) for p in _PHRASE.findall(query)]


class Retriever:
    """Searches the index built by kb_app.indexing. Thread-safe for concurrent searches."""

    def __init__(
        self,
        settings: Settings,
        *,
        embedder: Embedder | None = None,
        fusion: Fusion | None = None,
    ) -> None:
        self.settings = settings
        self.embedder = embedder or Embedder(settings)
        self.fusion = fusion or Fusion()
        self.store = VectorStore(settings)
        self.chunks = self.store.chunks()
        if not self.chunks:
            raise IndexMissingError(f"Indexet i {self.store.location} är tomt. Bygg det med: python -m indexer")
        self._by_id = {c.chunk_id: c for c in self.chunks}
        lexical = LexicalIndex.load(settings.lexical_dir)
        if lexical is None or set(lexical.ids) != set(self._by_id):
            lexical = LexicalIndex.build([c.chunk_id for c in self.chunks], [c.embedding_text() for c in self.chunks])
        self.lexical = lexical
        self._lexical_chunks = [self._by_id[i] for i in lexical.ids]
        self._lower_texts = [c.text.lower() for c in self._lexical_chunks]
        self._lock = threading.Lock()

    def documents(self) -> list[tuple[str, str, str]]:
        """(document id, title, kind) of every indexed document, in order."""
        seen: dict[str, tuple[str, str, str]] = {}
        for c in self.chunks:
            seen.setdefault(c.doc_id, (c.doc_id, c.title, c.kind))
        return list(seen.values())

    def search(
        self,
        query: str,
        *,
        k: int = 5,
        doc_ids: Sequence[str] | None = None,
        kinds: Sequence[str] | None = None,
        mode: str = "hybrid",
    ) -> list[Hit]:
        """The ``k`` best passages for ``query``.

        Args:
            query: the question or search words; phrases in quotes must occur verbatim.
            k: how many hits to return.
            doc_ids: only these documents.
            kinds: only these kinds ("rapport", "bilaga", "dokument").
            mode: "hybrid" (default), or "dense" / "lexical" alone (for evaluation).
        """
        mask = self._mask(doc_ids, kinds, quoted_phrases(query))
        if not mask.any():
            return []
        n = max(self.fusion.candidates, k)
        dense = self._dense(query, n, mask) if mode != "lexical" else []
        lexical = self._lexical(query, n, mask) if mode != "dense" else []
        return self._fuse(dense, lexical)[:k]

    def _mask(self, doc_ids: Sequence[str] | None, kinds: Sequence[str] | None, phrases: list[str]) -> np.ndarray:
        mask = np.ones(len(self._lexical_chunks), dtype=bool)
        if doc_ids:
            wanted = set(doc_ids)
            mask &= np.array([c.doc_id in wanted for c in self._lexical_chunks])
        if kinds:
            wanted_kinds = set(kinds)
            mask &= np.array([c.kind in wanted_kinds for c in self._lexical_chunks])
        for phrase in phrases:
            needle = phrase.lower()
            mask &= np.array([needle in " ".join(t.split()) for t in self._lower_texts])
        return mask

    def _dense(self, query: str, n: int, mask: np.ndarray) -> list[tuple[Chunk, float]]:
        vector = self.embedder.embed_query(query)
        if mask.all():
            return self.store.query(vector, n)
        allowed = [self._lexical_chunks[i].chunk_id for i in np.flatnonzero(mask)]
        return self.store.query(vector, min(n, len(allowed)), ids=allowed)

    def _lexical(self, query: str, n: int, mask: np.ndarray) -> list[tuple[Chunk, float]]:
        scores = np.where(mask, self.lexical.scores(query), -1.0)
        top = np.argsort(-scores, kind="stable")[:n]
        return [(self._lexical_chunks[i], float(scores[i])) for i in top if scores[i] > 0]

    def _fuse(self, dense: list[tuple[Chunk, float]], lexical: list[tuple[Chunk, float]]) -> list[Hit]:
        f = self.fusion
        fused: dict[str, float] = {}
        dense_scores = {c.chunk_id: s for c, s in dense}
        lexical_scores = {c.chunk_id: s for c, s in lexical}
        for weight, ranked in ((f.dense_weight, dense), (f.lexical_weight, lexical)):
            for rank, (chunk, _) in enumerate(ranked, start=1):
                fused[chunk.chunk_id] = fused.get(chunk.chunk_id, 0.0) + weight / (f.rrf_k + rank)
        order = sorted(fused, key=lambda cid: -fused[cid])
        return [
            Hit(
                chunk=self._by_id[cid],
                score=fused[cid],
                dense_score=dense_scores.get(cid),
                lexical_score=lexical_scores.get(cid),
                rank=rank,
            )
            for rank, cid in enumerate(order, start=1)
        ]
