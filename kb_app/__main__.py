"""Command line: ``python -m kb_app ask "fråga"``, ``ask --jsonl IN --out OUT``, ``eval …``."""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any, TextIO

from kb_app.answer import Answer
from kb_app.config import Settings, shared_dir
from kb_app.errors import KbError
from kb_app.service import KnowledgeBase

SHARED = shared_dir()


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


def batch_items(lines: Iterable[str]) -> Iterator[tuple[int, dict[str, Any], str]]:
    """(line number, question object, Swedish error or "") for every non-blank line of a batch file.

    A line that is not a JSON object, or whose question or history has the wrong type, gets an
    error and no question; the other lines are unaffected.
    """
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            item = json.loads(line)
        except ValueError as exc:
            yield number, {}, f"rad {number} är inte giltig JSON ({exc})"
            continue
        if not isinstance(item, dict):
            yield number, {}, f"rad {number} är inte ett JSON-objekt"
            continue
        history = item.get("history") or []
        if not isinstance(item.get("question", ""), str):
            yield number, item, f"rad {number}: fältet question ska vara text"
        elif not isinstance(history, list) or not all(isinstance(h, str) for h in history):
            yield number, item, f"rad {number}: fältet history ska vara en lista med text"
        else:
            yield number, item, ""


def error_record(number: int, item: dict[str, Any], message: str) -> dict[str, Any]:
    """The output line for a batch line that could not be asked: its id, the reason, no answer."""
    return {
        "id": item.get("id"),
        "line": number,
        "error": message,
        "answer": "",
        "abstained": True,
        "citations": [],
        "passages": [],
    }


def cmd_batch(kb: KnowledgeBase, source: str, target: str | None) -> int:
    """Answer a JSONL file line by line as it is read; a bad line gets an error record and the rest go
    on (exit 1); a file that cannot be read, or stops being readable, is exit 2."""
    try:
        lines = open(source, encoding="utf-8-sig")  # noqa: SIM115  (closed below)
    except OSError as exc:
        print(f"Fel: frågefilen {source} kan inte läsas ({exc}).", file=sys.stderr)
        return 2
    try:
        out = _open_output(target)
    except OSError as exc:
        lines.close()
        print(f"Fel: svarsfilen {target} kan inte skrivas ({exc}).", file=sys.stderr)
        return 2
    try:
        failed = _answer_lines(kb, lines, out)
    except (OSError, UnicodeDecodeError) as exc:
        print(f"Fel: frågefilen {source} kan inte läsas till slut ({exc}).", file=sys.stderr)
        return 2
    finally:
        lines.close()
        if out is not sys.stdout:
            out.close()
    if failed:
        print(f"{failed} rader kunde inte besvaras; de har fältet error i svarsfilen.", file=sys.stderr)
    return 1 if failed else 0


def _open_output(target: str | None) -> TextIO:
    if not target:
        return sys.stdout
    Path(target).parent.mkdir(parents=True, exist_ok=True)
    return open(target, "w", encoding="utf-8")  # noqa: SIM115  (closed by cmd_batch)


def _answer_lines(kb: KnowledgeBase, lines: Iterable[str], out: TextIO) -> int:
    """Write one answer record per question line; returns how many lines failed."""
    failed = 0
    for number, item, error in batch_items(lines):
        if error:
            failed += 1
            print(f"Varning: {error}", file=sys.stderr)
            record = error_record(number, item, error)
        else:
            answer = kb.ask(item.get("question", ""), item.get("history") or [])
            record = answer_record(answer, item.get("id"))
        out.write(json.dumps(record, ensure_ascii=False) + "\n")
    return failed


def cmd_ask(args: argparse.Namespace, settings: Settings) -> int:
    kb = KnowledgeBase.open(settings)
    if args.jsonl:
        return cmd_batch(kb, args.jsonl, args.out)
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


def cmd_eval_answers(args: argparse.Namespace, settings: Settings) -> int:
    from kb_app import answer_eval
    from kb_app.answer import AnswerPolicy
    from kb_app.embeddings import Embedder

    embedder = Embedder(settings)
    engines: dict[str, answer_eval.Engine] = {}
    if args.baseline:
        engines["today"] = answer_eval.checkout(Path(args.baseline))
    engines["ranker"] = answer_eval.in_process(AnswerPolicy(), embedder)
    engines["floor"] = answer_eval.in_process(AnswerPolicy(engine="floor"), embedder)
    sets = args.sets.split(",") if args.sets else answer_eval.SETS
    started = time.perf_counter()
    report: dict[str, Any] = answer_eval.evaluate(
        engines,
        Path(args.workdir),
        Path(args.datasets),
        Path(args.dev),
        settings,
        embedder,
        sets=sets,
        log=lambda s: None,
    )
    report["seconds"] = round(time.perf_counter() - started, 1)
    text = json.dumps(report, indent=2, ensure_ascii=False)
    print(text)
    if args.out:
        Path(args.out).write_text(text + "\n", encoding="utf-8")
    return 0


def cmd_eval_documents() -> int:
    """Table and list fidelity on the fictional fixtures (kb_app.fidelity)."""
    from kb_app import fidelity

    print(json.dumps(fidelity.measure(), ensure_ascii=False, indent=2))
    return 0


def cmd_train(args: argparse.Namespace, settings: Settings) -> int:
    from kb_app.training import train

    result = train(settings, Path(args.datasets), Path(args.dev), Path(args.workdir))
    print(json.dumps(result, indent=2, ensure_ascii=False))
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m kb_app", description="SBA kunskapsbas")
    sub = parser.add_subparsers(dest="command", required=True)
    ask = sub.add_parser("ask", help="ställ en fråga, eller besvara en fil med frågor")
    ask.add_argument("question", nargs="*", help="frågan")
    ask.add_argument("--jsonl", help="fil med en fråga per rad (JSON)")
    ask.add_argument("--out", help="fil att skriva svaren till (JSON per rad)")
    ev = sub.add_parser("eval", help="mät svarskvalitet och sökkvalitet")
    ev.add_argument("what", choices=["dev", "swequad", "swefaq", "all", "answers", "documents"])
    ev.add_argument("--sets", help="för answers: kommaseparerade frågeuppsättningar (standard: alla)")
    ev.add_argument("--baseline", help="för answers: en annan utcheckning att jämföra med (t.ex. en git worktree)")
    ev.add_argument("--out", help="för answers: skriv resultatet som JSON hit")
    ev.add_argument("--dev", default=str(SHARED / "eval" / "dev.jsonl"))
    ev.add_argument("--datasets", default=str(SHARED / "datasets"))
    ev.add_argument("--workdir", default=".kb/eval", help="där testindexen byggs (återanvänds)")
    tr = sub.add_parser("train", help="träna svarsmodellerna på offentliga data och våra utvecklingsfrågor")
    tr.add_argument("--dev", default=str(SHARED / "eval" / "dev.jsonl"))
    tr.add_argument("--datasets", default=str(SHARED / "datasets"))
    tr.add_argument("--workdir", default=".kb/eval", help="där testindexen byggs (återanvänds)")
    args = parser.parse_args(argv)
    try:
        settings = Settings.from_env()
        if args.command == "ask":
            return cmd_ask(args, settings)
        if args.command == "train":
            return cmd_train(args, settings)
        if args.what == "documents":
            return cmd_eval_documents()
        return cmd_eval_answers(args, settings) if args.what == "answers" else cmd_eval(args, settings)
    except KbError as exc:
        print(f"Fel: {exc}", file=sys.stderr)
        return 3


if __name__ == "__main__":
    sys.exit(main())
