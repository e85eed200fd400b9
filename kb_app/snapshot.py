"""A read-only copy of a generation's chunks and vectors, so that readers never open Chroma.

Chroma's ``PersistentClient`` writes to its database when it opens, so a reader on a read-only
mount (or a full disk) could not even start. Each embedded generation therefore also holds
``served/chunks.jsonl`` and ``served/vectors.npy``, written by the indexer beside Chroma. The
retriever reads these plain files (the vectors memory-mapped) and keeps Chroma for writing, for a
Chroma server, and for the HNSW path above ``Fusion.exact_below`` chunks.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path

import numpy as np

from kb_app.models import Chunk

FOLDER = "served"


def save_snapshot(generation: Path, chunks: Sequence[Chunk], ids: Sequence[str], vectors: np.ndarray) -> None:
    """Write the chunks (in order) and their vectors (rows in the same order) into ``generation``."""
    position = {cid: i for i, cid in enumerate(ids)}
    folder = generation / FOLDER
    folder.mkdir(parents=True, exist_ok=True)
    with (folder / "chunks.jsonl").open("w", encoding="utf-8") as handle:
        for chunk in chunks:
            handle.write(json.dumps(asdict(chunk), ensure_ascii=False) + "\n")
    rows = [position[c.chunk_id] for c in chunks]
    np.save(folder / "vectors.npy", np.asarray(vectors[rows] if len(rows) else vectors, dtype=np.float32))


def load_snapshot(generation: Path) -> tuple[list[Chunk], np.ndarray] | None:
    """The chunks and their vectors (same order), or None when the generation has no intact snapshot."""
    folder = generation / FOLDER
    try:
        lines = (folder / "chunks.jsonl").read_text(encoding="utf-8").splitlines()
        chunks = [_chunk(json.loads(line)) for line in lines if line.strip()]
        vectors = np.load(folder / "vectors.npy", mmap_mode="r")
    except (OSError, ValueError, TypeError, KeyError):
        return None
    if len(vectors) != len(chunks):
        return None
    return chunks, vectors


def _chunk(record: dict[str, object]) -> Chunk:
    record["section"] = tuple(record["section"])  # type: ignore[arg-type]
    return Chunk(**record)  # type: ignore[arg-type]
