"""Answer quality of several engines side by side, through the batch answer contract.

Question sets (each asked against its own index, built or reused under the work folder). "Never
tuned on" below says how a set began: the eight worn sets are training data since the thirteenth
round, heldout7 and heldout8 since the fourteenth (see the list's end), and the held-out sets'
figures were read when models were kept or rejected (docs/evaluation.md says which).

- ``dev``: shared/eval/dev.jsonl over the shipped corpus (training data for the models);
- ``heldout``: bench/data/heldout_pdfs.jsonl over the report and the five shared PDFs (written
  before any tuning; never tuned on);
- ``dialogues``: bench/data/dialogues.jsonl, every turn with its history, same corpus;
- ``heldout2``, ``dialogues2``: bench/data/heldout2_pdfs.jsonl and dialogues2.jsonl, a second set of
  the same kinds written blind from the documents alone before a later round of changes (ea57d14)
  and never tuned on;
- ``heldout3``, ``dialogues3``: bench/data/heldout3_pdfs.jsonl and dialogues3.jsonl, a third set
  written blind after the seventh round's changes (e3a71a9), before any read; never tuned on;
- ``report4``: bench/data/heldout4_report.jsonl over the shipped corpus (the report alone, as the
  product ships): 40 questions incl. 6 follow-ups and 10 unanswerable, written blind from the report
  by a helper before any run (52dad25); never trained on word for word (reworded twins of most of
  its facts are in the training sets), read when models were kept;
- ``heldout5``: bench/data/heldout5_mixed.jsonl over the report and the five shared PDFs: 40
  questions incl. 5 follow-ups, 2 in English and 10 unanswerable (the topic present, the fact
  absent), written blind by a helper from the documents before any run (6f5ed71); never tuned on;
- ``heldout6``: bench/data/heldout6_mixed.jsonl, the same kinds as heldout5, written blind by a
  helper after the tenth round's changes (bbd47d9), before any run; never tuned on;
- ``heldout7``: bench/data/heldout7_mixed.jsonl, the same kinds again (3 follow-ups), written blind by
  a helper at the start of the twelfth round (2593613), before any run; never tuned on;
- ``heldout8``: bench/data/heldout8_mixed.jsonl, the same kinds again (3 follow-ups, 2 in English),
  written blind by a helper at the start of the thirteenth round, before any run; never tuned on;
- ``heldout9``: bench/data/heldout9_mixed.jsonl, the same kinds again (3 follow-ups, 2 in English, 2
  yes/no), written blind by a helper at the start of the fourteenth round, before any run; never
  trained on, but read when the fourteenth round's models were kept;
- ``heldout10``: bench/data/heldout10_mixed.jsonl, the same kinds (3 follow-ups, 2 in English, 3
  reasons), mostly from PDF pages no earlier set used, written blind by a helper in the fourteenth
  round before its last change was trained or run; never trained on, read when a retrain was rejected;
- ``heldout11``: bench/data/heldout11_mixed.jsonl, the same kinds (3 follow-ups, 2 in English, 2
  yes/no, 3 reasons), from PDF pages no earlier set used, written blind by a helper at the start of
  the fifteenth round (aaa16e7), before any run; never trained on, though some of its facts are
  asked in other words by training questions (docs/evaluation.md);
- ``heldout12``: bench/data/heldout12_mixed.jsonl, the same kinds (3 follow-ups, 2 in English, 2
  yes/no, 3 reasons, 2 unanswerable about the missing appendices), from PDF pages no earlier set
  used, written blind by a helper at the start of the sixteenth round (164c91c), before any run;
  never trained on; three of its questions and its six report facts were asked in training before it
  was written (docs/evaluation.md);
- ``devpdfs``, ``devdialogues``: bench/data/dev_pdfs.jsonl and dev_dialogues.jsonl, the same kinds
  of questions written later, blind, as development data: their failures may be studied (never
  those of the held-out sets);
- worn: heldout, dialogues, heldout2, dialogues2, heldout3, dialogues3, heldout5 and heldout6 had
  their failures studied in the twelfth round and are training data since the thirteenth
  (kb_app.training.WORN), and so are heldout7 and heldout8 since the fourteenth (read on five
  models; kb_app.training.READ): their figures are training figures; heldout9 to heldout12 and
  report4 are the held-out ones (the failures of heldout9 to heldout11 were read in the sixteenth
  round);
- ``swequad``: SweQUAD-MC, every context indexed; an answer is right when it holds the correct
  choice's text; per split;
- ``negatives``: SweQUAD-MC and SweFAQ with half the contexts (answers) indexed: questions whose
  own context is out should be declined, the others answered (false abstention). A SweQUAD-MC
  question whose answer was copied into a kept context (``answer_copied``) counts as answerable.

Engines: "ranker" (the product), "floor" (the most similar sentence of the top passage) and,
given ``baseline``, an earlier checkout of this repository run as ``python -m kb_app ask --jsonl``.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Callable, Sequence
from dataclasses import replace
from pathlib import Path
from typing import Any

from kb_app.answer import Answerer, AnswerPolicy
from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.evaluation import (
    answer_copied,
    answers_removed_files,
    build_index,
    normalise,
    read_jsonl,
    score_answers,
    swequad_files,
    swequad_targets,
    words,
)
from kb_app.indexing import index_corpus

REPO = Path(__file__).resolve().parents[1]
DATA = REPO / "bench" / "data"
Record = dict[str, Any]
Engine = Callable[[Settings, list[Record]], list[Record]]
# question files over the report and the five shared PDFs: held-out (heldout9 to heldout12), worn and read (training
# data since the thirteenth and fourteenth rounds: kb_app.training.WORN, READ) and development
PDF_SETS = {
    "heldout": "heldout_pdfs.jsonl",
    "dialogues": "dialogues.jsonl",
    "devpdfs": "dev_pdfs.jsonl",
    "devdialogues": "dev_dialogues.jsonl",
    "heldout2": "heldout2_pdfs.jsonl",
    "dialogues2": "dialogues2.jsonl",
    "heldout3": "heldout3_pdfs.jsonl",
    "dialogues3": "dialogues3.jsonl",
    "heldout5": "heldout5_mixed.jsonl",
    "heldout6": "heldout6_mixed.jsonl",
    "heldout7": "heldout7_mixed.jsonl",
    "heldout8": "heldout8_mixed.jsonl",
    "heldout9": "heldout9_mixed.jsonl",
    "heldout10": "heldout10_mixed.jsonl",
    "heldout11": "heldout11_mixed.jsonl",
    "heldout12": "heldout12_mixed.jsonl",
}
# question files over the shipped corpus alone (the report), held out like the sets above
REPORT_SETS = {"report4": "heldout4_report.jsonl"}
SETS = ("dev", *REPORT_SETS, *PDF_SETS, "swequad", "negatives")


def in_process(policy: AnswerPolicy, embedder: Embedder) -> Engine:
    """An engine of this checkout: the same code path as ``python -m kb_app ask --jsonl``."""
    from kb_app.__main__ import answer_record
    from kb_app.service import KnowledgeBase

    def run(settings: Settings, questions: list[Record]) -> list[Record]:
        kb = KnowledgeBase(settings, embedder=embedder)
        kb.answerer = Answerer(kb.retriever, policy=policy, models=(kb.answerer.ranker, kb.answerer.gate))
        return [answer_record(kb.ask(q["question"], q.get("history") or []), q["id"]) for q in questions]

    return run


def checkout(path: Path) -> Engine:
    """An engine of another checkout (for example today's engine before a change), run as a subprocess."""

    def run(settings: Settings, questions: list[Record]) -> list[Record]:
        with tempfile.TemporaryDirectory() as tmp:
            src, out = Path(tmp) / "q.jsonl", Path(tmp) / "a.jsonl"
            src.write_text("".join(json.dumps(q, ensure_ascii=False) + "\n" for q in questions), encoding="utf-8")
            env = {
                **os.environ,
                "KB_CORPUS_DIR": str(settings.corpus_dir.resolve()),
                "KB_INDEX_DIR": str(settings.index_dir.resolve()),
                "KB_MODEL_CACHE": str(settings.model_cache.resolve()),
                "KB_COLLECTION": settings.collection,
            }
            command = [sys.executable, "-m", "kb_app", "ask", "--jsonl", str(src), "--out", str(out)]
            subprocess.run(command, cwd=path, env=env, check=True, capture_output=True)
            return read_jsonl(out)

    return run


def _half(key: str) -> bool:
    """A fixed half of the contexts (by a hash of their id), for the removed-context negatives."""
    return hashlib.sha256(key.encode()).digest()[0] % 2 == 0


def subset_index(
    full: Path, folder: Path, files: Sequence[tuple[str, str, str]], settings: Settings, embedder: Embedder
) -> Settings:
    """An index of ``files`` made from a copy of the full index: only texts the full index lacks are
    embedded (none when ``files`` is a part of the full index's files)."""
    if not (folder / "index").exists():
        shutil.copytree(full / "index", folder / "index")
    build_index(folder, files, settings, embedder)
    return replace(settings, corpus_dir=folder / "corpus", index_dir=folder / "index", collection="eval")


def swequad_sets(
    workdir: Path, datasets: Path, settings: Settings, embedder: Embedder, *, negatives: bool = True
) -> dict[str, Any]:
    rows = read_jsonl(datasets / "swequad-mc" / "swequad_mc_flat.jsonl")
    files = swequad_files(rows)
    targets = swequad_targets(files)
    build_index(workdir / "swequad", files, settings, embedder)
    full = replace(
        settings, corpus_dir=workdir / "swequad" / "corpus", index_dir=workdir / "swequad" / "index", collection="eval"
    )
    kept = {name for name, _, _ in files if _half(targets[name.removesuffix(".txt")])}
    half = subset_index(
        workdir / "swequad", workdir / "swequad-half", [f for f in files if f[0] in kept], settings, embedder
    )
    kept_words = [words(text) for name, _, text in files if name in kept]
    questions = [
        {
            "id": r["id"],
            "question": r["question"],
            "history": [],
            "split": r["split"],
            "span": r["answers"][0]["text"],
            # answerable in the half when its context was kept or a copy of its answer was
            "present": targets[r["context_id"]] in kept
            or answer_copied(r["context"], r["answers"][0]["text"], kept_words),
        }
        for r in rows
    ]
    sets = {"full": full, "half": half, "questions": questions}
    if negatives:  # the answers-removed index serves only the negatives
        sets["removed"], kept_answers = answers_removed_index(workdir, rows, files, settings, embedder)
        for q in questions:
            q["answer_kept"] = kept_answers[q["id"]]
    return sets


def answers_removed_index(
    workdir: Path,
    rows: Sequence[Record],
    files: Sequence[tuple[str, str, str]],
    settings: Settings,
    embedder: Embedder,
    *,
    name: str = "swequad-answers-removed",
) -> tuple[Settings, dict[str, bool]]:
    """SweQUAD-MC without the sentences that answer the questions ``rows`` (``answers_removed_files``),
    indexed at ``workdir``/``name`` from a copy of the full index at ``workdir``/swequad, and
    {question id: its answer still stands in it, copied elsewhere (``answer_copied``)}. There a
    question finds the passage about its topic without the fact it asks for: the plausible
    unanswerable question of a real corpus."""
    removed_files = answers_removed_files(rows, files)
    removed = subset_index(workdir / "swequad", workdir / name, removed_files, settings, embedder)
    texts = [words(text) for _, _, text in removed_files]
    return removed, {r["id"]: answer_copied(r["context"], r["answers"][0]["text"], texts) for r in rows}


def swefaq_sets(workdir: Path, datasets: Path, settings: Settings, embedder: Embedder) -> dict[str, Any]:
    rows = read_jsonl(datasets / "swefaq" / "swefaq_pairs.jsonl")
    answers = sorted({" ".join(r["answer"].split()) for r in rows})
    ids = {text: f"svar-{i:04d}.txt" for i, text in enumerate(answers)}
    files = [(ids[t], "Svar", t + "\n") for t in answers]
    build_index(workdir / "swefaq", files, settings, embedder)
    kept = {name for name, _, _ in files if _half(name)}
    half = subset_index(
        workdir / "swefaq", workdir / "swefaq-half", [f for f in files if f[0] in kept], settings, embedder
    )
    questions = [
        {
            "id": f"faq-{i}",
            "question": r["question"],
            "history": [],
            "split": r["split"],
            "present": ids[" ".join(r["answer"].split())] in kept,
        }
        for i, r in enumerate(rows)
    ]
    return {"half": half, "questions": questions}


def pdf_corpus(workdir: Path, datasets: Path, settings: Settings, embedder: Embedder) -> Settings:
    """The shipped corpus plus the five shared PDFs, indexed once."""
    corpus = workdir / "pdfs" / "corpus"
    corpus.mkdir(parents=True, exist_ok=True)
    for path in [*sorted((REPO / "corpus").iterdir()), *sorted((datasets / "pdfs").glob("*.pdf"))]:
        if not (corpus / path.name).exists():
            shutil.copy(path, corpus / path.name)
    local = replace(settings, corpus_dir=corpus, index_dir=workdir / "pdfs" / "index", collection="eval")
    index_corpus(local, embedder=embedder)
    return local


def _swequad_scores(questions: list[Record], answers: list[Record]) -> dict[str, float]:
    by_id = {a["id"]: a for a in answers}
    out: dict[str, list[int]] = {}
    for q in questions:
        a = by_id[q["id"]]
        ok = not a["abstained"] and normalise(q["span"]) in normalise(a["answer"])
        for split in (q["split"], "all"):
            out.setdefault(split, [0, 0])
            out[split][0] += ok
            out[split][1] += 1
    return {split: round(good / n, 4) for split, (good, n) in out.items()}


def _negative_scores(questions: list[Record], answers: list[Record]) -> dict[str, float]:
    by_id = {a["id"]: a for a in answers}
    result: dict[str, float] = {}
    for split in sorted({q["split"] for q in questions}) + ["all"]:
        chosen = [q for q in questions if split in ("all", q["split"])]
        neg = [by_id[q["id"]]["abstained"] for q in chosen if not q["present"]]
        pos = [by_id[q["id"]]["abstained"] for q in chosen if q["present"]]
        result[f"{split}/declined"] = round(sum(neg) / max(1, len(neg)), 4)
        result[f"{split}/false_abstention"] = round(sum(pos) / max(1, len(pos)), 4)
    return result


def evaluate(
    engines: dict[str, Engine],
    workdir: Path,
    datasets: Path,
    dev: Path,
    settings: Settings,
    embedder: Embedder,
    *,
    sets: Sequence[str] = SETS,
    log: Callable[[str], None] = print,
) -> dict[str, dict[str, Any]]:
    """{set: {engine: metrics}} for every engine on every set."""
    report: dict[str, dict[str, Any]] = {}
    shipped_sets = {"dev": dev, **{name: DATA / file for name, file in REPORT_SETS.items()}}
    if any(name in sets for name in shipped_sets):
        shipped = replace(settings, index_dir=workdir / "shipped" / "index", collection="eval")
        index_corpus(shipped, embedder=embedder)
        for name, path in shipped_sets.items():
            if name in sets:
                questions = read_jsonl(path)
                report[name] = {e: score_answers(questions, run(shipped, questions)) for e, run in engines.items()}
    if any(name in sets for name in PDF_SETS):
        pdfs = pdf_corpus(workdir, datasets, settings, embedder)
        for name, file in PDF_SETS.items():
            if name in sets and (DATA / file).is_file():
                questions = read_jsonl(DATA / file)
                report[name] = {e: score_answers(questions, run(pdfs, questions)) for e, run in engines.items()}
                if "dialogues" in name:
                    later = [q for q in questions if q.get("history")]
                    for e, run in engines.items():
                        report[name][e]["follow_ups"] = score_answers(later, run(pdfs, later))
    if "swequad" in sets or "negatives" in sets:
        sq = swequad_sets(workdir, datasets, settings, embedder, negatives="negatives" in sets)
        if "swequad" in sets:
            report["swequad"] = {
                e: _swequad_scores(sq["questions"], run(sq["full"], sq["questions"])) for e, run in engines.items()
            }
        if "negatives" in sets:
            faq = swefaq_sets(workdir, datasets, settings, embedder)
            report["negatives"] = {}
            for e, run in engines.items():
                scores = {
                    f"swequad/{k}": v
                    for k, v in _negative_scores(sq["questions"], run(sq["half"], sq["questions"])).items()
                }
                kept = [{**q, "present": q["answer_kept"]} for q in sq["questions"]]
                answers = run(sq["removed"], kept)
                scores.update({f"swequad-answers-removed/{k}": v for k, v in _negative_scores(kept, answers).items()})
                scores.update(
                    {
                        f"swefaq/{k}": v
                        for k, v in _negative_scores(faq["questions"], run(faq["half"], faq["questions"])).items()
                    }
                )
                report["negatives"][e] = scores
    log(json.dumps(report, indent=1, ensure_ascii=False))
    return report
