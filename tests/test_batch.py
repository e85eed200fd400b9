"""Batch answers are read and written line by line: lines before a broken part of the file are answered."""

from __future__ import annotations

import json
from pathlib import Path

from kb_app.__main__ import cmd_batch
from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.service import KnowledgeBase


def test_lines_before_an_unreadable_byte_are_answered_and_the_exit_code_is_2(
    tmp_path: Path, app_settings: Settings, embedder: Embedder
) -> None:
    kb = KnowledgeBase(app_settings, embedder=embedder)
    source = tmp_path / "frågor.jsonl"
    good = '{"id": 1, "question": "Hur mycket betalar varje kommun?"}\n'
    # the broken bytes come after 100 kB of blank lines: a reader that decodes the whole file first answers nothing
    source.write_bytes(good.encode() + b"\n" * 100_000 + b'{"id": 2, "question": "\xff\xfe"}\n')
    out = tmp_path / "svar.jsonl"
    assert cmd_batch(kb, str(source), str(out)) == 2
    answered = [json.loads(line) for line in out.read_text(encoding="utf-8").splitlines()]
    assert [a["id"] for a in answered] == [1] and "4 kronor" in answered[0]["answer"]
