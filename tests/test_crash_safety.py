"""Index generations: SIGKILL mid-index, one writer at a time, readers during a re-index."""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from kb_app import generations
from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.errors import IndexBusyError
from kb_app.indexing import index_corpus, index_version, read_status
from kb_app.service import KnowledgeBase

from .conftest import PDF_DIR, REPO

QUESTIONS = ("Vilka mål har partnerskapet?", "Hur mycket betalar varje kommun?", "rovdjur inventering")


def _indexer(settings: Settings) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        "KB_CORPUS_DIR": str(settings.corpus_dir),
        "KB_INDEX_DIR": str(settings.index_dir),
        "KB_MODEL_CACHE": str(settings.model_cache),
    }
    command = [sys.executable, "-m", "indexer"]
    return subprocess.Popen(command, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _answers(settings: Settings, embedder: Embedder) -> list[tuple[str, list[tuple[str, float]]]]:
    kb = KnowledgeBase(settings, embedder=embedder)
    return [(kb.ask(q).text, [(h.chunk.chunk_id, round(h.score, 6)) for h in kb.search(q)]) for q in QUESTIONS]


class _Watched:
    """An indexer process whose progress output (tqdm on stderr) is collected as it comes."""

    def __init__(self, settings: Settings) -> None:
        self.process = _indexer(settings)
        self.output = ""
        self._reader = threading.Thread(target=self._read, daemon=True)
        self._reader.start()

    def _read(self) -> None:
        assert self.process.stderr is not None
        while chunk := self.process.stderr.read(1):
            self.output += chunk

    def kill_at(self, stage: str, delay: float, timeout: float = 300) -> bool:
        """SIGKILL once ``stage`` has shown up and ``delay`` seconds passed; False if it finished first."""
        deadline = time.monotonic() + timeout
        while stage not in self.output:
            if self.process.poll() is not None:
                return False
            assert time.monotonic() < deadline, f"stage {stage!r} never came: {self.output[-500:]}"
            time.sleep(0.01)
        time.sleep(delay)
        if self.process.poll() is not None:
            return False
        self.process.send_signal(signal.SIGKILL)
        self.process.wait()
        return True


# Moments of a re-index: process start (imports), reading files, copying the old vectors,
# embedding (early and late), building BM25 and publishing.
KILL_POINTS = (
    ("", 0.2),
    ("Läser dokument", 0.0),
    ("Kopierar indexet", 0.0),
    ("Bäddar in avsnitt", 0.0),
    ("Bäddar in avsnitt", 1.5),
    ("Bygger ordindex", 0.0),
    ("Bygger ordindex", 0.05),
    ("Bygger ordindex", 0.3),
)


@pytest.mark.slow
def test_sigkill_at_any_moment_keeps_a_complete_index(report_corpus: Settings, embedder: Embedder) -> None:
    index_corpus(report_corpus, embedder=embedder)
    report = report_corpus.corpus_dir / "lagesredovisning-sba-2007.md"
    # the re-index adds a PDF and changes the report, so it reads, copies, embeds, writes and publishes
    shutil.copy(PDF_DIR / "nfs_2007_10_inventering_stora_rovdjur.pdf", report_corpus.corpus_dir)
    killed = 0
    for n, (stage, delay) in enumerate(KILL_POINTS):
        report.write_text(report.read_text() + f"\n\nTillägg {n} för testet.\n")
        version, answers = index_version(report_corpus), _answers(report_corpus, embedder)
        run = _Watched(report_corpus)
        landed = run.kill_at(stage, delay)
        killed += landed
        if landed and index_version(report_corpus) == version:
            assert _answers(report_corpus, embedder) == answers  # exactly as before the run
        else:  # the run got to publish: the new generation is complete
            assert run.process.wait() in (0, -signal.SIGKILL)
            status = read_status(report_corpus)
            assert set(status["hashes"]) == {
                "lagesredovisning-sba-2007.md",
                "nfs_2007_10_inventering_stora_rovdjur.pdf",
            }
            kb = KnowledgeBase(report_corpus, embedder=embedder)
            assert len(kb.retriever.chunks) == status["chunks"]
    assert killed >= 5, f"only {killed} kills landed before the indexer finished"

    done = _Watched(report_corpus)
    assert done.process.wait(timeout=600) == 0, done.output[-2000:]
    kb = KnowledgeBase(report_corpus, embedder=embedder)
    assert kb.search("inventering av stora rovdjur")[0].chunk.doc_id == "nfs_2007_10_inventering_stora_rovdjur.pdf"
    assert f"Tillägg {len(KILL_POINTS) - 1} för testet" in " ".join(c.text for c in kb.retriever.chunks)
    # the half-built generations of the killed runs are gone; the current one and at most two before it remain
    folders = sorted(p.name for p in report_corpus.index_dir.glob("gen-*"))
    assert 1 <= len(folders) <= 1 + generations.KEEP_PREVIOUS and folders[-1] == index_version(report_corpus)


@pytest.mark.slow
def test_a_second_writer_is_refused(report_corpus: Settings, embedder: Embedder) -> None:
    index_corpus(report_corpus, embedder=embedder)
    with generations.write_lock(report_corpus):
        process = _indexer(report_corpus)
        out, err = process.communicate(timeout=300)
        assert process.returncode == 4
        assert "En annan indexering pågår redan" in err and f"process {os.getpid()}" in err
        with pytest.raises(IndexBusyError):
            index_corpus(report_corpus, embedder=embedder)
    assert index_corpus(report_corpus, embedder=embedder).unchanged == ["lagesredovisning-sba-2007.md"]


@pytest.mark.slow
def test_a_reader_keeps_its_generation_while_a_new_one_is_published(
    report_corpus: Settings, embedder: Embedder
) -> None:
    index_corpus(report_corpus, embedder=embedder)
    reader = KnowledgeBase(report_corpus, embedder=embedder)
    before = reader.ask("Vilka mål har partnerskapet?").text
    (report_corpus.corpus_dir / "Bilaga 1 Testförteckning.md").write_text(
        "# Bilaga 1 Förteckning (påhittad testdata)\n\nDeltagande testkommuner: Påhittby och Låtsasköping.\n"
    )
    index_corpus(report_corpus, embedder=embedder)
    assert reader.is_stale()
    assert reader.ask("Vilka mål har partnerskapet?").text == before  # the old generation still answers
    fresh = KnowledgeBase(report_corpus, embedder=embedder)
    assert not fresh.is_stale() and 1 not in fresh.missing_appendices()


def test_unchanged_run_writes_nothing(report_corpus: Settings, embedder: Embedder) -> None:
    index_corpus(report_corpus, embedder=embedder)
    version = index_version(report_corpus)
    stamp = {p: p.stat().st_mtime_ns for p in Path(report_corpus.index_dir).rglob("*") if p.is_file()}
    again = index_corpus(report_corpus, embedder=Embedder(report_corpus))
    assert again.embedded == 0 and index_version(report_corpus) == version
    after = {p: p.stat().st_mtime_ns for p in Path(report_corpus.index_dir).rglob("*") if p.is_file()}
    changed = [p.name for p in after if stamp.get(p) != after[p]]
    assert changed in ([], [".write.lock"])
