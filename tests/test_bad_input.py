"""Whatever staff drop into the corpus: every bad file is named with its reason, the rest is indexed,
and what the index already held survives. Every file is made here, in the test."""

from __future__ import annotations

import io
import os
import subprocess
import sys
import zlib
from collections.abc import Iterator
from pathlib import Path

import pytest
from pypdf import PdfReader, PdfWriter

from kb_app.config import Settings
from kb_app.documents import read_document
from kb_app.embeddings import Embedder
from kb_app.errors import CorpusError
from kb_app.indexing import index_corpus, read_status
from kb_app.service import KnowledgeBase

from .conftest import PDF_DIR, REPO

SOURCE_PDF = PDF_DIR / "nfs_2007_10_inventering_stora_rovdjur.pdf"


def _pdf(pages: int = 1, *, blank: bool = False, user_password: str | None = None) -> bytes:
    writer = PdfWriter()
    if blank:
        for _ in range(pages):
            writer.add_blank_page(width=595, height=842)
    else:
        for page in PdfReader(SOURCE_PDF).pages[:pages]:
            writer.add_page(page)
    if user_password is not None:
        writer.encrypt(user_password=user_password, owner_password="ägarlösen", algorithm="AES-128")
    out = io.BytesIO()
    writer.write(out)
    return out.getvalue()


def _docx(*, break_xml: bool = False, extra_bytes: int = 0) -> bytes:
    """A real Word file; optionally with its main XML cut in half, or with a huge member (a zip bomb)."""
    import zipfile

    import docx

    document = docx.Document()
    document.add_paragraph("Påhittad testtext om regional samverkan.")
    buffer = io.BytesIO()
    document.save(buffer)
    source = zipfile.ZipFile(io.BytesIO(buffer.getvalue()))
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED) as target:
        for name in source.namelist():
            data = source.read(name)
            target.writestr(name, data[: len(data) // 2] if break_xml and name == "word/document.xml" else data)
        if extra_bytes:
            target.writestr("word/media/bomb.xml", b"<a>" + bytes(extra_bytes) + b"</a>")
    return out.getvalue()


# file name -> (content, the reason the message must give); None = must be indexed
BAD_FILES: dict[str, tuple[bytes, str]] = {
    "tom.md": (b"", "tom"),
    "noll-sidor.pdf": (_pdf(0), "inga sidor"),
    "avkortad.pdf": (SOURCE_PDF.read_bytes()[: SOURCE_PDF.stat().st_size // 3], "skadad eller ofullständig"),
    "lösenord.pdf": (_pdf(user_password="hemligt"), "lösenordsskyddad"),
    "skannad.pdf": (_pdf(2, blank=True), "OCR"),
    "inte-pdf.pdf": (b"Det h\xe4r \xe4r en textfil med fel namn.", "ingen PDF"),
    "trasig.docx": (b"PK\x03\x04" + os.urandom(200), "skadad"),
    "trasig-xml.docx": (_docx(break_xml=True), "skadad"),
    "zipbomb.docx": (_docx(extra_bytes=150_000_000), "packas upp"),
    "gammal.doc": (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + bytes(200), ".docx"),
    "jättestor.txt": (b"ord " * 300_000, "KB_MAX_FILE_MB"),
}
GOOD_FILES: dict[str, tuple[bytes, str]] = {
    "tomt-lösenord.pdf": (_pdf(2, user_password=""), "inventering"),
    "windows.txt": ("Rapport om Västerås och Örebro: åäö ÅÄÖ, näringsliv.".encode("cp1252"), "Västerås och Örebro"),
    "latin1.txt": ("Samverkan i Södertälje och Håbo.".encode("latin-1"), "Södertälje och Håbo"),
    "utf16.txt": ("Turism i Norrtälje och Östhammar.".encode("utf-16"), "Norrtälje och Östhammar"),
    "html.md": (
        b"# Test\n\nText med <script>alert('x')</script> och <img src=x onerror=alert(1)> i stycket.\n",
        "<script>alert('x')</script>",
    ),
    "en-rad.txt": (("Lång mening om regional utveckling utan radbrytning. " * 6000).encode(), "regional utveckling"),
}


@pytest.fixture
def corpus(report_corpus: Settings) -> Iterator[Settings]:
    yield Settings(
        corpus_dir=report_corpus.corpus_dir,
        index_dir=report_corpus.index_dir,
        model_cache=report_corpus.model_cache,
        max_file_mb=1.0,
    )


@pytest.mark.slow
def test_every_bad_file_is_named_with_its_reason_and_nothing_is_lost(corpus: Settings, embedder: Embedder) -> None:
    first = index_corpus(corpus, embedder=embedder)
    before = KnowledgeBase(corpus, embedder=embedder).ask("Vilka mål har partnerskapet?").text
    folder = corpus.corpus_dir
    for name, (data, _) in {**BAD_FILES, **GOOD_FILES}.items():
        (folder / name).write_bytes(data)
    (folder / "kopia av rapporten.md").write_bytes((folder / "lagesredovisning-sba-2007.md").read_bytes())
    os.symlink("slinga.md", folder / "slinga.md")  # a link to itself
    (folder / "undermapp").mkdir()
    os.symlink("..", folder / "undermapp" / "uppåt")  # a folder link back up: a loop for a naive walk
    os.symlink("finns-inte.md", folder / "dinglande.md")

    report = index_corpus(corpus, embedder=embedder)

    for name, (_, reason) in BAD_FILES.items():
        assert name in report.failed, name
        assert name in report.failed[name] and reason in report.failed[name], report.failed[name]
    assert "slinga" in report.failed["slinga.md"] and "undermapp/uppåt" in report.failed
    assert "inte finns" in report.failed["dinglande.md"]
    assert report.duplicates == {"kopia av rapporten.md": "lagesredovisning-sba-2007.md"}
    assert sorted(report.new) == sorted(GOOD_FILES)
    kb = KnowledgeBase(corpus, embedder=embedder)
    for name, (_, phrase) in GOOD_FILES.items():
        texts = " ".join(c.text for c in kb.retriever.chunks if c.doc_id == name)
        assert phrase in texts, name
    assert max(len(c.text) for c in kb.retriever.chunks) <= corpus.chunk_size  # the one-line file was split
    # the report is still there and answers as before
    assert kb.ask("Vilka mål har partnerskapet?").text == before
    assert first.chunks <= sum(1 for c in kb.retriever.chunks if c.doc_id == "lagesredovisning-sba-2007.md")
    assert set(read_status(corpus)["failed"]) == set(report.failed)


@pytest.mark.slow
def test_a_corrupted_update_keeps_the_indexed_version(corpus: Settings, embedder: Embedder) -> None:
    (corpus.corpus_dir / "rovdjur.pdf").write_bytes(SOURCE_PDF.read_bytes())
    index_corpus(corpus, embedder=embedder)
    chunks = [c.chunk_id for c in KnowledgeBase(corpus, embedder=embedder).retriever.chunks]
    (corpus.corpus_dir / "rovdjur.pdf").write_bytes(SOURCE_PDF.read_bytes()[:5000])  # truncated by a bad copy
    report = index_corpus(corpus, embedder=embedder)
    assert "rovdjur.pdf" in report.failed and not report.removed
    assert [c.chunk_id for c in KnowledgeBase(corpus, embedder=embedder).retriever.chunks] == chunks


@pytest.mark.slow
def test_unreadable_file_is_reported_by_the_indexer_command(report_corpus: Settings, embedder: Embedder) -> None:
    """As root, the indexer runs without the capabilities that let root read any file."""
    secret = report_corpus.corpus_dir / "hemlig.md"
    secret.write_text("# Hemlig\n\nText som ingen får läsa.\n")
    secret.chmod(0)
    env = {
        **os.environ,
        "KB_CORPUS_DIR": str(report_corpus.corpus_dir),
        "KB_INDEX_DIR": str(report_corpus.index_dir),
        "KB_MODEL_CACHE": str(embedder.settings.model_cache.resolve()),
    }
    command = [sys.executable, "-m", "indexer"]
    if os.geteuid() == 0:
        drop = "-dac_override,-dac_read_search"
        command = ["setpriv", f"--inh-caps={drop}", f"--bounding-set={drop}", *command]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 1, done.stderr
    assert "hemlig.md: filen kan inte läsas (behörighet saknas" in done.stdout
    assert "Dokument: 1" in done.stdout


def _pdf_bomb(unpacked: int) -> bytes:
    """A one-page PDF whose content stream is a few hundred kB packed and ``unpacked`` bytes unpacked."""
    stream = zlib.compress(b"BT /F1 12 Tf 72 712 Td (Bomb) Tj ET\n" + b" " * unpacked, 9)
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [3 0 R] /Count 1 >>",
        b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 595 842] /Contents 4 0 R "
        b"/Resources << /Font << /F1 5 0 R >> >> >>",
        b"<< /Length %d /Filter /FlateDecode >>\nstream\n" % len(stream) + stream + b"\nendstream",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica >>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    out += b"".join(b"%010d 00000 n \n" % offset for offset in offsets)
    out += b"trailer\n<< /Size %d /Root 1 0 R >>\nstartxref\n%d\n%%%%EOF\n" % (len(objects) + 1, xref)
    return bytes(out)


def test_a_pdf_stream_that_unpacks_too_far_is_named_and_skipped(tmp_path: Path) -> None:
    bomb = _pdf_bomb(200_000_000)
    assert len(bomb) < 1_000_000  # a small file ...
    path = tmp_path / "bomb.pdf"
    path.write_bytes(bomb)
    with pytest.raises(CorpusError, match="packas upp till orimligt mycket"):  # ... refused, not read into memory
        read_document(path, tmp_path, {}, max_bytes=50_000_000)
    small = tmp_path / "liten.pdf"
    small.write_bytes(_pdf_bomb(1_000))  # the same layout with a small stream reads fine
    assert "Bomb" in read_document(small, tmp_path, {}, max_bytes=50_000_000).text
