"""A full disk: the indexer refuses a build that cannot fit, and a disk that fills during a build
leaves the published index intact and answering. The index lives on a small tmpfs mounted in the
test (root only; skipped with the reason where mounting is not allowed)."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from kb_app import generations
from kb_app.config import Settings
from kb_app.documents import load_catalog
from kb_app.embeddings import Embedder
from kb_app.errors import StoreError
from kb_app.indexing import IndexReport, index_corpus, make_plan, space_needed
from kb_app.service import KnowledgeBase

from .conftest import REPO

NEW_DOCUMENT = "# Tillägg\n\nPartnerskapet ska också samarbeta om turism och evenemang i regionen.\n" * 20


@pytest.fixture
def tmpfs(tmp_path: Path) -> Iterator[Callable[[int], Path]]:
    mounted: list[Path] = []

    def mount(megabytes: int) -> Path:
        target = tmp_path / f"tmpfs-{len(mounted)}"
        target.mkdir()
        try:
            done = subprocess.run(
                ["mount", "-t", "tmpfs", "-o", f"size={megabytes}m", "tmpfs", str(target)],
                capture_output=True,
                text=True,
            )
        except FileNotFoundError:
            pytest.skip("mount finns inte på den här maskinen")
        if done.returncode != 0:
            pytest.skip(f"en tmpfs kan inte monteras här ({done.stderr.strip() or done.returncode})")
        mounted.append(target)
        return target

    yield mount
    for target in mounted:
        subprocess.run(["umount", "-l", str(target)], capture_output=True)


def _fill(folder: Path, leave: int = 0) -> Path:
    """Fill the file system of ``folder`` until ``leave`` bytes are free."""
    filler = folder / "fyllnad.bin"
    block = b"\0" * (1 << 20)
    with filler.open("wb") as handle:
        try:
            while (free := shutil.disk_usage(folder).free - leave) > 0:
                handle.write(block[: min(len(block), free)])
                handle.flush()
        except OSError:
            pass  # the disk is full
    return filler


def _on_tmpfs(report_corpus: Settings, disk: Path) -> Settings:
    return Settings(
        corpus_dir=report_corpus.corpus_dir, index_dir=disk / "index", model_cache=report_corpus.model_cache
    )


@pytest.mark.slow
def test_a_build_that_cannot_fit_is_refused_with_exit_code_3(
    report_corpus: Settings, embedder: Embedder, tmpfs: Callable[[int], Path]
) -> None:
    settings = _on_tmpfs(report_corpus, tmpfs(16))
    index_corpus(settings, embedder=embedder)
    published = generations.current(settings)
    (settings.corpus_dir / "tillagg.md").write_text(NEW_DOCUMENT, encoding="utf-8")
    _fill(settings.index_dir, leave=1_000_000)  # 1 MB free: less than any build needs (about 2.3 MB here)
    env = {
        **os.environ,
        "KB_CORPUS_DIR": str(settings.corpus_dir),
        "KB_INDEX_DIR": str(settings.index_dir),
        "KB_MODEL_CACHE": str(settings.model_cache),
    }
    done = subprocess.run(
        [sys.executable, "-m", "indexer"], cwd=REPO, env=env, capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 3, done.stderr
    assert "Det finns inte plats för indexet" in done.stderr and "MB är ledigt" in done.stderr
    assert "Traceback" not in done.stderr
    assert generations.current(settings) == published
    assert sorted(p.name for p in settings.index_dir.glob("gen-*")) == [published.name]  # type: ignore[union-attr]
    answer = KnowledgeBase(settings, embedder=embedder).ask("Hur mycket betalar varje kommun?")
    assert "4 kronor" in answer.text


@pytest.mark.slow
def test_the_estimate_covers_what_a_build_really_writes(
    report_corpus: Settings, embedder: Embedder, tmpfs: Callable[[int], Path]
) -> None:
    settings = _on_tmpfs(report_corpus, tmpfs(16))
    index_corpus(settings, embedder=embedder)
    generation = generations.current(settings)
    assert generation is not None
    written = sum(p.stat().st_size for p in generation.rglob("*") if p.is_file())
    plan = make_plan(settings, load_catalog(settings.corpus_dir), IndexReport(), rebuild=True, progress=None)
    assert written < space_needed(settings, plan) < 10 * written


@pytest.mark.slow
def test_a_disk_that_fills_during_a_build_leaves_the_published_index_answering(
    report_corpus: Settings, embedder: Embedder, tmpfs: Callable[[int], Path]
) -> None:
    settings = _on_tmpfs(report_corpus, tmpfs(16))
    index_corpus(settings, embedder=embedder)
    published = generations.current(settings)
    (settings.corpus_dir / "tillagg.md").write_text(NEW_DOCUMENT, encoding="utf-8")
    filled: list[Path] = []

    def progress(stage: str, done: int, total: int) -> None:
        if stage == "Bäddar in meningar" and not filled:  # Chroma is written; the sentence vectors are next
            filled.append(_fill(settings.index_dir))

    with pytest.raises(StoreError, match="Indexet kunde inte skrivas i .*No space left on device"):
        index_corpus(settings, embedder=embedder, progress=progress)
    assert filled, "the build never reached the sentence vectors"
    assert generations.current(settings) == published
    assert sorted(p.name for p in settings.index_dir.glob("gen-*")) == [published.name]  # type: ignore[union-attr]
    answer = KnowledgeBase(settings, embedder=embedder).ask("Hur mycket betalar varje kommun?")
    assert "4 kronor" in answer.text  # served read-only from the full disk
    filled[0].unlink()
    report = index_corpus(settings, embedder=embedder)  # with room again, the next run succeeds
    assert report.new == ["tillagg.md"] and generations.current(settings) != published


@pytest.mark.slow
def test_a_write_error_while_publishing_is_a_store_error_and_changes_nothing(
    report_corpus: Settings, embedder: Embedder, monkeypatch: pytest.MonkeyPatch
) -> None:
    import errno

    index_corpus(report_corpus, embedder=embedder)
    published = generations.current(report_corpus)
    (report_corpus.corpus_dir / "tillagg.md").write_text(NEW_DOCUMENT, encoding="utf-8")

    def full(settings: Settings, generation: Path) -> None:
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(generations, "publish", full)
    with pytest.raises(StoreError, match="Indexet kunde inte skrivas i .*No space left on device"):
        index_corpus(report_corpus, embedder=embedder)
    assert generations.current(report_corpus) == published
    monkeypatch.undo()
    assert index_corpus(report_corpus, embedder=embedder).new == ["tillagg.md"]
