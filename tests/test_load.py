"""Concurrent use of one KnowledgeBase: 16 threads, 500 questions, same answers and sources as alone."""

from __future__ import annotations

import shutil
from concurrent.futures import ThreadPoolExecutor

import pytest

from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.evaluation import read_jsonl
from kb_app.indexing import index_corpus
from kb_app.service import KnowledgeBase

from .conftest import PDF_DIR, REPO, SHARED


@pytest.mark.slow
def test_sixteen_threads_five_hundred_questions(tmp_path, embedder: Embedder) -> None:  # type: ignore[no-untyped-def]
    shutil.copytree(REPO / "corpus", tmp_path / "corpus")
    for pdf in ("nfs_2007_10_inventering_stora_rovdjur.pdf", "dir_2016_15_dataskyddsforordningen.pdf"):
        shutil.copy(PDF_DIR / pdf, tmp_path / "corpus")
    settings = Settings(
        corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", model_cache=embedder.settings.model_cache
    )
    index_corpus(settings, embedder=embedder)
    kb = KnowledgeBase(settings, embedder=embedder)
    dev = [(q["question"], tuple(q.get("history") or [])) for q in read_jsonl(SHARED / "eval" / "dev.jsonl")]
    extra = [("Vad ska inventeringen av stora rovdjur visa?", ()), ("Vad är ett personuppgiftsbiträde?", ())]
    questions = [(dev + extra)[i % len(dev + extra)] for i in range(500)]

    def run(item: tuple[str, tuple[str, ...]]) -> tuple[str, tuple[str, ...]]:
        answer = kb.ask(item[0], list(item[1]))
        return answer.text, tuple(c.chunk.chunk_id for c in answer.citations)

    alone = {item: run(item) for item in set(questions)}
    with ThreadPoolExecutor(max_workers=16) as pool:
        together = list(pool.map(run, questions))
    wrong = [q for q, got in zip(questions, together, strict=True) if got != alone[q]]
    assert not wrong, f"{len(wrong)} of 500 answers differed under load, e.g. {wrong[0]}"
    sources = {doc for _, ids in together for doc in (i.split("#")[0] for i in ids)}
    assert "nfs_2007_10_inventering_stora_rovdjur.pdf" in sources and "lagesredovisning-sba-2007.md" in sources
