"""Table and list fidelity: how much of the fictional fixtures' structure the readers keep.

``python -m kb_app eval documents`` writes the fixtures of kb_app.doc_fixtures, reads them with the
product's own readers and reports, per file and in total:

- cells: the share of expected table cells that come out in the right row (the row's label
  before " — ") under the right header ("Header: value"), on the right page for PDFs;
- items: the share of expected list items kept as items of a list block;
- headings: the share of expected headings found with the right level;
- sections: the share of texts after a table filed under the right heading;
- contents: whether every contents page is marked as contents and nothing else is.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from kb_app.doc_fixtures import EXPECTED, Expected, write_fixtures
from kb_app.documents import read_document
from kb_app.models import Block, Document


def _rows(document: Document) -> list[tuple[str, str, int]]:
    """(label, rest of the row, page) for every table row of the document."""
    found = []
    for block in document.blocks:
        if block.kind != "table":
            continue
        for line in block.items:
            label, _, rest = line.partition(" — ")
            found.append((label, rest, block.page or 0))
    return found


def _cells(document: Document, expected: Expected) -> tuple[int, int]:
    rows = _rows(document)
    ok = 0
    for label, header, value, page in expected.cells:
        cell = f"{header}: {value}"
        ok += any(found == label and cell in rest.split("; ") and (not page or page == on) for found, rest, on in rows)
    return ok, len(expected.cells)


def _items(document: Document, expected: Expected) -> tuple[int, int]:
    kept = {item for block in document.blocks if block.kind == "list" for item in block.items}
    return sum(item in kept for item in expected.items), len(expected.items)


def _headings(document: Document, expected: Expected) -> tuple[int, int]:
    found = {(b.text, len(b.section) + 1) for b in document.blocks if b.kind == "heading"}
    return sum(h in found for h in expected.headings), len(expected.headings)


def _sections(document: Document, expected: Expected) -> tuple[int, int]:
    ok = 0
    for start, heading in expected.after_table:
        block = next((b for b in document.blocks if b.text.startswith(start)), None)
        ok += block is not None and bool(block.section) and block.section[-1] == heading
    return ok, len(expected.after_table)


def _contents(blocks: tuple[Block, ...], expected: Expected) -> bool:
    pages = {b.page for b in blocks if b.kind == "contents"}
    return pages == set(expected.contents_pages)


def measure(folder: Path | None = None) -> dict[str, Any]:
    """Read the fixtures and score each reader; ``folder`` keeps the files (a temporary one otherwise)."""
    with tempfile.TemporaryDirectory(prefix="kb-fixtures-") as tmp:
        where = folder or Path(tmp)
        write_fixtures(where)
        report: dict[str, Any] = {"files": {}}
        totals = {"cells": [0, 0], "items": [0, 0], "headings": [0, 0], "sections": [0, 0]}
        for name, expected in EXPECTED.items():
            document = read_document(where / name, where, {}, max_bytes=50_000_000)
            scores = {
                "cells": _cells(document, expected),
                "items": _items(document, expected),
                "headings": _headings(document, expected),
                "sections": _sections(document, expected),
            }
            for key, (ok, total) in scores.items():
                totals[key][0] += ok
                totals[key][1] += total
            report["files"][name] = {**{k: f"{ok}/{n}" for k, (ok, n) in scores.items()}}
            report["files"][name]["contents"] = _contents(document.blocks, expected)
        for key, (ok, total) in totals.items():
            report[key] = round(ok / total, 3) if total else 1.0
        return report
