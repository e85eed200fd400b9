"""Command line: ``python -m kb_app ask "fråga"``, ``ask --jsonl IN --out OUT``, ``eval …``."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from kb_app.answer import Answer
from kb_app.config import Settings
from kb_app.errors import KbError
from kb_app.service import KnowledgeBase

SHARED = Path(__file__).resolve().parents[2] / "shared"


def answer_record(answer: Answer, question_id: Any = None) -> dict[str, Any]:
    """One output line of the batch answer contract (shared/eval/README.md)."""
    record: dict[str, Any] = {} if question_id is None else {"id": question_id}
    record.update(
        answer=answer.text,
        abstained=answer.abstained,
        citations=[
            {
                "n": c.n,
                "document": c.chunk.doc_id,
                "title": c.chunk.title,
                "section": c.chunk.section_title,
                "page": c.chunk.page,
                "page_end": c.chunk.page_end,
                "paragraph": c.chunk.paragraph,
                "text": c.chunk.text,
            }
            for c in answer.citations
        ],
        passages=[
            {
                "rank": h.rank,
                "document": h.chunk.doc_id,
                "section": h.chunk.section_title,
                "page": h.chunk.page,
                "page_end": h.chunk.page_end,
                "text": h.chunk.text,
                "score": round(h.score, 6),
            }
            for h in answer.hits
        ],
    )
    return record


def _print_answer(answer: Answer) -> None:
    print(answer.text)
    print()
    if answer.citations:
        print("Källor:")
        for c in answer.citations:
            print(f"[{c.n}] {c.chunk.location}")
    else:
        print("Närmaste avsnitt:")
        for h in answer.hits[:3]:
            print(f"- {h.chunk.location}")


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    kb = KnowledgeBase.open(settings)
    if args.jsonl:
        lines = [json.loads(line) for line in Path(args.jsonl).read_text(encoding="utf-8").splitlines() if line.strip()]
        out = open(args.out, "w", encoding="utf-8") if args.out else sys.stdout  # noqa: SIM115
        try:
            for item in lines:
                answer = kb.ask(item.get("question", ""), item.get("history") or [])
                out.write(json.dumps(answer_record(answer, item.get("id")), ensure_ascii=False) + "\n")
        finally:
            if out is not sys.stdout:
                out.close()
        return 0
    if not args.question:
        print('Skriv en fråga: python -m kb_app ask "Vilka mål har partnerskapet?"', file=sys.stderr)
        return 2
    _print_answer(kb.ask(" ".join(args.question)))
    return 0


def cmd_eval(args: argparse.Namespace, settings: Settings) -> int:
    from kb_app import evaluation

    report: dict[str, Any] = {}
    started = time.perf_counter()
    if args.what in ("dev", "all"):
        kb = KnowledgeBase.open(settings)
        questions = evaluation.read_jsonl(Path(args.dev))
        answers = [answer_record(kb.ask(q["question"], q.get("history") or []), q["id"]) for q in questions]
        report["dev"] = evaluation.score_answers(questions, answers)
    workdir = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="kb-eval-"))
    if args.what in ("swequad", "swefaq", "all"):
        from kb_app.embeddings import Embedder

        embedder = Embedder(settings)
        datasets = Path(args.datasets)
        if args.what in ("swequad", "all"):
            report["swequad"] = evaluation.swequad(
                datasets / "swequad-mc" / "swequad_mc_flat.jsonl", workdir, settings, embedder
            )
        if args.what in ("swefaq", "all"):
            report["swefaq"] = evaluation.swefaq(datasets / "swefaq", workdir, settings, embedder)
    report["seconds"] = round(time.perf_counter() - started, 1)
    print(json.dumps(report, indent=2, ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kb_app", description="SBA kunskapsbas")
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="ställ en fråga, eller besvara en fil med frågor")
    ask.add_argument("question", nargs="*", help="frågan")
    ask.add_argument("--jsonl", help="fil med en fråga per rad (JSON)")
    ask.add_argument("--out", help="fil att skriva svaren till (JSON per rad)")
    ev = sub.add_parser("eval", help="mät svarskvalitet och sökkvalitet")
    ev.add_argument("what", choices=["dev", "swequad", "swefaq", "all"])
    ev.add_argument("--dev", default=str(SHARED / "eval" / "dev.jsonl"))
    ev.add_argument("--datasets", default=str(SHARED / "datasets"))
    ev.add_argument("--workdir", default=".kb/eval", help="där testindexen byggs (återanvänds)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        return cmd_ask(args, settings) if args.command == "ask" else cmd_eval(args, settings)
    except KbError as exc:
        print(f"Fel: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
