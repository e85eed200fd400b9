"""Build or update the index from the corpus folder, with a progress bar and a summary.

Exit codes: 0 everything indexed; 1 the index was updated but some files could not be read;
2 bad settings or arguments; 3 the index could not be written (store or server error);
4 another indexing run is writing the same index (nothing was changed);
5 ``--check`` found the index missing or damaged (a plain run rebuilds it).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from tqdm import tqdm

from kb_app import generations
from kb_app.config import Settings
from kb_app.errors import ConfigError, IndexBusyError, KbError
from kb_app.indexing import damage, index_corpus
from kb_app.lexical import LexicalIndex

EXIT_OK, EXIT_SOME_FAILED, EXIT_CONFIG, EXIT_ERROR, EXIT_BUSY, EXIT_DAMAGED = 0, 1, 2, 3, 4, 5


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m indexer", description="Bygg eller uppdatera indexet.")
    parser.add_argument("--corpus", type=Path, help="dokumentmappen (standard: KB_CORPUS_DIR eller corpus)")
    parser.add_argument("--index-dir", type=Path, help="indexmappen (standard: KB_INDEX_DIR eller .kb/index)")
    parser.add_argument("--rebuild", action="store_true", help="bygg om hela indexet från grunden")
    parser.add_argument("--check", action="store_true", help="kontrollera bara indexet (slutkod 0 hel, 5 skadad)")
    args = parser.parse_args(argv)
    overrides = {}
    if args.corpus:
        overrides["corpus_dir"] = args.corpus
    if args.index_dir:
        overrides["index_dir"] = args.index_dir
    try:
        settings = Settings.from_env(**overrides)
    except ConfigError as exc:
        print(f"Fel i inställningarna: {exc}", file=sys.stderr)
        return EXIT_CONFIG

    if args.check:
        return check(settings)
    return run(settings, rebuild=args.rebuild)


def run(settings: Settings, *, rebuild: bool) -> int:
    """Index with progress bars on stderr and the summary on stdout; returns the exit code."""
    bars: dict[str, tqdm] = {}

    def progress(stage: str, done: int, total: int) -> None:
        bar = bars.get(stage)
        if bar is None:
            bar = bars[stage] = tqdm(total=total, desc=stage, unit=" st", leave=False, file=sys.stderr)
        bar.n = done
        bar.refresh()
        if done >= total:
            bar.close()

    try:
        report = index_corpus(settings, rebuild=rebuild, progress=progress)
    except IndexBusyError as exc:
        print(f"Indexeringen startades inte: {exc}", file=sys.stderr)
        return EXIT_BUSY
    except KbError as exc:
        print(f"Indexeringen misslyckades: {exc}", file=sys.stderr)
        return EXIT_ERROR
    finally:
        for bar in bars.values():
            bar.close()
    print(report.summary())
    return EXIT_SOME_FAILED if report.failed else EXIT_OK


def check(settings: Settings) -> int:
    """Report whether the published index is whole, without changing anything."""
    generation = generations.current(settings)
    problem = (
        "inget index är publicerat (eller CURRENT är skadad)" if generation is None else damage(settings, generation)
    )
    if problem:
        print(f"Indexet är skadat: {problem}. Kör python -m indexer så byggs det om.")
        return EXIT_DAMAGED
    if generation is not None and not LexicalIndex.is_current(generation / "bm25"):
        print("Ordindexet (BM25) är gjort av en annan version av programmet. Kör python -m indexer så byggs det om.")
        return EXIT_DAMAGED
    print(f"Indexet är helt ({generation.name if generation else ''}).")
    return EXIT_OK


if __name__ == "__main__":
    sys.exit(main())
