"""Uploads through the app and the helpers that make text safe to show: real files, real index."""

from __future__ import annotations

import io
import zipfile
from collections.abc import Callable
from pathlib import Path

import docx
import pytest

from kb_app.answer import Answer, Citation
from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.errors import CorpusError
from kb_app.indexing import index_corpus
from kb_app.models import Chunk
from kb_app.presentation import answer_markdown, conversation_markdown, highlight_sentences, mark_terms, md_escape
from kb_app.service import KnowledgeBase
from kb_app.uploads import password_ok, safe_filename, save_upload, sniff_type

from .conftest import PDF_DIR


@pytest.mark.parametrize(
    ("name", "expected"),
    [
        ("../../x.pdf", "x.pdf"),
        ("/etc/passwd", "passwd"),
        ("C:\\Users\\a\\Bilaga 2.PDF", "Bilaga 2.pdf"),
        ("rap\x00port.md", "rapport.md"),
        (".hidden.md", "hidden.md"),
        ("a<script>.txt", "a_script_.txt"),
        ("Förteckning över kommuner.docx", "Förteckning över kommuner.docx"),
    ],
)
def test_file_names_are_sanitised(name: str, expected: str) -> None:
    assert safe_filename(name) == expected


@pytest.mark.parametrize("name", ["", "..", "/", "\x00", " . "])
def test_unusable_names_are_refused(name: str) -> None:
    with pytest.raises(CorpusError, match="Filnamnet"):
        safe_filename(name)


def _docx_bytes() -> bytes:
    document = docx.Document()
    document.add_heading("Bilaga 3 Marknadsplan (påhittad testdata)", 1)
    document.add_paragraph("Detta är fiktiv testtext om en marknadsplan för Låtsasköping.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def test_type_is_decided_by_content() -> None:
    pdf = (PDF_DIR / "nfs_2007_10_inventering_stora_rovdjur.pdf").read_bytes()
    assert sniff_type(pdf) == ".pdf"
    assert sniff_type(_docx_bytes()) == ".docx"
    assert sniff_type("Åsa och Örjan i Västerås".encode("cp1252")) == ".txt"
    assert sniff_type(b"\x89PNG\r\n\x1a\n" + bytes(range(256)) * 4) is None
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("hello.txt", "not word")
    assert sniff_type(archive.getvalue()) is None


def test_save_upload_checks_content_size_and_place(make_settings: Callable[..., Settings]) -> None:
    settings = make_settings(max_file_mb=0.01)
    saved = save_upload(settings, "../../utanför.pdf", b"Bara text, ingen PDF.")
    assert saved.path == settings.corpus_dir / "utanför.txt"  # text named .pdf is kept as text
    assert not (settings.corpus_dir.parent.parent / "utanför.pdf").exists()
    with pytest.raises(CorpusError, match="inte PDF, Word"):
        save_upload(settings, "bild.pdf", b"\x89PNG\r\n\x1a\n" + bytes(range(256)))
    with pytest.raises(CorpusError, match="större än gränsen"):
        save_upload(settings, "stor.md", b"a" * 20_000)
    with pytest.raises(CorpusError, match="tom"):
        save_upload(settings, "tom.md", b"")
    again = save_upload(settings, "utanför.txt", b"Ny version.")
    assert again.replaced and again.path.read_text() == "Ny version."
    assert sorted(p.name for p in settings.corpus_dir.iterdir()) == ["utanför.txt"]  # no temporary files left


def test_admin_password() -> None:
    assert not password_ok(Settings(admin_password=""), "")
    assert not password_ok(Settings(admin_password="lösen"), "fel")
    assert password_ok(Settings(admin_password="lösen"), "lösen")


@pytest.mark.slow
def test_uploaded_appendix_is_indexed_and_answers_change(report_corpus: Settings, embedder: Embedder) -> None:
    index_corpus(report_corpus, embedder=embedder)
    before = KnowledgeBase(report_corpus, embedder=embedder)
    assert 3 in before.missing_appendices()
    save_upload(report_corpus, "Bilaga 3 Marknadsplan.docx", _docx_bytes())
    index_corpus(report_corpus, embedder=embedder)
    assert before.is_stale()
    after = KnowledgeBase(report_corpus, embedder=embedder)
    assert 3 not in after.missing_appendices()
    hits = after.search("marknadsplan Låtsasköping", k=3)
    assert hits[0].chunk.doc_id == "Bilaga 3 Marknadsplan.docx"
    assert [p.text for p in after.library.paragraphs("Bilaga 3 Marknadsplan.docx") if p.kind != "heading"] == [
        "Detta är fiktiv testtext om en marknadsplan för Låtsasköping."
    ]


def test_markdown_shows_html_and_syntax_as_text() -> None:
    text = "<script>alert(1)</script> **fet** [länk](javascript:alert(1)) :red[x] $x$"
    escaped = md_escape(text)
    assert "<" not in escaped.replace("\\<", "") and "[" not in escaped.replace("\\[", "")
    assert "*" not in escaped.replace("\\*", "") and ":" not in escaped.replace("\\:", "")
    marked = highlight_sentences("Första meningen. Andra <b>meningen</b>.", ["Andra <b>meningen</b>."])
    assert marked == "Första meningen\\. :orange-background[Andra \\<b\\>meningen\\</b\\>\\.]"
    assert mark_terms("Budgeten för 2007 är 15 miljoner.", "budget") == (
        ":blue-background[Budgeten] för 2007 är 15 miljoner\\."
    )


def test_conversation_export_has_answers_and_sources() -> None:
    chunk = Chunk("r#1", "r.md", "Rapporten", "rapport", ("Bakgrund",), "Fyra kronor.", 15, 15, 0, 12, 0)
    answer = Answer(
        "Vad kostar det?", "4 kronor per invånare. [1]", False, (Citation(1, chunk, ("Fyra kronor.",)),), (), ""
    )
    text = conversation_markdown([("Vad kostar det?", answer)], base_url="http://localhost:8501/")
    assert "## Fråga 1" in text and "4 kronor per invånare\\. \\[1\\]" in text
    assert "1. Rapporten, Bakgrund, stycke 15 ([öppna](http://localhost:8501/?vy=Dokument&dok=r.md&stycke=15))" in text
    assert "> Fyra kronor\\." in text


def test_no_file_written_outside_corpus(tmp_path: Path) -> None:
    settings = Settings(corpus_dir=tmp_path / "corpus")
    save_upload(settings, "/tmp/../../etc/evil.md", b"# Rubrik\n\nText.")
    assert [p.name for p in (tmp_path / "corpus").iterdir()] == ["evil.md"]


def test_answer_markdown_renders_only_the_answer_steps_bold() -> None:
    shown = answer_markdown("Avgiften är **4 kronor** per år [1]. <script>x</script> *inte fet* _inte_")
    assert "**4 kronor**" in shown
    assert "\\<script\\>" in shown and "\\*inte fet\\*" in shown and "\\_inte\\_" in shown and "\\[1\\]" in shown
