"""Index generations on a real folder: publish, current, latest, prune, the write lock."""

from __future__ import annotations

import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from kb_app import generations
from kb_app.config import Settings
from kb_app.errors import IndexBusyError, StoreError

from .conftest import REPO

_made = iter(range(10_000))


def _finished(settings: Settings) -> Path:
    """A generation with its status file (what a finished build leaves), named later than the last."""
    folder = settings.index_dir / f"{generations.PREFIX}20260101T{next(_made):06d}-abcdef"
    folder.mkdir(parents=True)
    (folder / "status.json").write_text("{}", encoding="utf-8")
    return folder


def test_publish_makes_a_generation_current(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    assert generations.current(settings) is None and generations.latest(settings) is None
    first = _finished(settings)
    generations.publish(settings, first)
    assert generations.current(settings) == first
    assert (settings.index_dir / generations.POINTER).read_text() == first.name + "\n"
    served = generations.resolve(settings)
    assert served.index_dir == first and served.collection == settings.collection
    assert generations.at(settings.__class__(chroma_host="h"), first).collection.endswith(first.name)


@pytest.mark.parametrize("pointer", [b"\xff\xfe\x00gen-", b"gen-finns-inte", b"../utanfor", b""])
def test_a_bad_pointer_means_no_current_but_latest_finds_the_newest_finished(
    make_settings: Callable[..., Settings], pointer: bytes
) -> None:
    settings = make_settings()
    older, newer = _finished(settings), _finished(settings)
    (settings.index_dir / f"{generations.PREFIX}20260101T999999-ffffff").mkdir()  # unfinished: no status file
    (settings.index_dir / generations.POINTER).write_bytes(pointer)
    assert generations.current(settings) is None
    assert generations.latest(settings) == newer
    assert generations.complete(settings) == [older, newer]


def test_prune_keeps_the_current_and_two_older_and_drops_unfinished(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    made = [_finished(settings) for _ in range(5)]
    generations.publish(settings, made[3])
    half = settings.index_dir / f"{generations.PREFIX}20260101T999999-ffffff"
    half.mkdir()
    dropped: list[str] = []
    removed = generations.prune(settings, drop_collection=lambda s: dropped.append(s.index_dir.name))
    kept = made[3 - generations.KEEP_PREVIOUS : 4]
    assert sorted(p for p in settings.index_dir.glob("gen-*")) == kept
    assert sorted(removed) == sorted([made[0].name, made[4].name, half.name]) == sorted(dropped)


def test_prune_keeps_every_finished_generation_while_the_pointer_is_unreadable(
    make_settings: Callable[..., Settings],
) -> None:
    settings = make_settings()
    made = [_finished(settings) for _ in range(4)]
    half = settings.index_dir / f"{generations.PREFIX}20260101T999999-ffffff"
    half.mkdir()
    (settings.index_dir / generations.POINTER).write_text("trasig")
    assert generations.prune(settings) == [half.name]
    assert generations.complete(settings) == made


def test_a_second_writer_is_refused_while_the_first_holds_the_lock(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from kb_app import generations; from kb_app.config import Settings; "
            f"s = Settings(index_dir=__import__('pathlib').Path({str(settings.index_dir)!r})); "
            "cm = generations.write_lock(s); cm.__enter__(); print('held', flush=True); time.sleep(30)",
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO,
    )
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        with pytest.raises(IndexBusyError, match="En annan indexering pågår redan \\(process"):
            with generations.write_lock(settings):
                pass
    finally:
        holder.kill()
        holder.wait()
    with generations.write_lock(settings):  # released when its holder died
        pass


def test_a_lock_that_cannot_be_created_is_a_store_error(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings()
    settings.index_dir.mkdir(parents=True)
    (settings.index_dir / generations.LOCK).mkdir()  # the lock's path is taken by a folder
    with pytest.raises(StoreError, match="Indexets lås"):
        with generations.write_lock(settings):
            pass
