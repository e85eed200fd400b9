"""Shared bits of the benchmarks: paths, percentiles, timing, machine facts."""

from __future__ import annotations

import os
import platform
import statistics
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import TypeVar

from kb_app.config import shared_dir

REPO = Path(__file__).resolve().parents[1]
SHARED = shared_dir(REPO)
DEV = SHARED / "eval" / "dev.jsonl"
DATASETS = SHARED / "datasets"
PDF_DIR = DATASETS / "pdfs"
WORK = REPO / ".kb" / "bench"

T = TypeVar("T")


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile (q in 0..100)."""
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(q / 100 * (len(ordered) - 1))))
    return ordered[index]


def distribution(values: list[float]) -> dict[str, float]:
    """p50/p95/p99 (and n) of millisecond timings."""
    return {
        "n": len(values),
        "p50": round(statistics.median(values), 1),
        "p95": round(percentile(values, 95), 1),
        "p99": round(percentile(values, 99), 1),
    }


def timed(fn: Callable[[], T], into: list[float]) -> T:
    """Call ``fn`` and append its wall time in ms to ``into``."""
    started = time.perf_counter()
    result = fn()
    into.append((time.perf_counter() - started) * 1000)
    return result


@contextmanager
def stopwatch() -> Iterator[list[float]]:
    """``with stopwatch() as t: ...`` then ``t[0]`` is the elapsed seconds."""
    box: list[float] = []
    started = time.perf_counter()
    yield box
    box.append(time.perf_counter() - started)


def dir_mb(path: Path) -> float:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file()) / 1e6


def machine() -> dict[str, str]:
    """Facts about the machine and versions, for the report."""
    cpu = "okänd"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory = ""
    try:
        kb = int(Path("/proc/meminfo").read_text().split()[1])
        memory = f"{kb / 1e6:.0f} GB"
    except (OSError, ValueError, IndexError):
        pass
    versions = ", ".join(
        f"{name} {metadata.version(name)}"
        for name in ("torch", "sentence-transformers", "chromadb", "bm25s", "streamlit", "pypdf")
    )
    return {
        "Datum": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
        "Processor": f"{cpu}, {os.cpu_count()} kärnor",
        "Minne": memory,
        "Python": platform.python_version(),
        "Paket": versions,
    }
