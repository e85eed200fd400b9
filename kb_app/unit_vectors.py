"""Sentence vectors: every unit (sentence, list item, table row) of every chunk, embedded at index time.

They are stored beside the chunks in the index generation (``units/keys.json`` and
``units/vectors.npy``), keyed by a hash of the unit's text, so answering compares the question
with each candidate sentence without running the model on them. An indexing run embeds only the
units it has not seen: the rest are copied from the generation it starts from.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path

import numpy as np

from kb_app.candidates import split_units
from kb_app.embeddings import Embedder
from kb_app.models import Chunk

FOLDER = "units"
_CACHE_LIMIT = 50_000


def unit_key(text: str) -> str:
    return hashlib.blake2b(text.encode("utf-8"), digest_size=10).hexdigest()


def _read(folder: Path) -> tuple[list[str], np.ndarray] | None:
    try:
        keys = json.loads((folder / FOLDER / "keys.json").read_text(encoding="utf-8"))
        vectors = np.load(folder / FOLDER / "vectors.npy", mmap_mode="r")
    except (OSError, ValueError):
        return None
    if not isinstance(keys, list) or len(keys) != len(vectors):
        return None
    return keys, vectors


def save_unit_vectors(
    generation: Path,
    base: Path | None,
    chunks: Iterable[Chunk],
    embedder: Callable[[], Embedder],
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Write the vectors of every unit of ``chunks`` into ``generation``; returns how many were embedded."""
    texts = list(dict.fromkeys(u.text for c in chunks for u in split_units(c.text)))
    keys = [unit_key(t) for t in texts]
    known: dict[str, np.ndarray] = {}
    old = _read(base) if base is not None else None
    if old is not None:
        position = {k: i for i, k in enumerate(old[0])}
        known = {k: np.asarray(old[1][position[k]]) for k in keys if k in position}
    missing = [i for i, k in enumerate(keys) if k not in known]
    if missing:
        vectors = embedder().embed_passages([texts[i] for i in missing], progress=progress)  # batched by length
        known.update({keys[i]: v for i, v in zip(missing, vectors, strict=True)})
    folder = generation / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    matrix = np.stack([known[k] for k in keys]).astype(np.float32) if keys else np.zeros((0, 0), np.float32)
    np.save(folder / "vectors.npy", matrix)
    (folder / "keys.json").write_text(json.dumps(keys), encoding="utf-8")
    return len(missing)


class UnitVectors:
    """Looks up unit vectors stored in a generation; embeds (and caches) any it lacks."""

    def __init__(self, generation: Path | None, embedder: Embedder) -> None:
        self.embedder = embedder
        stored = _read(generation) if generation is not None else None
        self._position: dict[str, int] = {k: i for i, k in enumerate(stored[0])} if stored else {}
        self._matrix = stored[1] if stored else None
        self._cache: dict[str, np.ndarray] = {}
        self._lock = threading.Lock()

    @property
    def stored(self) -> int:
        """How many vectors the generation holds."""
        return len(self._position)

    def vectors(self, texts: Sequence[str]) -> np.ndarray:
        """The passage vectors of ``texts`` (rows in the same order)."""
        keys = [unit_key(t) for t in texts]
        with self._lock:
            missing = [t for t, k in zip(texts, keys, strict=True) if k not in self._position and k not in self._cache]
        local: dict[str, np.ndarray] = {}
        if missing:
            unique = list(dict.fromkeys(missing))
            local = {unit_key(t): v for t, v in zip(unique, self.embedder.embed_passages(unique), strict=True)}
            with self._lock:
                if len(self._cache) > _CACHE_LIMIT:
                    self._cache.clear()
                self._cache.update(local)
        rows = []
        with self._lock:
            for k in keys:
                row = self._position.get(k)
                if row is not None and self._matrix is not None:
                    rows.append(np.asarray(self._matrix[row]))
                else:
                    rows.append(local[k] if k in local else self._cache[k])
        return np.stack(rows) if rows else np.zeros((0, 0), np.float32)
