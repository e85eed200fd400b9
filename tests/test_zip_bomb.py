"""A Word file that unpacks to 1 GB (a zip bomb of a few MB, built here) is named and skipped, and the
indexer's peak memory stays far below what unpacking it would take."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zipfile
from pathlib import Path

import docx
import pytest

from kb_app.config import Settings

from .conftest import REPO

UNPACKED_MB = 1024
PEAK_LIMIT_MB = 1024


def build_zip_bomb(path: Path, megabytes: int = UNPACKED_MB) -> None:
    """A valid .docx whose word/document.xml is ``megabytes`` MB of ordinary paragraphs."""
    buffer = io.BytesIO()
    docx.Document().save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    xml = source.read("word/document.xml").decode("utf-8")
    head, tail = xml.split("<w:body>")[0] + "<w:body>", "</w:body></w:document>"
    paragraph = "<w:p><w:r><w:t>Stockholm Business Alliance och regionens kommuner</w:t></w:r></w:p>"
    block = (paragraph * (2**20 // len(paragraph) + 1)).encode()[: 2**20]
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as out:
        for item in source.infolist():
            if item.filename != "word/document.xml":
                out.writestr(item, source.read(item))
        with out.open("word/document.xml", "w", force_zip64=True) as member:
            member.write(head.encode())
            for _ in range(megabytes):
                member.write(block)
            member.write(tail.encode())


# The indexer is forked from a small, fresh interpreter: forked (or vforked) from this large test
# process, it would count this process's pages in its peak RSS until it execs.
_LAUNCHER = (
    "import os, sys\n"
    "out, err, result = sys.argv[1:4]\n"
    "pid = os.fork()\n"
    "if pid == 0:\n"
    "    os.dup2(os.open(out, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 1)\n"
    "    os.dup2(os.open(err, os.O_WRONLY | os.O_CREAT | os.O_TRUNC), 2)\n"
    "    os.execv(sys.argv[4], sys.argv[4:])\n"
    "_, status, usage = os.wait4(pid, 0)\n"
    "open(result, 'w').write(f'{usage.ru_maxrss} {os.waitstatus_to_exitcode(status)}')\n"
)


def run_with_peak_rss(command: list[str], env: dict[str, str]) -> tuple[int, str, str, float]:
    """Run ``command``; returns exit code, stdout, stderr and its peak RSS in MB (wait4, via a launcher)."""
    folder = Path(env["KB_INDEX_DIR"]).parent
    out, err, result = folder / "out.txt", folder / "err.txt", folder / "peak.txt"
    subprocess.run(
        [sys.executable, "-c", _LAUNCHER, str(out), str(err), str(result), *command], cwd=REPO, env=env, check=True
    )
    peak_kb, code = result.read_text().split()
    return int(code), out.read_text(), err.read_text(), int(peak_kb) / 1024  # ru_maxrss is in KB


@pytest.mark.slow
def test_a_word_file_that_unpacks_to_1_gb_is_named_and_skipped_in_bounded_memory(report_corpus: Settings) -> None:
    bomb = report_corpus.corpus_dir / "zipbomb.docx"
    build_zip_bomb(bomb)
    with zipfile.ZipFile(bomb) as archive:
        assert sum(m.file_size for m in archive.infolist()) > UNPACKED_MB * 2**20
    assert bomb.stat().st_size < 10e6  # a few MB zipped, well under KB_MAX_FILE_MB
    env = {
        **os.environ,
        "KB_CORPUS_DIR": str(report_corpus.corpus_dir),
        "KB_INDEX_DIR": str(report_corpus.index_dir),
        "KB_MODEL_CACHE": str(report_corpus.model_cache),
    }
    code, out, err, peak_mb = run_with_peak_rss([sys.executable, "-m", "indexer"], env)
    assert code == 1, err  # indexed, but one file could not be read
    assert "Kunde inte indexeras: zipbomb.docx: Word-filen packas upp till" in out
    assert "Dokument: 1," in out  # the report was indexed all the same
    assert peak_mb < PEAK_LIMIT_MB, f"peak RSS {peak_mb:.0f} MB"
    print(f"indexer peak RSS with a {UNPACKED_MB} MB zip bomb: {peak_mb:.0f} MB")
