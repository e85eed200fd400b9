"""A damaged index heals itself: the next indexing run (or the next start of the app) rebuilds what
is broken, and an intact generation is never deleted while the pointer to it is unreadable."""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path

import pytest

from kb_app import generations
from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.indexing import damage, index_corpus, index_exists
from kb_app.lexical import TOKENIZER_VERSION
from kb_app.service import KnowledgeBase


def _current(settings: Settings) -> Path:
    folder = generations.current(settings)
    assert folder is not None
    return folder


def _bad_pointer(settings: Settings) -> None:
    (settings.index_dir / generations.POINTER).write_bytes(b"\xff\xfe\x00gen-\xc3")


def _bad_bm25(settings: Settings) -> None:
    (_current(settings) / "bm25" / "ids.json").write_text("{skräp", encoding="utf-8")


def _truncated_chroma(settings: Settings) -> None:
    database = _current(settings) / "chroma" / "chroma.sqlite3"
    database.write_bytes(database.read_bytes()[:5000])


def _empty_chroma(settings: Settings) -> None:
    (_current(settings) / "chroma" / "chroma.sqlite3").write_bytes(b"")


def _truncated_vectors(settings: Settings) -> None:
    vectors = _current(settings) / "served" / "vectors.npy"
    vectors.write_bytes(vectors.read_bytes()[:100])


def _garbage_chunks(settings: Settings) -> None:
    (_current(settings) / "served" / "chunks.jsonl").write_text("skräp\n", encoding="utf-8")


@pytest.mark.slow
@pytest.mark.parametrize(
    "harm", [_bad_pointer, _bad_bm25, _truncated_chroma, _empty_chroma, _truncated_vectors, _garbage_chunks]
)
def test_damaged_index_is_detected_and_rebuilt_on_the_next_run(
    report_corpus: Settings, embedder: Embedder, harm: Callable[[Settings], None]
) -> None:
    from indexer.__main__ import main as indexer

    where = ["--corpus", str(report_corpus.corpus_dir), "--index-dir", str(report_corpus.index_dir)]
    index_corpus(report_corpus, embedder=embedder)
    assert index_exists(report_corpus) and indexer(["--check", *where]) == 0
    harm(report_corpus)
    assert not index_exists(report_corpus) and indexer(["--check", *where]) == 5
    report = index_corpus(report_corpus, embedder=embedder)
    assert report.repaired and "skadat" in report.summary()
    assert index_exists(report_corpus) and not damage(report_corpus, _current(report_corpus))
    assert indexer(["--check", *where]) == 0
    if harm is _bad_pointer:
        assert report.embedded == 0  # the intact generation was published again, nothing re-embedded
    answer = KnowledgeBase(report_corpus, embedder=embedder).ask("Hur mycket betalar varje kommun?")
    assert "4 kronor" in answer.text


@pytest.mark.slow
def test_the_app_heals_a_damaged_index_when_it_opens(report_corpus: Settings, embedder: Embedder) -> None:
    index_corpus(report_corpus, embedder=embedder)
    _truncated_chroma(report_corpus)
    kb = KnowledgeBase.open(report_corpus)
    assert "4 kronor" in kb.ask("Hur mycket betalar varje kommun?").text


def _stale_bm25(settings: Settings) -> None:
    """Mark the published BM25 index as made by the previous tokenizer version."""
    ids = _current(settings) / "bm25" / "ids.json"
    saved = json.loads(ids.read_text(encoding="utf-8"))
    ids.write_text(json.dumps({**saved, "version": TOKENIZER_VERSION - 1}), encoding="utf-8")


def test_an_index_from_an_older_tokenizer_gets_a_new_bm25_index_and_opens(
    report_corpus: Settings, embedder: Embedder
) -> None:
    from indexer.__main__ import main as indexer

    where = ["--corpus", str(report_corpus.corpus_dir), "--index-dir", str(report_corpus.index_dir)]
    index_corpus(report_corpus, embedder=embedder)
    first = _current(report_corpus)
    _stale_bm25(report_corpus)
    assert not index_exists(report_corpus) and indexer(["--check", *where]) == 5
    report = index_corpus(report_corpus, embedder=embedder)
    assert report.lexical_rebuilt and not report.repaired and "Ordindexet (BM25)" in report.summary()
    assert report.embedded == 0 and report.embedded_units == 0 and _current(report_corpus) != first
    assert index_exists(report_corpus) and indexer(["--check", *where]) == 0
    again = index_corpus(report_corpus, embedder=embedder)
    assert not again.lexical_rebuilt and again.embedded == 0
    _stale_bm25(report_corpus)
    kb = KnowledgeBase.open(report_corpus, embedder=embedder)  # a build that rebuilt nothing looped here
    assert index_exists(report_corpus)
    assert "4 kronor" in kb.ask("Hur mycket betalar varje kommun?").text


@pytest.mark.slow
def test_prune_keeps_finished_generations_when_the_pointer_is_unreadable(
    report_corpus: Settings, embedder: Embedder
) -> None:
    index_corpus(report_corpus, embedder=embedder)
    (report_corpus.corpus_dir / "ny.md").write_text("# Påhittad\n\nPåhittad testtext om samverkan.\n", encoding="utf-8")
    index_corpus(report_corpus, embedder=embedder)
    finished = generations.complete(report_corpus)
    assert len(finished) == 2
    _bad_pointer(report_corpus)
    generations.prune(report_corpus)
    assert generations.complete(report_corpus) == finished
    assert generations.latest(report_corpus) == finished[-1]


@pytest.mark.slow
def test_two_readers_on_an_empty_index_both_answer(report_corpus: Settings, embedder: Embedder) -> None:
    """The second `ask` waits for the first one's build instead of failing."""
    import os
    import subprocess
    import sys

    from .conftest import REPO

    env = {
        **os.environ,
        "KB_CORPUS_DIR": str(report_corpus.corpus_dir),
        "KB_INDEX_DIR": str(report_corpus.index_dir),
        "KB_MODEL_CACHE": str(report_corpus.model_cache),
    }
    command = [sys.executable, "-m", "kb_app", "ask", "Hur mycket betalar varje kommun?"]
    runs = [subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)]
    runs.append(subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True))
    for run in runs:
        out, err = run.communicate(timeout=600)
        assert run.returncode == 0, err
        assert "4 kronor" in out


@pytest.mark.slow
@pytest.mark.parametrize("stale", [False, True], ids=["current", "bm25-from-an-older-tokenizer"])
def test_a_read_only_index_is_served_without_writing(report_corpus: Settings, embedder: Embedder, stale: bool) -> None:
    """Readers never open Chroma for an embedded index: they serve the generation's plain files (a
    BM25 index from another tokenizer version, which cannot be rewritten here, is built in memory)."""
    import os
    import stat
    import subprocess
    import sys

    from .conftest import REPO

    index_corpus(report_corpus, embedder=embedder)
    if stale:
        _stale_bm25(report_corpus)
    before = {p: p.stat().st_mtime_ns for p in report_corpus.index_dir.rglob("*") if p.is_file()}
    for path in [report_corpus.index_dir, *report_corpus.index_dir.rglob("*")]:
        mode = path.stat().st_mode
        path.chmod(mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    env = {
        **os.environ,
        "KB_CORPUS_DIR": str(report_corpus.corpus_dir),
        "KB_INDEX_DIR": str(report_corpus.index_dir),
        "KB_MODEL_CACHE": str(report_corpus.model_cache),
    }
    command = [sys.executable, "-m", "kb_app", "ask", "Hur mycket betalar varje kommun?"]
    if os.geteuid() == 0:  # root ignores file modes unless it gives up the capability
        drop = "-dac_override,-dac_read_search"
        command = ["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}", *command]
    try:
        done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    finally:
        for path in [report_corpus.index_dir, *report_corpus.index_dir.rglob("*")]:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert done.returncode == 0, done.stderr
    assert "4 kronor" in done.stdout
    after = {p: p.stat().st_mtime_ns for p in report_corpus.index_dir.rglob("*") if p.is_file()}
    assert after == before


def _read_only_env(settings: Settings) -> dict[str, str]:
    import os

    return {
        **os.environ,
        "KB_CORPUS_DIR": str(settings.corpus_dir),
        "KB_INDEX_DIR": str(settings.index_dir),
        "KB_MODEL_CACHE": str(settings.model_cache),
    }


@pytest.mark.slow
@pytest.mark.parametrize("harm", [_truncated_chroma, _bad_pointer, _garbage_chunks])
def test_ask_on_a_damaged_read_only_index_says_so_in_one_line(
    report_corpus: Settings, embedder: Embedder, harm: Callable[[Settings], None]
) -> None:
    """A reader that cannot rebuild the damaged index (here: a read-only folder) shows one Swedish
    message that says what to run, and no traceback."""
    import os
    import stat
    import subprocess
    import sys

    from kb_app.errors import DAMAGED

    from .conftest import REPO

    index_corpus(report_corpus, embedder=embedder)
    harm(report_corpus)
    paths = [report_corpus.index_dir, *report_corpus.index_dir.rglob("*")]
    for path in paths:
        path.chmod(path.stat().st_mode & ~(stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH))
    command = [sys.executable, "-m", "kb_app", "ask", "Hur mycket betalar varje kommun?"]
    if os.geteuid() == 0:  # root ignores file modes unless it gives up the capability
        drop = "-dac_override,-dac_read_search"
        command = ["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}", *command]
    try:
        done = subprocess.run(
            command, cwd=REPO, env=_read_only_env(report_corpus), capture_output=True, text=True, timeout=300
        )
    finally:
        for path in paths:
            path.chmod(path.stat().st_mode | stat.S_IWUSR)
    assert done.returncode == 3, done.stderr
    assert done.stderr.startswith(f"Fel: {DAMAGED}.") and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.fixture
def read_only_mount(tmp_path: Path):  # type: ignore[no-untyped-def]
    """Bind-mount a folder read-only over itself (root only); skipped where mounting is not allowed."""
    import subprocess

    mounted: list[Path] = []

    def mount(folder: Path) -> None:
        for args in (["--bind", str(folder), str(folder)], ["-o", "remount,bind,ro", str(folder)]):
            try:
                done = subprocess.run(["mount", *args], capture_output=True, text=True)
            except FileNotFoundError:
                pytest.skip("mount finns inte på den här maskinen")
            if done.returncode != 0:
                if mounted:
                    subprocess.run(["umount", str(folder)], capture_output=True)
                pytest.skip(f"en skrivskyddad bind-montering är inte tillåten här: {done.stderr.strip()}")
            if args[0] == "--bind":
                mounted.append(folder)

    yield mount
    for folder in mounted:
        subprocess.run(["umount", str(folder)], capture_output=True)


@pytest.mark.slow
def test_the_app_shows_the_damaged_index_message_instead_of_a_traceback(
    monkeypatch: pytest.MonkeyPatch, report_corpus: Settings, embedder: Embedder, read_only_mount
) -> None:  # type: ignore[no-untyped-def]
    from streamlit.testing.v1 import AppTest

    from kb_app.errors import DAMAGED

    from .conftest import REPO

    index_corpus(report_corpus, embedder=embedder)
    _truncated_chroma(report_corpus)
    read_only_mount(report_corpus.index_dir)
    for key, value in _read_only_env(report_corpus).items():
        if key.startswith("KB_"):
            monkeypatch.setenv(key, value)
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=180)
    at.run()
    assert not at.exception
    shown = [e.value.replace("\\", "") for e in at.error]
    assert len(shown) == 1 and shown[0].startswith(DAMAGED), shown


@pytest.mark.slow
def test_the_app_shows_the_message_when_a_document_file_is_damaged(
    monkeypatch: pytest.MonkeyPatch, report_corpus: Settings, embedder: Embedder
) -> None:
    """Damage the cheap check cannot see (a paragraphs file) still gives the message, not a traceback."""
    from streamlit.testing.v1 import AppTest

    from kb_app.errors import DAMAGED

    from .conftest import REPO

    index_corpus(report_corpus, embedder=embedder)
    for saved in (_current(report_corpus) / "documents").glob("*.json"):
        saved.write_text("{skräp", encoding="utf-8")
    for key, value in _read_only_env(report_corpus).items():
        if key.startswith("KB_"):
            monkeypatch.setenv(key, value)
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=180)
    at.query_params["vy"] = "Dokument"
    at.run()
    assert not at.exception
    shown = [e.value.replace("\\", "") for e in at.error]
    assert len(shown) == 1 and shown[0].startswith(DAMAGED), shown
