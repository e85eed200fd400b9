"""Speed, scale, memory and start-up benchmarks. Each returns plain numbers for the report."""

from __future__ import annotations

import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

from bench.common import DATASETS, DEV, PDF_DIR, REPO, WORK, dir_mb, distribution, stopwatch, timed
from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.evaluation import read_jsonl
from kb_app.generations import resolve
from kb_app.indexing import index_corpus
from kb_app.models import Chunk
from kb_app.retrieval import Retriever
from kb_app.service import KnowledgeBase
from kb_app.store import VectorStore


def shipped_settings(settings: Settings, root: Path) -> Settings:
    """The shipped corpus with an index of its own under ``root``."""
    return replace(settings, corpus_dir=REPO / "corpus", index_dir=root / "index", collection="bench")


def latency(kb: KnowledgeBase, rounds: int, *, torch_embedder: Embedder | None = None) -> dict[str, Any]:
    """Warm floor (bare query embedding), retrieval and answer latency on the dev questions.

    Separate passes, so no timing profits from the retriever's cache of the last query vector. With
    ``torch_embedder``, also a bare query embedding of the same model in sentence-transformers
    (PyTorch), in the same process: the cost of a query before ONNX Runtime.
    """
    questions = read_jsonl(DEV)
    for q in questions:  # warm-up
        kb.ask(q["question"], q.get("history") or [])
        if torch_embedder is not None:
            torch_embedder.embed_query(q["question"])
    times: dict[str, list[float]] = {"floor": [], "retrieval": [], "answer": [], "torch_floor": []}
    for _ in range(rounds):
        for q in questions:
            timed(lambda q=q: kb.embedder.embed_query(q["question"]), times["floor"])
        for q in questions:
            timed(lambda q=q: kb.search(q["question"]), times["retrieval"])
        for q in questions:
            timed(lambda q=q: kb.ask(q["question"], q.get("history") or []), times["answer"])
        for q in questions if torch_embedder is not None else []:
            timed(lambda q=q, e=torch_embedder: e.embed_query(q["question"]), times["torch_floor"])
    result: dict[str, Any] = {name: distribution(values) for name, values in times.items() if values}
    result["ratio"] = round(result["answer"]["p95"] / result["floor"]["p50"], 2)
    result["target_ms"] = round(1.5 * result["floor"]["p50"] + 10, 1)
    if "torch_floor" in result:
        result["answer_vs_torch"] = round(result["answer"]["p50"] / result["torch_floor"]["p50"], 2)
    return result


def reindex_unchanged(settings: Settings, embedder: Embedder) -> dict[str, Any]:
    """Index the shipped corpus into a fresh folder, then time a second, unchanged run."""
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        local = shipped_settings(settings, Path(tmp))
        first = index_corpus(local, embedder=embedder)
        # a fresh embedder: the unchanged run must not need the model at all
        idle = Embedder(settings)
        second = index_corpus(local, embedder=idle)
        # and the whole command, as a user runs it: interpreter, imports, opening the index
        env = {
            **os.environ,
            "KB_CORPUS_DIR": str(local.corpus_dir),
            "KB_INDEX_DIR": str(local.index_dir),
            "KB_MODEL_CACHE": str(settings.model_cache.resolve()),
            "KB_COLLECTION": local.collection,
        }
        with stopwatch() as t:
            done = subprocess.run([sys.executable, "-m", "indexer"], cwd=REPO, env=env, capture_output=True, text=True)
        return {
            "first_s": round(first.seconds, 2),
            "first_embedded": first.embedded,
            "unchanged_s": round(second.seconds, 2),
            "unchanged_embedded": second.embedded,
            "model_loaded": idle.loaded,
            "unchanged_command_s": round(t[0], 2),
            "unchanged_command_output": done.stdout.strip().splitlines()[:1],
        }


def indexing(settings: Settings, embedder: Embedder) -> dict[str, Any]:
    """Whole pipeline on the five PDFs (read, chunk, embed, store, BM25) beside the bare model."""
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        corpus.mkdir()
        for pdf in sorted(PDF_DIR.glob("*.pdf")):
            shutil.copy(pdf, corpus / pdf.name)
        local = replace(settings, corpus_dir=corpus, index_dir=Path(tmp) / "index", collection="bench")
        embedder.embed_query("uppvärmning")
        with stopwatch() as t:
            report = index_corpus(local, embedder=embedder)
        pipeline_s = t[0]
        texts = [c.embedding_text() for c in VectorStore(resolve(local)).chunks()]
        pages = sum(len(__import__("pypdf").PdfReader(p).pages) for p in corpus.glob("*.pdf"))
        with stopwatch() as t:
            embedder.embed_passages(texts)
        model_s = t[0]
        with stopwatch() as t:
            again = index_corpus(local, embedder=embedder)
        return {
            "documents": report.documents,
            "pages": pages,
            "chunks": report.embedded,
            "pipeline_s": round(pipeline_s, 1),
            "pipeline_chunks_per_s": round(report.embedded / pipeline_s, 1),
            "pipeline_pages_per_s": round(pages / pipeline_s, 1),
            "model_s": round(model_s, 1),
            "model_chunks_per_s": round(len(texts) / model_s, 1),
            "ratio": round(model_s / pipeline_s, 2),
            "unchanged_s": round(t[0], 2),
            "unchanged_embedded": again.embedded,
        }


def indexing_engines(
    settings: Settings, embedder: Embedder, torch_embedder: Embedder, int8_embedder: Embedder | None = None
) -> dict[str, Any]:
    """``indexing`` with ONNX Runtime (the default) and with PyTorch, one after the other in one run.

    With ``int8_embedder`` (``KB_EMBEDDING_PRECISION=int8``), also the int8 model, between the two.
    """
    onnx = indexing(settings, embedder)
    if int8_embedder is not None:
        onnx["int8"] = indexing(replace(settings, embedding_precision="int8"), int8_embedder)
    torch = indexing(settings, torch_embedder)
    onnx["torch"] = torch
    onnx["vs_torch"] = round(onnx["pipeline_chunks_per_s"] / torch["pipeline_chunks_per_s"], 2)
    if int8_embedder is not None:
        onnx["int8_vs_torch"] = round(onnx["int8"]["pipeline_chunks_per_s"] / torch["pipeline_chunks_per_s"], 2)
    return onnx


COLD_QUESTION = "Vad är budgeten för 2007?"
_TORCH_COLD = (
    "from kb_app.config import Settings\n"
    "from kb_app.embeddings import Embedder\n"
    "Embedder(Settings.from_env()).embed_query({question!r})\n"
)


def cold_start(settings: Settings, index: Settings, runs: int = 3) -> dict[str, Any]:
    """A cold ``python -m kb_app ask`` (interpreter, imports, model, index, answer) beside a cold load of
    the same model in sentence-transformers that embeds one query; medians of ``runs``, peak RSS the largest."""
    env = {
        **os.environ,
        "KB_CORPUS_DIR": str(index.corpus_dir),
        "KB_INDEX_DIR": str(index.index_dir),
        "KB_MODEL_CACHE": str(settings.model_cache.resolve()),
        "KB_COLLECTION": index.collection,
    }
    ask = [_peak_rss_mb([sys.executable, "-m", "kb_app", "ask", COLD_QUESTION], env) for _ in range(runs)]
    torch_env = {**env, "KB_EMBEDDING_ENGINE": "torch"}
    script = _TORCH_COLD.format(question=COLD_QUESTION)
    torch = [_peak_rss_mb([sys.executable, "-c", script], torch_env) for _ in range(runs)]
    result = {
        "ask_s": round(statistics.median(t for _, t, _ in ask), 2),
        "ask_peak_mb": round(max(m for m, _, _ in ask)),
        "ask_exit": max(c for _, _, c in ask),
        "torch_s": round(statistics.median(t for _, t, _ in torch), 2),
        "torch_peak_mb": round(max(m for m, _, _ in torch)),
        "torch_exit": max(c for _, _, c in torch),
    }
    result["ratio"] = round(result["ask_s"] / result["torch_s"], 2)
    return result


def _real_chunks(settings: Settings, embedder: Embedder) -> tuple[list[Chunk], np.ndarray]:
    """Real Swedish chunks with their real vectors: the five PDFs and the SweQUAD-MC contexts."""
    from bench.quality import EVAL, _swequad_data
    from kb_app.evaluation import build_index

    _, files = _swequad_data()
    swequad = build_index(EVAL / "swequad", files, settings, embedder)
    pdfs = WORK / "pdfs"
    (pdfs / "corpus").mkdir(parents=True, exist_ok=True)
    for pdf in sorted(PDF_DIR.glob("*.pdf")):
        if not (pdfs / "corpus" / pdf.name).exists():
            shutil.copy(pdf, pdfs / "corpus" / pdf.name)
    local = replace(settings, corpus_dir=pdfs / "corpus", index_dir=pdfs / "index", collection="bench")
    index_corpus(local, embedder=embedder)
    chunks: list[Chunk] = []
    vectors = []
    for store in (swequad.store, VectorStore(resolve(local))):
        ids, matrix = store.all_embeddings()
        by_id = {c.chunk_id: c for c in store.chunks()}
        chunks += [by_id[i] for i in ids]
        vectors.append(matrix)
    return chunks, np.concatenate(vectors)


def scale(settings: Settings, embedder: Embedder, sizes: tuple[int, ...], queries: int = 100) -> dict[str, Any]:
    """Retrieval latency and index size at growing sizes, built from real chunks and vectors.

    Up to the number of real chunks, the index holds real chunks only. Beyond it, every extra
    chunk is a copy of a real chunk (its text with a copy number appended, so BM25 sees distinct
    documents) whose vector is the real vector plus Gaussian noise (sigma 0.01 per dimension),
    renormalised: the neighbourhood structure of real embeddings, without hours of embedding.
    """
    chunks, vectors = _real_chunks(settings, embedder)
    rng = np.random.default_rng(7)
    questions = [r["question"] for r in read_jsonl(DATASETS / "swequad-mc" / "swequad_mc_flat.jsonl")[:queries]]
    results: dict[str, Any] = {"real_chunks": len(chunks)}
    for size in sizes:
        with tempfile.TemporaryDirectory(prefix="kb-scale-") as tmp:
            local = replace(settings, index_dir=Path(tmp) / "index", collection="scale")
            store = VectorStore(local)
            store.set_model_id(settings.embedding_model)
            with stopwatch() as build:
                for start in range(0, size, 2000):
                    part_chunks, part_vectors = [], []
                    for i in range(start, min(size, start + 2000)):
                        base = chunks[i % len(chunks)]
                        copy = i // len(chunks)
                        vector = vectors[i % len(chunks)]
                        if copy:
                            vector = vector + rng.normal(0, 0.01, vector.shape).astype(np.float32)
                            vector /= np.linalg.norm(vector)
                            base = replace(base, chunk_id=f"{base.chunk_id}~{copy}", text=f"{base.text} (kopia {copy})")
                        part_chunks.append(base)
                        part_vectors.append(vector)
                    store.upsert(part_chunks, np.stack(part_vectors))
                with stopwatch() as opened:
                    retriever = Retriever(local, embedder=embedder)
            for q in questions[:10]:
                retriever.search(q)
            times: list[float] = []
            for q in questions:
                timed(lambda q=q, r=retriever: r.search(q), times)
            results[str(size)] = {
                "chunks": len(retriever.chunks),
                "retrieval": distribution(times),
                "index_mb": round(dir_mb(local.index_dir), 1),
                "build_s": round(build[0], 1),
                "open_s": round(opened[0], 1),
                "dense": "exakt i minnet" if len(retriever.chunks) < retriever.fusion.exact_below else "HNSW (Chroma)",
            }
    return results


# Forks the command from a small, fresh interpreter: a child forked from this (large) process would
# count this process's pages in its peak RSS until it execs.
_LAUNCHER = (
    "import os, sys\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.execv(sys.argv[1], sys.argv[2:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "print(usage.ru_maxrss, os.waitstatus_to_exitcode(status))\n"
)


def _peak_rss_mb(command: list[str], env: dict[str, str]) -> tuple[float, float, int]:
    """Run a command; its peak RSS in MB (from wait4), its wall time and its exit code."""
    launcher = [sys.executable, "-c", _LAUNCHER, shutil.which(command[0]) or command[0], *command]
    started = time.perf_counter()
    done = subprocess.run(launcher, cwd=REPO, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True)
    elapsed = time.perf_counter() - started
    peak_kb, code = done.stdout.split()[-2:]
    return int(peak_kb) / 1024, elapsed, int(code)


def memory_and_startup(settings: Settings, runs: int = 3) -> dict[str, Any]:
    """Peak RSS of the indexer (five PDFs and the report, fresh index) and of the app, and the time
    from ``streamlit run`` to the first answer in a browser with an existing index (median of ``runs``)."""
    with tempfile.TemporaryDirectory(prefix="kb-bench-") as tmp:
        corpus = Path(tmp) / "corpus"
        shutil.copytree(REPO / "corpus", corpus)
        for pdf in sorted(PDF_DIR.glob("*.pdf")):
            shutil.copy(pdf, corpus / pdf.name)
        env = {
            **os.environ,
            "KB_CORPUS_DIR": str(corpus),
            "KB_INDEX_DIR": str(Path(tmp) / "index"),
            "KB_MODEL_CACHE": str(settings.model_cache.resolve()),
            "KB_FEEDBACK_DB": str(Path(tmp) / "feedback.sqlite3"),
        }
        indexer_mb, indexer_s, code = _peak_rss_mb([sys.executable, "-m", "indexer"], env)
        result: dict[str, Any] = {"indexer_peak_mb": round(indexer_mb), "indexer_s": round(indexer_s, 1)}
        result["indexer_exit"] = code
        apps = [_app_first_answer(env, Path(tmp) / f"streamlit-{n}.log") for n in range(runs)]
        result["app_first_answer_runs"] = [a["app_first_answer_s"] for a in apps]
        result["app_first_answer_s"] = statistics.median(result["app_first_answer_runs"])
        result["app_peak_mb"] = max(a["app_peak_mb"] for a in apps)
        result["app_startup_line"] = apps[-1]["startup_line"]
        return result


def _app_first_answer(env: dict[str, str], log: Path) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, free_port

    port = free_port()
    command = [sys.executable, "-m", "streamlit", "run", str(REPO / "streamlit_app.py"), "--server.port", str(port)]
    command += ["--server.headless", "true", "--browser.gatherUsageStats", "false"]
    started = time.perf_counter()
    with log.open("w") as output:
        process = subprocess.Popen(command, cwd=REPO, env=env, stdout=output, stderr=subprocess.STDOUT)
    try:
        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
            page = browser.new_page()
            page.set_default_timeout(180_000)
            while True:
                try:
                    page.goto(f"http://127.0.0.1:{port}")
                    break
                except Exception:  # the server is not listening yet
                    if time.perf_counter() - started > 180:
                        raise
                    time.sleep(0.2)
            box = page.get_by_test_id("stChatInputTextArea")
            box.fill("Vilka mål har partnerskapet?")
            box.press("Enter")
            answer = page.get_by_test_id("stChatMessage").filter(has_text="norra Europas ledande tillväxtregion")
            answer.first.wait_for()
            first_answer_s = time.perf_counter() - started
            browser.close()
        status = Path(f"/proc/{process.pid}/status").read_text()
        peak = next(int(line.split()[1]) for line in status.splitlines() if line.startswith("VmHWM"))
        line = next((x for x in log.read_text().splitlines() if "Start:" in x), "")
        return {
            "app_first_answer_s": round(first_answer_s, 1),
            "app_peak_mb": round(peak / 1024),
            "startup_line": line.split("kb_app.ui: ")[-1],
        }
    finally:
        process.terminate()
        process.wait(timeout=30)


def load(kb: KnowledgeBase, settings: Settings) -> dict[str, Any]:
    """Latency under load: 16 threads asking 500 questions through kb_app, and 10 browser sessions
    asking at the same time against a running Streamlit server."""
    from concurrent.futures import ThreadPoolExecutor

    questions = [(q["question"], q.get("history") or []) for q in read_jsonl(DEV)]
    items = [questions[i % len(questions)] for i in range(500)]
    for question, history in questions:  # warm-up
        kb.ask(question, history)
    times: list[float] = []

    def one(item: tuple[str, list[str]]) -> None:
        timed(lambda: kb.ask(item[0], item[1]), times)

    with stopwatch() as wall, ThreadPoolExecutor(max_workers=16) as pool:
        list(pool.map(one, items))
    result: dict[str, Any] = {
        "threads": {"answer": distribution(times), "per_s": round(len(items) / wall[0], 1), "errors": 0}
    }
    result["browser"] = _browser_sessions(kb.settings, sessions=10, rounds=3)
    return result


def _browser_sessions(settings: Settings, *, sessions: int, rounds: int) -> dict[str, Any]:
    from playwright.sync_api import sync_playwright

    from tests.test_browser import CHROMIUM, CHROMIUM_ARGS, start_streamlit

    asked = ["Vilka mål har partnerskapet?", "Hur mycket betalar varje kommun?", "Vem leder partnerskapet?"]
    expect = ["norra Europas ledande tillväxtregion", "4 kronor", "kommunstyrelseordförandena"]
    with tempfile.TemporaryDirectory(prefix="kb-load-") as tmp:
        local = replace(settings, feedback_db=Path(tmp) / "feedback.sqlite3")
        url, process = start_streamlit(local, Path(tmp) / "streamlit.log")
        times: list[float] = []
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS)
                pages = [browser.new_context().new_page() for _ in range(sessions)]
                for page in pages:
                    page.set_default_timeout(180_000)
                    page.goto(url)
                    page.get_by_test_id("stChatInputTextArea").wait_for()
                for r in range(rounds):
                    sent = []
                    for page in pages:
                        box = page.get_by_test_id("stChatInputTextArea")
                        box.fill(asked[r % len(asked)])
                        box.press("Enter")
                        sent.append(time.perf_counter())
                    for page, started in zip(pages, sent, strict=True):
                        page.get_by_test_id("stChatMessage").filter(has_text=expect[r % len(expect)]).first.wait_for()
                        times.append((time.perf_counter() - started) * 1000)
                browser.close()
        finally:
            process.terminate()
            process.wait(timeout=30)
    return {"sessions": sessions, "answered": len(times), "asked": sessions * rounds, "answer": distribution(times)}
