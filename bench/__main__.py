"""Benchmarks: ``python -m bench quick|all|latency|cold|quality|indexing|scale|memory|load``.

``all`` runs everything in one process and writes ``docs/benchmarks.md``; the others print JSON.
Nothing here asserts on time: shared machines vary, so every comparison is made in the same run.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

from bench import perf, quality
from bench.common import REPO, WORK, machine
from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.indexing import index_corpus
from kb_app.service import KnowledgeBase

SIZES = (1_000, 10_000, 100_000)


def _kb(settings: Settings, embedder: Embedder) -> KnowledgeBase:
    local = perf.shipped_settings(settings, WORK / "shipped")
    index_corpus(local, embedder=embedder)
    return KnowledgeBase(local, embedder=embedder)


def quick(settings: Settings) -> dict[str, Any]:
    """A reduced set in well under two minutes: warm latency and an unchanged re-index."""
    embedder = Embedder(settings)
    result = {"latency": perf.latency(_kb(settings, embedder), rounds=2)}
    result["reindex"] = perf.reindex_unchanged(settings, embedder)
    return result


def quick_line(result: dict[str, Any]) -> str:
    lat, re = result["latency"], result["reindex"]
    return (
        f"quick: answer_p95_ms={lat['answer']['p95']} floor_ms={lat['floor']['p50']} ratio={lat['ratio']} "
        f"reindex_unchanged_s={re['unchanged_command_s']} embedded_on_reindex={re['unchanged_embedded']}"
    )


def run_all(
    settings: Settings, *, limit: int | None, sizes: tuple[int, ...], only: set[str] | None = None
) -> dict[str, Any]:
    embedder = Embedder(settings)
    torch_embedder = Embedder(replace(settings, embedding_engine="torch"))  # the same model in PyTorch
    int8_embedder = Embedder(replace(settings, embedding_precision="int8"))  # loaded only by the indexing step
    results: dict[str, Any] = {"machine": machine()}
    steps = [
        ("latency", lambda: perf.latency(_kb(settings, embedder), rounds=5, torch_embedder=torch_embedder)),
        ("cold", lambda: perf.cold_start(settings, _kb(settings, embedder).settings)),
        ("reindex", lambda: perf.reindex_unchanged(settings, embedder)),
        ("quality", lambda: quality.run(embedder, settings, limit=limit, torch_embedder=torch_embedder)),
        ("indexing", lambda: perf.indexing_engines(settings, embedder, torch_embedder, int8_embedder)),
        ("scale", lambda: perf.scale(settings, embedder, sizes)),
        ("memory", lambda: perf.memory_and_startup(settings)),
        ("load", lambda: perf.load(_kb(settings, embedder), settings)),
    ]
    for name, step in steps:
        if only and name not in only:
            continue
        started = time.perf_counter()
        results.setdefault("loadavg", {})[name] = round(os.getloadavg()[0], 1)  # shared machine: other jobs
        results[name] = step()
        print(f"{name}: {json.dumps(results[name], ensure_ascii=False)} ({time.perf_counter() - started:.0f} s)")
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench")
    parser.add_argument(
        "what",
        choices=["quick", "all", "report", "latency", "cold", "quality", "indexing", "scale", "memory", "load"],
    )
    parser.add_argument("--rounds", type=int, default=5, help="latency: passes over the dev questions")
    parser.add_argument("--limit", type=int, help="quality: only the first N benchmark questions")
    parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="scale: chunk counts")
    parser.add_argument("--steps", help="all: only these steps (comma-separated), merged into the saved results")
    parser.add_argument("--out", default=str(REPO / "docs" / "benchmarks.md"), help="all: the report to write")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    settings = Settings.from_env()
    sizes = tuple(int(s) for s in args.sizes.split(","))
    if args.what == "quick":
        result = quick(settings)
        print(json.dumps(result, indent=2))
        print(quick_line(result))
        return 0
    saved = WORK / "results.json"
    if args.what in ("all", "report"):
        from bench.report import write_report

        if args.what == "all":
            started = time.perf_counter()
            only = set(args.steps.split(",")) if args.steps else None
            results = run_all(settings, limit=args.limit, sizes=sizes, only=only)
            if only and saved.is_file():  # a partial re-run keeps the other steps' figures
                before = json.loads(saved.read_text())
                loadavg = {**before.get("loadavg", {}), **results.get("loadavg", {})}
                results = {**before, **results, "loadavg": loadavg}
                results.setdefault("reruns", []).append(sorted(only))
            else:
                results["seconds"] = round(time.perf_counter() - started)
                results["command"] = "python -m bench all"
            saved.write_text(json.dumps(results, indent=2, ensure_ascii=False))
        results = json.loads(saved.read_text())
        write_report(results, Path(args.out))
        print(f"Rapporten skrevs till {args.out}")
        return 0
    embedder = Embedder(settings)
    single = {
        "latency": lambda: perf.latency(
            _kb(settings, embedder),
            rounds=args.rounds,
            torch_embedder=Embedder(replace(settings, embedding_engine="torch")),
        ),
        "quality": lambda: quality.run(embedder, settings, limit=args.limit),
        "indexing": lambda: perf.indexing(settings, embedder),
        "scale": lambda: perf.scale(settings, embedder, sizes),
        "memory": lambda: perf.memory_and_startup(settings),
        "cold": lambda: perf.cold_start(settings, _kb(settings, embedder).settings),
        "load": lambda: perf.load(_kb(settings, embedder), settings),
    }
    print(json.dumps(single[args.what](), indent=2, ensure_ascii=False))
    return 0


if __name__ == "__main__":
    sys.exit(main())
