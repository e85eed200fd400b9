"""Evaluation: the dev question set (answers) and public Swedish retrieval benchmarks.

- ``score_answers``: evidence hit@k, answer accuracy, abstention and false abstention, as defined
  in shared/eval/README.md.
- ``swequad``: SweQUAD-MC; every context indexed through our own pipeline; a question is a hit
  at k when a top-k passage of the right context contains the answer span.
- ``swefaq``: SweFAQ; every distinct answer indexed; hit@1, hit@5 and nDCG@10 of the right answer.
Both report BM25 alone, dense alone and our hybrid, in the same run on the same index.
"""

from __future__ import annotations

import json
import math
import re
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from kb_app.candidates import sentences
from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.indexing import index_corpus
from kb_app.retrieval import Retriever

MODES = ("lexical", "dense", "hybrid")


def normalise(text: str) -> str:
    """Lower case, Markdown emphasis removed, dashes unified, white space collapsed."""
    text = re.sub(r"[*_#]", "", text.lower()).replace("–", "-").replace("—", "-")
    return " ".join(text.split())


def read_jsonl(path: Path) -> list[dict[str, Any]]:
    with path.open(encoding="utf-8") as handle:
        return [json.loads(line) for line in handle if line.strip()]


def score_answers(questions: Sequence[dict[str, Any]], answers: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Metrics of batch answers against questions with ``expect``, ``answer_keys`` and ``evidence``."""
    by_id = {a["id"]: a for a in answers}
    answerable = [q for q in questions if q.get("expect") == "answer"]
    unanswerable = [q for q in questions if q.get("expect") == "abstain"]
    hits = {1: 0, 3: 0, 5: 0}
    correct = false_abstain = 0
    for q in answerable:
        a = by_id[q["id"]]
        evidence = normalise(q["evidence"])
        ranks = [i for i, p in enumerate(a["passages"], start=1) if evidence in normalise(p["text"])]
        for k in hits:
            hits[k] += bool(ranks and ranks[0] <= k)
        if a["abstained"]:
            false_abstain += 1
            continue
        text = normalise(a["answer"])
        keys_ok = all(any(normalise(alt) in text for alt in group) for group in q["answer_keys"])
        cited = any(evidence in normalise(c["text"]) for c in a["citations"])
        correct += keys_ok and cited
    n = max(1, len(answerable))
    return {
        "questions": len(questions),
        "evidence_hit@1": hits[1] / n,
        "evidence_hit@3": hits[3] / n,
        "evidence_hit@5": hits[5] / n,
        "answer_accuracy": correct / n,
        "abstention": sum(by_id[q["id"]]["abstained"] for q in unanswerable) / max(1, len(unanswerable)),
        "false_abstention": false_abstain / n,
    }


def build_index(
    folder: Path, files: Iterable[tuple[str, str, str]], settings: Settings, embedder: Embedder
) -> Retriever:
    """Index ``(file name, title, text)`` documents in ``folder`` (incrementally) and open them."""
    corpus = folder / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    catalog = []
    wanted = set()
    for name, title, text in files:
        wanted.add(name)
        path = corpus / name
        if not path.is_file() or path.read_text(encoding="utf-8") != text:
            path.write_text(text, encoding="utf-8")
        catalog.append(f"[{json.dumps(name)}]\ntitle = {json.dumps(title, ensure_ascii=False)}\n")
    for stale in corpus.glob("*.txt"):
        if stale.name not in wanted:
            stale.unlink()
    (corpus / "catalog.toml").write_text("\n".join(catalog), encoding="utf-8")
    local = replace(settings, corpus_dir=corpus, index_dir=folder / "index", collection="eval")
    index_corpus(local, embedder=embedder)
    return Retriever(local, embedder=embedder)


def swequad_files(rows: Sequence[dict[str, Any]]) -> list[tuple[str, str, str]]:
    """SweQUAD-MC contexts as ``(file name, title, text)`` documents, one paragraph per line."""
    contexts: dict[str, str] = {}
    for row in rows:
        contexts.setdefault(row["context_id"], row["context"])
    files = []
    for cid, text in contexts.items():
        lines = [line.strip() for line in text.replace("\r\n", "\n").split("\n") if line.strip()]
        files.append((f"{cid}.txt", lines[0][:120], "\n\n".join(lines) + "\n"))
    return files


def swequad_targets(files: Sequence[tuple[str, str, str]]) -> dict[str, str]:
    """{context id: the file that holds its text in the index}.

    A few SweQUAD-MC contexts have identical text under two ids; the indexer keeps the first file
    (in name order) and flags the other as a duplicate, so both ids are answered by that file.
    """
    kept: dict[str, str] = {}
    targets = {}
    for name, _, text in sorted(files):
        targets[name.removesuffix(".txt")] = kept.setdefault(text, name)
    return targets


def words(text: str) -> str:
    """``text`` as its normalised words, one space apart and padded, for whole-word search."""
    return " " + " ".join(re.findall(r"\w+", normalise(text))) + " "


def answer_copied(context: str, span: str, others: Iterable[str], margin: int = 2) -> bool:
    """True when another document holds the answer ``span`` word for word with ``margin`` words of
    its ``context`` on each side: the text was copied there, so removing ``context`` leaves the
    answer in the documents. ``others`` are documents as ``words`` gives them.

    SweQUAD-MC's web pages repeat paragraphs (one visa rule on several pages); a question whose own
    context is removed is no negative when a copy of its answer stays."""
    windows = _answer_windows(context, span, margin)
    return any(w in text for text in others for w in windows)


def copy_holders(context: str, span: str, others: Mapping[str, str], margin: int = 2) -> list[str]:
    """The names of the documents in ``others`` (name -> ``words`` text) that hold a copy of the
    answer, as ``answer_copied`` finds it."""
    windows = _answer_windows(context, span, margin)
    return [name for name, text in others.items() if any(w in text for w in windows)]


def _letters(text: str) -> str:
    """``text`` normalised with everything but letters and digits removed: a span cut inside a word
    ("psykoanalyt") or run into the next one ("minst8 190") still matches where it stands."""
    return re.sub(r"\W+", "", normalise(text))


def without_answers(text: str, spans: Iterable[str]) -> str:
    """``text`` (paragraphs apart by blank lines) without every sentence that holds one of ``spans``
    (matched on letters and digits alone); a span that runs across sentences takes its whole
    paragraph, and one across two paragraphs takes both. The topic stays, the asked facts go: the
    documents are about the question without answering it (the "answer removed" negatives)."""
    wanted = [w for w in (_letters(s) for s in spans) if w]
    paragraphs = text.split("\n\n")
    flat = [_letters(p) for p in paragraphs]
    dropped = {
        j
        for w in wanted
        if not any(w in f for f in flat)
        for i in range(len(flat) - 1)
        if w in flat[i] + flat[i + 1]
        for j in (i, i + 1)
    }
    out = []
    for i, paragraph in enumerate(paragraphs):
        if i in dropped:
            continue
        if any(w in flat[i] for w in wanted):
            kept = [s for s in sentences(paragraph) if not any(w in _letters(s) for w in wanted)]
            paragraph = " ".join(kept) if not any(w in _letters(" ".join(kept)) for w in wanted) else ""
        if paragraph.strip():
            out.append(paragraph.strip())
    return "\n\n".join(out) + "\n"


def answers_removed_files(
    rows: Sequence[dict[str, Any]], files: Sequence[tuple[str, str, str]]
) -> list[tuple[str, str, str]]:
    """SweQUAD-MC's documents (``swequad_files``, one per distinct text) without the sentences that
    answer any of their questions (``without_answers``); a document with nothing left is dropped."""
    targets = swequad_targets(files)
    spans: dict[str, list[str]] = defaultdict(list)
    for row in rows:
        spans[targets[row["context_id"]]].append(row["answers"][0]["text"])
    out = []
    for name, _, text in files:
        if targets[name.removesuffix(".txt")] == name and (kept := without_answers(text, spans[name])).strip():
            out.append((name, kept.split("\n", 1)[0][:120], kept))
    return out


def _answer_windows(context: str, span: str, margin: int) -> list[str]:
    """Each place of ``span`` in ``context`` with ``margin`` words either side, as ``words`` text."""
    ctx, asked = words(context).split(), words(span).split()
    return [
        " " + " ".join(ctx[max(0, i - margin) : i + len(asked) + margin]) + " "
        for i in range(len(ctx) - len(asked) + 1)
        if asked and ctx[i : i + len(asked)] == asked
    ]


def swequad(
    data: Path, workdir: Path, settings: Settings, embedder: Embedder, *, fusions: dict[str, Any] | None = None
) -> dict[str, dict[str, float]]:
    """Answer-span hit@1/5/10 per split and mode on SweQUAD-MC."""
    rows = read_jsonl(data)
    files = swequad_files(rows)
    targets = swequad_targets(files)
    retriever = build_index(workdir / "swequad", files, settings, embedder)
    results: dict[str, dict[str, float]] = {}
    for mode, fusion in _modes(retriever, fusions):
        counts: dict[str, list[int]] = defaultdict(lambda: [0, 0, 0, 0])
        for row in rows:
            retriever.fusion = fusion
            hits = retriever.search(row["question"], k=10, mode=mode)
            span = " ".join(row["answers"][0]["text"].split()).lower()
            ranks = [
                i
                for i, h in enumerate(hits, start=1)
                if h.chunk.doc_id == targets[row["context_id"]] and span in " ".join(h.chunk.text.split()).lower()
            ]
            first = ranks[0] if ranks else 99
            for split in (row["split"], "all"):
                c = counts[split]
                c[0] += 1
                c[1] += first <= 1
                c[2] += first <= 5
                c[3] += first <= 10
        for split, (n, h1, h5, h10) in counts.items():
            results[f"{mode}/{split}"] = {"n": n, "hit@1": h1 / n, "hit@5": h5 / n, "hit@10": h10 / n}
    return results


def swefaq(
    folder: Path, workdir: Path, settings: Settings, embedder: Embedder, *, fusions: dict[str, Any] | None = None
) -> dict[str, dict[str, float]]:
    """hit@1, hit@5 and nDCG@10 per split and mode on SweFAQ (all distinct answers ranked)."""
    rows = read_jsonl(folder / "swefaq_pairs.jsonl")
    answers = sorted({" ".join(r["answer"].split()) for r in rows})
    ids = {text: f"svar-{i:04d}.txt" for i, text in enumerate(answers)}
    retriever = build_index(workdir / "swefaq", [(ids[t], "Svar", t + "\n") for t in answers], settings, embedder)
    results: dict[str, dict[str, float]] = {}
    for mode, fusion in _modes(retriever, fusions):
        retriever.fusion = fusion
        sums: dict[str, list[float]] = defaultdict(lambda: [0, 0, 0, 0])
        for row in rows:
            target = ids[" ".join(row["answer"].split())]
            ranked: list[str] = []
            for hit in retriever.search(row["question"], k=30, mode=mode):
                if hit.chunk.doc_id not in ranked:
                    ranked.append(hit.chunk.doc_id)
            rank = ranked.index(target) + 1 if target in ranked else 99
            for split in (row["split"], "all"):
                s = sums[split]
                s[0] += 1
                s[1] += rank <= 1
                s[2] += rank <= 5
                s[3] += 1 / math.log2(rank + 1) if rank <= 10 else 0.0
        for split, (n, h1, h5, ndcg) in sums.items():
            results[f"{mode}/{split}"] = {"n": n, "hit@1": h1 / n, "hit@5": h5 / n, "ndcg@10": ndcg / n}
    return results


def _modes(retriever: Retriever, fusions: dict[str, Any] | None) -> list[tuple[str, Any]]:
    base = retriever.fusion
    modes: list[tuple[str, Any]] = [("lexical", base), ("dense", base), ("hybrid", base)]
    for name, fusion in (fusions or {}).items():
        modes.append((f"hybrid:{name}", fusion))
    return modes
