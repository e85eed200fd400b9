"""Benchmarks: ``python -m bench latency`` (warm answer latency on the shipped corpus).

Each benchmark prints its figures; nothing here asserts on time, since shared machines vary.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

from kb_app.config import Settings
from kb_app.service import KnowledgeBase

SHARED = Path(__file__).resolve().parents[2] / "shared"


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def latency(rounds: int) -> dict[str, float]:
    """Warm latency of the bare query embedding, retrieval and full answers on the dev questions."""
    kb = KnowledgeBase.open(Settings.from_env())
    questions = [json.loads(line) for line in (SHARED / "eval" / "dev.jsonl").read_text().splitlines() if line]
    for q in questions:  # warm-up
        kb.ask(q["question"], q["history"])
    floor: list[float] = []
    retrieval: list[float] = []
    answer: list[float] = []
    # Separate passes, so no timing profits from the retriever's cache of the last query vector.
    for _ in range(rounds):
        for q in questions:
            t0 = time.perf_counter()
            kb.embedder.embed_query(q["question"])
            floor.append((time.perf_counter() - t0) * 1000)
        for q in questions:
            t0 = time.perf_counter()
            kb.search(q["question"])
            retrieval.append((time.perf_counter() - t0) * 1000)
        for q in questions:
            t0 = time.perf_counter()
            kb.ask(q["question"], q["history"])
            answer.append((time.perf_counter() - t0) * 1000)
    result = {"queries": len(answer)}
    for name, values in (("floor", floor), ("retrieval", retrieval), ("answer", answer)):
        result[f"{name}_p50_ms"] = round(statistics.median(values), 1)
        result[f"{name}_p95_ms"] = round(percentile(values, 95), 1)
        result[f"{name}_p99_ms"] = round(percentile(values, 99), 1)
    result["answer_p95_over_floor_p50"] = round(result["answer_p95_ms"] / result["floor_p50_ms"], 2)
    return result


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument("what", choices=["latency"])
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args(argv)
    print(json.dumps(latency(args.rounds), indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
