"""The Chroma store on a real embedded database in tmp: round trip, and which errors become StoreError."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pytest

from kb_app.config import Settings
from kb_app.errors import StoreError
from kb_app.models import Chunk
from kb_app.store import VectorStore


def _chunk(n: int, doc: str = "a.md") -> Chunk:
    return Chunk(f"{doc}-{n}", doc, "Titel", "dokument", ("Titel", "Avsnitt"), f"text {n}", n, n, 0, 6, n, page=n)


def _vectors(count: int) -> np.ndarray:
    rng = np.random.default_rng(0)
    v = rng.normal(size=(count, 8)).astype(np.float32)
    return v / np.linalg.norm(v, axis=1, keepdims=True)


def test_chunks_and_vectors_round_trip(make_settings: Callable[..., Settings]) -> None:
    store = VectorStore(make_settings())
    chunks, vectors = [_chunk(i) for i in range(1, 4)], _vectors(3)
    store.upsert(chunks, vectors)
    assert store.count() == 3
    assert store.chunks() == chunks
    ids, stored = store.all_embeddings()
    assert np.allclose(stored[ids.index("a.md-2")], vectors[1], atol=1e-6)
    nearest = store.query(vectors[2], 1)
    assert nearest[0][0] == chunks[2] and nearest[0][1] == pytest.approx(1.0, abs=1e-5)
    assert [c.chunk_id for c, _ in store.query(vectors[2], 3, ids=["a.md-1"])] == ["a.md-1"]
    store.delete_document("a.md")
    assert store.count() == 0


def test_a_chroma_failure_is_a_store_error(make_settings: Callable[..., Settings]) -> None:
    from chromadb.errors import InternalError

    store = VectorStore(make_settings())

    def broken(*args: object, **kwargs: object) -> int:
        raise InternalError("error returned from database: (code: 13) database or disk is full")

    store._collection.count = broken
    with pytest.raises(StoreError, match="kunde inte räkna avsnitt.*disk is full"):
        store.count()


def test_a_programming_error_is_not_turned_into_a_store_error(make_settings: Callable[..., Settings]) -> None:
    store = VectorStore(make_settings())

    def buggy(*args: object, **kwargs: object) -> int:
        raise TypeError("count() got an unexpected keyword argument")

    store._collection.count = buggy
    with pytest.raises(TypeError):
        store.count()
