"""Index generations: readers only ever see a complete index, and only one process writes.

Layout of ``KB_INDEX_DIR``::

    CURRENT              name of the published generation (replaced atomically)
    .write.lock          held (flock) by the one process that is indexing
    gen-<time>-<id>/     a generation: chroma/, served/, units/, bm25/, documents/, status.json

An indexing run takes the write lock, builds a new generation beside the current one (copying
the current vectors through Chroma's API and applying the changes), flushes it to disk, and then
replaces ``CURRENT`` with one ``rename``. A run that dies at any point leaves ``CURRENT`` pointing
at the previous, complete generation; its half-built folder is removed by the next run. The
previous generations are kept for a while, so a reader still using one is not pulled from under
its feet. With a Chroma server, each generation is its own collection (``<collection>-<gen>``).
"""

from __future__ import annotations

import errno
import fcntl
import os
import secrets
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

from kb_app.config import Settings
from kb_app.errors import IndexBusyError, StoreError

POINTER = "CURRENT"
LOCK = ".write.lock"
PREFIX = "gen-"
KEEP_PREVIOUS = 2  # older generations kept for readers that have not switched yet
_LEGACY = ("chroma", "bm25", "documents", "status.json")  # the single-folder layout before generations


def current(settings: Settings) -> Path | None:
    """The published generation's folder, or None when nothing has been published."""
    try:
        name = (settings.index_dir / POINTER).read_text(encoding="utf-8").strip()
    except (OSError, ValueError):  # missing, unreadable, or damaged (bytes that are not text)
        return None
    folder = settings.index_dir / name
    return folder if name.startswith(PREFIX) and "/" not in name and folder.is_dir() else None


def complete(settings: Settings) -> list[Path]:
    """Generations that were finished (their status file is written last), oldest first."""
    folders = sorted(p for p in settings.index_dir.glob(f"{PREFIX}*") if p.is_dir())
    return [p for p in folders if (p / "status.json").is_file()]


def latest(settings: Settings) -> Path | None:
    """The published generation, or, when ``CURRENT`` is damaged, the newest finished one."""
    live = current(settings)
    if live is not None:
        return live
    finished = complete(settings)
    return finished[-1] if finished else None


def at(settings: Settings, generation: Path) -> Settings:
    """Settings that address one generation (its folder, and its collection on a server)."""
    collection = f"{settings.collection}-{generation.name}" if settings.chroma_host else settings.collection
    return replace(settings, index_dir=generation, collection=collection)


def resolve(settings: Settings) -> Settings:
    """Settings for reading: the current generation when there is one, else ``settings`` unchanged."""
    generation = current(settings)
    return at(settings, generation) if generation is not None else settings


@contextmanager
def write_lock(settings: Settings) -> Iterator[None]:
    """Hold the index's write lock, or fail at once when another process holds it.

    Raises:
        IndexBusyError: another indexing run is writing this index.
        StoreError: the lock file cannot be created (a read-only or full index folder).
    """
    path = settings.index_dir / LOCK
    try:
        settings.index_dir.mkdir(parents=True, exist_ok=True)
        handle = path.open("a+")
    except OSError as exc:
        raise StoreError(
            f"Indexets lås {path} kan inte skapas ({exc.strerror or exc}): mappen är skrivskyddad eller full."
        ) from exc
    try:
        try:
            fcntl.flock(handle.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError as exc:
            if exc.errno in (errno.EAGAIN, errno.EACCES):
                handle.seek(0)
                holder = handle.read().strip() or "okänd process"
                raise IndexBusyError(
                    f"En annan indexering pågår redan ({holder}). Vänta tills den är klar och försök igen."
                ) from exc
            raise StoreError(f"Indexets lås {path} kan inte tas: {exc.strerror}") from exc
        handle.seek(0)
        handle.truncate()
        handle.write(f"process {os.getpid()}, startad {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC")
        handle.flush()
        yield
    finally:
        handle.close()  # closing releases the lock; the kernel also releases it if the process dies


def new_generation(settings: Settings) -> Path:
    """Create an empty, unpublished generation folder (call with the write lock held)."""
    stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S")
    folder = settings.index_dir / f"{PREFIX}{stamp}-{secrets.token_hex(3)}"
    folder.mkdir(parents=True)
    return folder


def publish(settings: Settings, generation: Path) -> None:
    """Flush a finished generation to disk and make it current with one atomic rename."""
    _fsync_tree(generation)
    pointer = settings.index_dir / POINTER
    staging = settings.index_dir / f".{POINTER}.{os.getpid()}"
    with staging.open("w") as handle:
        handle.write(generation.name + "\n")
        handle.flush()
        os.fsync(handle.fileno())
    os.replace(staging, pointer)
    _fsync_dir(settings.index_dir)


def prune(settings: Settings, drop_collection: Callable[[Settings], None] | None = None) -> list[str]:
    """Remove unpublished and old generations (call with the write lock held); returns their names.

    When ``CURRENT`` is missing or damaged, every finished generation is kept: one of them may be
    the only intact index left.
    """
    live = current(settings)
    generations = sorted(p for p in settings.index_dir.glob(f"{PREFIX}*") if p.is_dir())
    keep: set[Path] = set(complete(settings))
    if live is not None:
        older = [g for g in generations if g.name < live.name]
        keep = {live, *older[-KEEP_PREVIOUS:]}
    removed = []
    for folder in generations:
        if folder in keep:
            continue
        if drop_collection is not None:
            drop_collection(at(settings, folder))
        shutil.rmtree(folder, ignore_errors=True)
        removed.append(folder.name)
    if live is not None:
        for name in _LEGACY:
            legacy = settings.index_dir / name
            if legacy.is_dir():
                shutil.rmtree(legacy, ignore_errors=True)
            elif legacy.exists():
                legacy.unlink()
    for stray in settings.index_dir.glob(f".{POINTER}.*"):
        stray.unlink(missing_ok=True)
    return removed


def _fsync_tree(folder: Path) -> None:
    for root, _, files in os.walk(folder):
        for name in files:
            fd = os.open(os.path.join(root, name), os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        _fsync_dir(Path(root))


def _fsync_dir(folder: Path) -> None:
    fd = os.open(folder, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)
