"""Hybrid retrieval: dense and BM25, fused; filters by document and kind; exact phrases.

Dense scores are exact, from the generation's vectors kept in memory (``served/vectors.npy``), below
``Fusion.exact_below`` chunks, and come from Chroma's HNSW index above it or with a Chroma server.
``Retriever.search`` runs in three steps: ``candidates`` (the top dense and top BM25 passages inside
the filters), ``complete`` (each candidate gets both scores) and ``fuse``.

Fusion (``Fusion``): both candidate lists are completed to their union, z-normalised and mixed with a
dense weight, plus a bonus for the query's word pairs found in the passage (given to the best fused
candidates only); tuned on the training/dev splits of SweQUAD-MC and SweFAQ (docs/evaluation.md).
Reciprocal rank fusion is kept for comparison.
A quoted phrase in the query ("…") keeps only passages that contain it, case-insensitively.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from kb_app import generations
from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.errors import DAMAGED, IndexDamagedError, IndexMissingError
from kb_app.lexical import LexicalIndex, tokenize
from kb_app.models import Hit
from kb_app.snapshot import FOLDER as SERVED
from kb_app.snapshot import load_snapshot
from kb_app.store import VectorStore

_PHRASE = re.compile(r"[\"“”„«»]([^\"“”„«»]{2,})[\"“”„«»]")


@dataclass(frozen=True)
class Fusion:
    """How dense and lexical scores are combined.

    Both score lists are completed to the union of their top ``candidates`` (the cosine of a
    lexical candidate comes from the vectors in memory, or from Chroma on the HNSW path; the BM25
    score of a dense candidate is exact),
    z-normalised over that union, and mixed with weight ``dense_weight``. Tuned on SweQUAD-MC
    training+dev and SweFAQ dev (docs/evaluation.md); reciprocal rank fusion (``method="rrf"``) is
    kept for comparison.
    """

    method: str = "zscore"
    dense_weight: float = 0.65
    candidates: int = 200
    rrf_k: float = 60.0
    # Collections this small are scored exactly from vectors kept in memory (300k x 384 float32 is
    # 460 MB): at 20k chunks that is 46 ms a query against 106 ms through Chroma's HNSW (docs/benchmarks.md).
    exact_below: int = 300_000
    phrase_weight: float = 0.6  # bonus for the share of the query's word pairs found in a passage
    # Only the best fused candidates get the bonus (tokenizing every candidate cost 15 ms a query at 100k chunks).
    phrase_candidates: int = 50


@dataclass
class Candidates:
    """The passages a search considers, with what is known of their scores so far."""

    dense: dict[str, float]  # chunk id -> cosine with the query
    lexical: dict[str, float]  # chunk id -> BM25 score
    bm25: np.ndarray  # BM25 of every chunk in ``LexicalIndex.ids`` order (-inf outside the filter)


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
        settings = generations.resolve(settings)  # the published generation, when given the index root
        self.settings = settings
        self.embedder = embedder or Embedder(settings)
        self.fusion = fusion or Fusion()
        snapshot = None if settings.chroma_host else load_snapshot(settings.index_dir)
        if snapshot is None and not settings.chroma_host and (settings.index_dir / SERVED).exists():
            raise IndexDamagedError(f"{DAMAGED}. (Avsnittsfilerna i {settings.index_dir / SERVED} går inte att läsa.)")
        self._store: VectorStore | None = None if snapshot is not None else VectorStore(settings)
        self.chunks = snapshot[0] if snapshot is not None else self.store.chunks()
        if not self.chunks:
            raise IndexMissingError(f"Indexet i {self.location} är tomt. Bygg det med: python -m indexer")
        self._by_id = {c.chunk_id: c for c in self.chunks}
        lexical = LexicalIndex.load(settings.lexical_dir)
        if lexical is None or set(lexical.ids) != set(self._by_id):
            lexical = LexicalIndex.build([c.chunk_id for c in self.chunks], [c.embedding_text() for c in self.chunks])
        self.lexical = lexical
        self._lexical_chunks = [self._by_id[i] for i in lexical.ids]
        self._lower_texts = [" ".join(c.text.lower().split()) for c in self._lexical_chunks]
        self._lock = threading.Lock()
        self._last_query: tuple[str, np.ndarray] | None = None
        self._matrix: np.ndarray | None = None
        self._pair_cache: dict[str, frozenset[tuple[str, str]]] = {}
        if len(self.chunks) < self.fusion.exact_below:
            if snapshot is not None:
                ids, vectors = [c.chunk_id for c in snapshot[0]], snapshot[1]
            else:
                ids, vectors = self.store.all_embeddings()
            position = {cid: i for i, cid in enumerate(ids)}
            self._matrix = np.asarray(vectors[[position[cid] for cid in self.lexical.ids]])

    @property
    def store(self) -> VectorStore:
        """The Chroma collection, opened only when needed (a server, HNSW search above exact_below)."""
        if self._store is None:
            self._store = VectorStore(self.settings)
        return self._store

    @property
    def location(self) -> str:
        """Where the vectors live, for messages (nothing is opened)."""
        s = self.settings
        return f"http://{s.chroma_host}:{s.chroma_port}" if s.chroma_host else str(s.chroma_dir)

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
        found = self.candidates(query, k, mask, mode)
        if mode == "lexical":
            order = [(cid, score) for cid, score in found.lexical.items() if score > 0]
            return self._hits(order[:k], {}, dict(order))
        if mode == "dense":
            order = sorted(found.dense.items(), key=lambda p: -p[1])
            return self._hits(order[:k], found.dense, {})
        self.complete(query, found)
        fused = self._contents_last(self.fuse(found.dense, found.lexical, query))
        return self._hits(fused[:k], found.dense, found.lexical)

    def candidates(self, query: str, k: int, mask: np.ndarray, mode: str = "hybrid") -> Candidates:
        """Step 1: the top ``Fusion.candidates`` dense and BM25 passages inside the filter ``mask``."""
        n = min(max(self.fusion.candidates, k), int(mask.sum()))
        bm25 = np.where(mask, self.lexical.scores(query), -np.inf)
        dense = self._dense(query, n, mask) if mode != "lexical" else {}
        top = [int(i) for i in top_stable(bm25, n) if np.isfinite(bm25[i])]
        return Candidates(dense, {self.lexical.ids[i]: float(bm25[i]) for i in top}, bm25)

    def complete(self, query: str, found: Candidates) -> None:
        """Step 2: give every candidate both scores: the exact BM25 of a dense candidate, the cosine of
        a lexical one (from the vectors in memory, or from Chroma on the HNSW path)."""
        for cid in found.dense:
            row = self.lexical.row(cid)
            if cid not in found.lexical and row is not None:
                found.lexical[cid] = max(0.0, float(found.bm25[row]))
        missing = [cid for cid in found.lexical if cid not in found.dense]
        if missing:
            found.dense.update(self._cosines(query, missing))

    def _cosines(self, query: str, chunk_ids: list[str]) -> dict[str, float]:
        """The cosine of the query with each of ``chunk_ids``."""
        vector = self.query_vector(query)
        if self._matrix is None:
            return {cid: float(emb @ vector) for cid, emb in self.store.embeddings(chunk_ids).items()}
        pairs = [(cid, row) for cid, row in ((c, self.lexical.row(c)) for c in chunk_ids) if row is not None]
        values = self._matrix[[row for _, row in pairs]] @ vector
        return {cid: float(value) for (cid, _), value in zip(pairs, values, strict=True)}

    def _contents_last(self, order: list[tuple[str, float]]) -> list[tuple[str, float]]:
        """Contents pages after every other passage, each group in its fused order."""
        return sorted(order, key=lambda pair: self._by_id[pair[0]].role == "contents")

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
            mask &= np.array([needle in text for text in self._lower_texts])
        return mask

    def query_vector(self, query: str) -> np.ndarray:
        """The query embedding (the last one is cached: retrieval and answering share it)."""
        with self._lock:
            cached = self._last_query
        if cached is not None and cached[0] == query:
            return cached[1]
        vector = self.embedder.embed_query(query)
        with self._lock:
            self._last_query = (query, vector)
        return vector

    def _dense(self, query: str, n: int, mask: np.ndarray) -> dict[str, float]:
        vector = self.query_vector(query)
        if self._matrix is not None:
            scores = np.where(mask, self._matrix @ vector, -np.inf)
            top = np.argpartition(-scores, n - 1)[:n] if n < len(scores) else np.arange(len(scores))
            return {self.lexical.ids[i]: float(scores[i]) for i in top if np.isfinite(scores[i])}
        if mask.all():
            found = self.store.query(vector, n)
        else:
            allowed = [self.lexical.ids[i] for i in np.flatnonzero(mask)]
            found = self.store.query(vector, n, ids=allowed)
        return {c.chunk_id: s for c, s in found}

    def _pairs(self, chunk_id: str) -> frozenset[tuple[str, str]]:
        """Consecutive word pairs (stemmed) of a passage, cached."""
        pairs = self._pair_cache.get(chunk_id)
        if pairs is None:
            pairs = word_pairs(self._by_id[chunk_id].text)
            if len(self._pair_cache) > 50_000:
                self._pair_cache.clear()
            self._pair_cache[chunk_id] = pairs
        return pairs

    def fuse(self, dense: dict[str, float], lexical: dict[str, float], query: str) -> list[tuple[str, float]]:
        """Step 3: one score per candidate (``Fusion.method``), best first; see ``Fusion``."""
        f = self.fusion
        ids = list(dict.fromkeys([*dense, *lexical]))
        d = np.array([dense.get(i, 0.0) for i in ids])
        lx = np.array([lexical.get(i, 0.0) for i in ids])
        if f.method == "rrf":
            rank_d = np.argsort(np.argsort(-d)) + 1
            rank_l = np.argsort(np.argsort(-lx)) + 1
            fused = f.dense_weight / (f.rrf_k + rank_d) + (1 - f.dense_weight) / (f.rrf_k + rank_l)
        else:
            fused = f.dense_weight * _z(d) + (1 - f.dense_weight) * _z(lx)
            asked = word_pairs(query)
            if asked and f.phrase_weight:
                top = top_stable(fused, f.phrase_candidates)
                fused[top] += f.phrase_weight * np.array([len(asked & self._pairs(ids[i])) / len(asked) for i in top])
        order = np.argsort(-fused, kind="stable")
        return [(ids[i], float(fused[i])) for i in order]

    def _hits(self, order: list[tuple[str, float]], dense: dict[str, float], lexical: dict[str, float]) -> list[Hit]:
        return [
            Hit(
                chunk=self._by_id[cid],
                score=score,
                dense_score=dense.get(cid),
                lexical_score=lexical.get(cid),
                rank=rank,
            )
            for rank, (cid, score) in enumerate(order, start=1)
        ]


def word_pairs(text: str) -> frozenset[tuple[str, str]]:
    """Consecutive pairs of the words BM25 sees (stopwords out, stemmed): a cheap phrase signal."""
    words = tokenize(text)
    return frozenset(zip(words, words[1:], strict=False))


def top_stable(scores: np.ndarray, n: int) -> np.ndarray:
    """The indices of the ``n`` highest scores, highest first, ties in index order: the same as
    ``np.argsort(-scores, kind="stable")[:n]`` but in linear time (no sort of every chunk)."""
    if n >= len(scores):
        return np.argsort(-scores, kind="stable")
    negated = -scores
    kth = np.partition(negated, n - 1)[n - 1]
    above = np.flatnonzero(negated < kth)
    ties = np.flatnonzero(negated == kth)[: n - len(above)]
    chosen = np.concatenate([above, ties])
    ordered: np.ndarray = chosen[np.argsort(negated[chosen], kind="stable")]
    return ordered


def _z(values: np.ndarray) -> np.ndarray:
    spread = float(values.std())
    return (values - values.mean()) / spread if spread > 1e-9 else np.zeros_like(values)
