"""Quality and latency of four pipelines in one run, with the same embedding model.

(a) the tutorial pipeline: ``RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)``
    over the raw text, vectors in Chroma, similarity search (top 4 for answers; as many as the
    metric needs for SweQUAD-MC and SweFAQ);
(b) BM25 only, (c) dense only, (d) ours (hybrid, and the full answer pipeline on the dev set).
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Callable, Sequence
from dataclasses import replace
from typing import Any

import chromadb
from chromadb.config import Settings as ChromaSettings
from langchain_text_splitters import RecursiveCharacterTextSplitter

from bench.common import DATASETS, DEV, REPO, WORK, distribution, timed
from kb_app.answer import resolve_turn
from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.evaluation import build_index, normalise, read_jsonl, swequad_files, swequad_targets
from kb_app.indexing import index_corpus
from kb_app.retrieval import Retriever
from kb_app.service import KnowledgeBase

Search = Callable[[str, Sequence[str], int], list[tuple[str, str]]]  # (question, history, k) -> [(doc id, text)]
PIPELINES = ("tutorial", "bm25", "dense", "ours")
EVAL = REPO / ".kb" / "eval"  # shared with `python -m kb_app eval`


class TutorialPipeline:
    """What most RAG tutorials build: fixed-size character chunks, Chroma similarity search."""

    def __init__(self, name: str, documents: Sequence[tuple[str, str]], embedder: Embedder) -> None:
        self.embedder = embedder
        splitter = RecursiveCharacterTextSplitter(chunk_size=1000, chunk_overlap=200)
        ids, texts, metas = [], [], []
        for doc_id, text in documents:
            for n, piece in enumerate(splitter.split_text(text)):
                ids.append(f"{doc_id}#{n}")
                texts.append(piece)
                metas.append({"doc_id": doc_id})
        digest = hashlib.sha256(json.dumps([ids, texts, embedder.model_id]).encode()).hexdigest()[:12]
        client = chromadb.PersistentClient(
            str(WORK / "tutorial" / name), settings=ChromaSettings(anonymized_telemetry=False)
        )
        self.collection = client.get_or_create_collection(f"tutorial-{digest}", embedding_function=None)
        if self.collection.count() != len(ids):  # cached between runs: embedding is not what is measured here
            for start in range(0, len(ids), 256):
                part = slice(start, start + 256)
                vectors = embedder.embed_passages(texts[part])
                self.collection.upsert(
                    ids=ids[part], documents=texts[part], metadatas=metas[part], embeddings=vectors.tolist()
                )
        self.chunks = len(ids)

    def search(self, question: str, history: Sequence[str], k: int) -> list[tuple[str, str]]:
        vector = self.embedder.embed_query(question)
        result = self.collection.query(query_embeddings=[vector.tolist()], n_results=k)
        metas = result["metadatas"][0]  # type: ignore[index]
        docs = result["documents"][0]  # type: ignore[index]
        return [(str(m["doc_id"]), d) for m, d in zip(metas, docs, strict=True)]


def _retriever_search(retriever: Retriever, mode: str) -> Search:
    def search(question: str, history: Sequence[str], k: int) -> list[tuple[str, str]]:
        query = resolve_turn(question, list(history)).query
        return [(h.chunk.doc_id, h.chunk.text) for h in retriever.search(query, k=k, mode=mode)]

    return search


def _kb_search(kb: KnowledgeBase) -> Search:
    """Ours on the dev set: the passages the full answer pipeline ranked (acronyms, follow-ups)."""

    def search(question: str, history: Sequence[str], k: int) -> list[tuple[str, str]]:
        answer = kb.ask(question, list(history))
        return [(h.chunk.doc_id, h.chunk.text) for h in answer.hits[:k]]

    return search


def _searches(tutorial: TutorialPipeline, retriever: Retriever) -> dict[str, Search]:
    """The four pipelines over one benchmark corpus (ours = hybrid retrieval)."""
    return {
        "tutorial": tutorial.search,
        "bm25": _retriever_search(retriever, "lexical"),
        "dense": _retriever_search(retriever, "dense"),
        "ours": _retriever_search(retriever, "hybrid"),
    }


def dev_hit3(search: Search) -> dict[str, Any]:
    questions = [q for q in read_jsonl(DEV) if q.get("expect") == "answer"]
    hits, times = 0, []
    for q in questions:
        found = timed(lambda q=q: search(q["question"], q.get("history") or [], 3), times)
        evidence = normalise(q["evidence"])
        hits += any(evidence in normalise(text) for _, text in found[:3])
    return {"score": hits / len(questions), "latency": distribution(times)}


def swequad_hit5(search: Search, rows: list[dict[str, Any]], targets: dict[str, str]) -> dict[str, Any]:
    hits, times = 0, []
    for row in rows:
        found = timed(lambda row=row: search(row["question"], (), 5), times)
        span = " ".join(row["answers"][0]["text"].split()).lower()
        want = targets[row["context_id"]]
        hits += any(doc == want and span in " ".join(text.split()).lower() for doc, text in found)
    return {"score": hits / len(rows), "latency": distribution(times)}


def swefaq_ndcg10(search: Search, rows: list[dict[str, Any]], ids: dict[str, str]) -> dict[str, Any]:
    total, times = 0.0, []
    for row in rows:
        found = timed(lambda row=row: search(row["question"], (), 30), times)
        ranked: list[str] = []
        for doc, _ in found:
            if doc not in ranked:
                ranked.append(doc)
        target = ids[" ".join(row["answer"].split())]
        if target in ranked[:10]:
            total += 1 / math.log2(ranked.index(target) + 2)
    return {"score": total / len(rows), "latency": distribution(times)}


def _swequad_data() -> tuple[list[dict[str, Any]], list[tuple[str, str, str]]]:
    rows = read_jsonl(DATASETS / "swequad-mc" / "swequad_mc_flat.jsonl")
    return rows, swequad_files(rows)


def run(
    embedder: Embedder, settings: Settings, *, limit: int | None = None, torch_embedder: Embedder | None = None
) -> dict[str, dict[str, Any]]:
    """Every pipeline on the dev set, SweQUAD-MC and SweFAQ. ``limit`` cuts the benchmark questions.

    With ``torch_embedder``, "ours_torch" is our hybrid search on the same indexes with the queries
    embedded by the same model in PyTorch: the figures before ONNX Runtime, in the same run.
    """
    results: dict[str, dict[str, Any]] = {p: {} for p in PIPELINES}
    # dev set over the shipped corpus
    shipped = replace(settings, corpus_dir=REPO / "corpus", index_dir=WORK / "shipped" / "index", collection="bench")
    index_corpus(shipped, embedder=embedder)
    kb = KnowledgeBase(shipped, embedder=embedder)
    raw = [(p.name, p.read_text(encoding="utf-8")) for p in sorted((REPO / "corpus").glob("*.md"))]
    searches: dict[str, Search] = {
        "tutorial": TutorialPipeline("shipped", raw, embedder).search,
        "bm25": _retriever_search(kb.retriever, "lexical"),
        "dense": _retriever_search(kb.retriever, "dense"),
        "ours": _kb_search(kb),
    }
    for name, search in searches.items():
        results[name]["dev"] = dev_hit3(search)

    rows, files = _swequad_data()
    targets = swequad_targets(files)
    rows = rows[:limit] if limit else rows
    retriever = build_index(EVAL / "swequad", files, settings, embedder)
    tutorial = TutorialPipeline("swequad", [(name, text) for name, _, text in files], embedder)
    for name, search in _searches(tutorial, retriever).items():
        results[name]["swequad"] = swequad_hit5(search, rows, targets)
    if torch_embedder is not None:
        torch_search = _retriever_search(Retriever(retriever.settings, embedder=torch_embedder), "hybrid")
        results["ours_torch"] = {"swequad": swequad_hit5(torch_search, rows, targets)}

    faq = read_jsonl(DATASETS / "swefaq" / "swefaq_pairs.jsonl")
    answers = sorted({" ".join(r["answer"].split()) for r in faq})
    ids = {text: f"svar-{i:04d}.txt" for i, text in enumerate(answers)}
    retriever = build_index(EVAL / "swefaq", [(ids[t], "Svar", t + "\n") for t in answers], settings, embedder)
    tutorial = TutorialPipeline("swefaq", [(ids[t], t) for t in answers], embedder)
    faq = faq[:limit] if limit else faq
    for name, search in _searches(tutorial, retriever).items():
        results[name]["swefaq"] = swefaq_ndcg10(search, faq, ids)
    if torch_embedder is not None:
        torch_search = _retriever_search(Retriever(retriever.settings, embedder=torch_embedder), "hybrid")
        results["ours_torch"]["swefaq"] = swefaq_ndcg10(torch_search, faq, ids)
    return results
