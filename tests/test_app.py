"""The Streamlit script, driven with streamlit.testing.v1.AppTest against a real index."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.indexing import index_exists

from .conftest import REPO

MakeApp = Callable[..., AppTest]


@pytest.fixture
def make_app(monkeypatch: pytest.MonkeyPatch, app_settings: Settings) -> MakeApp:
    def make(*, password: str = "", **params: str) -> AppTest:
        monkeypatch.setenv("KB_CORPUS_DIR", str(app_settings.corpus_dir))
        monkeypatch.setenv("KB_INDEX_DIR", str(app_settings.index_dir))
        monkeypatch.setenv("KB_MODEL_CACHE", str(app_settings.model_cache))
        monkeypatch.setenv("KB_FEEDBACK_DB", str(app_settings.feedback_db))
        monkeypatch.setenv("KB_ADMIN_PASSWORD", password)
        at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=180)
        for key, value in params.items():
            at.query_params[key] = value
        at.run()
        assert not at.exception
        assert not at.error
        return at

    return make


def _markdown(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown) + "\n".join(c.value for c in at.caption)


def _plain(markdown: str) -> str:
    """Markdown with the escaping backslashes and bold marks removed, as a reader sees it."""
    return markdown.replace("\\", "").replace("**", "")


@pytest.mark.slow
def test_question_gets_an_answer_with_citation_and_follow_up(make_app: MakeApp) -> None:
    at = make_app()
    at.chat_input[0].set_value("Vilka kommuner tog initiativ till nya branschsamarbeten under 2006?").run()
    at.chat_input[0].set_value("Inom vilka branscher?").run()
    assert not at.exception
    texts = _plain(_markdown(at))
    assert "Västerås och Eskilstuna" in texts and "automation och säkerhet" in texts and "[1]" in texts
    labels = [e.label for e in at.expander]
    assert any(_plain(label).startswith("[1] Lägesredovisning av Stockholm Business Alliance") for label in labels)
    # the citation opens to the passage in context, the cited sentence highlighted, with a permalink
    assert ":orange-background[" in _markdown(at)
    assert "?vy=Dokument&dok=lagesredovisning-sba-2007.md&stycke=" in _markdown(at)


@pytest.mark.slow
def test_new_conversation_clears_history(make_app: MakeApp) -> None:
    at = make_app()
    at.chat_input[0].set_value("Vilka mål har partnerskapet?").run()
    assert "norra Europas ledande tillväxtregion" in _plain(_markdown(at))
    next(b for b in at.button if b.label == "Ny konversation").click().run()
    assert "norra Europas ledande tillväxtregion" not in _plain(_markdown(at))


@pytest.mark.slow
def test_html_in_a_question_is_text(make_app: MakeApp) -> None:
    at = make_app()
    at.chat_input[0].set_value('<script>alert("x")</script> <img src=x onerror=alert(1)>').run()
    shown = _markdown(at)
    assert "\\<script\\>" in shown and "\\<img src\\=x onerror\\=alert\\(1\\)\\>" in shown
    assert "<script>" not in shown.replace("\\<", "")


@pytest.mark.slow
def test_too_long_and_empty_questions_get_friendly_messages(make_app: MakeApp) -> None:
    at = make_app()
    at.chat_input[0].set_value("budget " * 400).run()
    assert "Frågan är för lång (2800 tecken)" in _plain(_markdown(at))
    at.chat_input[0].set_value("   ").run()
    assert "Skriv en fråga" in _plain(_markdown(at))


@pytest.mark.slow
def test_finder_returns_the_paragraph_and_its_permalink_opens_it(make_app: MakeApp) -> None:
    at = make_app(vy="Sök i dokumenten")
    at.text_input(key="finder").input('"The Capital of Scandinavia"').run()
    shown = _markdown(at)
    assert ":blue-background[The Capital of Scandinavia]" in shown
    assert "Liknande stycken" in [h.value for h in at.subheader]  # paragraphs without the phrase come apart
    links = [m.value for m in at.markdown if m.value.startswith("[Permalänk till stycke")]
    assert links, "every result carries a permalink"
    target = links[0].split("stycke=")[1].rstrip(")")
    # the permalink opens the document view with the paragraph highlighted
    doc = make_app(vy="Dokument", dok="lagesredovisning-sba-2007.md", stycke=target)
    linked = [_plain(m.value) for m in doc.markdown if m.value.startswith("Länkat stycke")]
    assert len(linked) == 1 and linked[0].startswith(f"Länkat stycke {target}: Lägesredovisning av Stockholm")
    assert "The Capital of Scandinavia" in _plain(_markdown(doc))


@pytest.mark.slow
def test_finder_filters_by_kind(make_app: MakeApp) -> None:
    at = make_app(vy="Sök i dokumenten")
    at.radio[0].set_value("Bilagorna").run()
    at.text_input(key="finder").input("budget").run()
    assert [i.value for i in at.info] == [
        "Inga stycken innehåller alla sökorden. Prova andra ord eller ta bort filtren."
    ]
    at.radio[0].set_value("Rapporten").run()
    assert "budget" in _plain(_markdown(at)).lower() and not at.info


@pytest.mark.slow
def test_introduction_shows_goals_members_budget_with_citations(make_app: MakeApp) -> None:
    at = make_app(vy="Introduktion")
    shown = _plain(_markdown(at))
    headers = [h.value for h in at.subheader]
    for title in ("Mål", "Medlemmar", "Budget och finansiering", "Hur partnerskapet styrs"):
        assert title in headers
    assert "norra Europas ledande tillväxtregion" in shown  # goals
    assert "40 kommuner" in shown and "Bilaga 1" in shown  # members, and where the list is
    assert "4 kronor per invånare" in shown and "15 miljoner kronor" in shown  # financing and budget
    citations = [c.value for c in at.caption if c.value.startswith("\\[")]
    assert len(citations) >= 6 and all("stycke=" in c for c in citations)
    # a suggested question is asked in the chat
    at.button(key="suggested-0").click().run()
    assert at.session_state["vy"] == "Fråga"
    assert "4 kronor per kommuninnevånare" in _plain(_markdown(at))


@pytest.mark.slow
def test_documents_page_lists_documents_and_missing_appendices(make_app: MakeApp) -> None:
    at = make_app(vy="Dokument")
    table = at.dataframe[0].value
    assert list(table["Dokument"]) == ["Lägesredovisning av Stockholm Business Alliance"]
    assert int(table["Avsnitt"][0]) > 5
    warnings = _plain(" ".join(w.value for w in at.warning))
    assert "Bilaga 1" in warnings and "Bilaga 2" in warnings and "Bilaga 3" in warnings
    assert any("¶ 12" in m.value for m in at.markdown)  # the whole document with paragraph numbers


@pytest.mark.slow
def test_upload_is_off_without_admin_password(make_app: MakeApp) -> None:
    at = make_app(vy="Dokument")
    assert any("Uppladdning är avstängd" in c.value for c in at.caption)
    assert not [t for t in at.text_input if t.key == "admin-password"]
    assert at.get("file_uploader") == []


@pytest.mark.slow
def test_upload_needs_the_right_password(make_app: MakeApp) -> None:
    at = make_app(vy="Dokument", password="hemligt-lösen")
    at.text_input(key="admin-password").input("fel").run()
    assert any(e.value == "Fel lösenord." for e in at.error)
    assert at.get("file_uploader") == []
    at.text_input(key="admin-password").input("hemligt-lösen").run()
    assert len(at.get("file_uploader")) == 1


def test_feedback_and_export_helpers_are_real(tmp_path: Path) -> None:
    """Kept small: the browser test clicks the thumbs; here the SQLite file itself is checked."""
    from kb_app.answer import Answer
    from kb_app.feedback import FeedbackStore

    store = FeedbackStore(tmp_path / "fb" / "feedback.sqlite3")
    answer = Answer("Vad kostar det?", "4 kronor per invånare. [1]", False, (), (), "Vad kostar det?")
    store.record(answer, 1)
    store.record(answer, 0)
    rows = store.entries()
    assert [r["rating"] for r in rows] == [1, 0] and rows[0]["question"] == "Vad kostar det?"


@pytest.mark.slow
def test_missing_index_is_built_on_first_start(
    monkeypatch: pytest.MonkeyPatch, report_corpus: Settings, embedder: Embedder
) -> None:
    monkeypatch.setenv("KB_CORPUS_DIR", str(report_corpus.corpus_dir))
    monkeypatch.setenv("KB_INDEX_DIR", str(report_corpus.index_dir))
    monkeypatch.setenv("KB_MODEL_CACHE", str(embedder.settings.model_cache))
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=300)
    at.run()
    assert not at.exception and not at.error
    assert any(s.label == "Indexeringen är klar" for s in at.status)
    assert index_exists(report_corpus)
    at.chat_input[0].set_value("Vilka mål har partnerskapet?").run()
    assert "norra Europas ledande tillväxtregion" in _plain(_markdown(at))


def test_configuration_errors_are_swedish_messages(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("KB_CORPUS_DIR", str(tmp_path / "finns-inte"))
    monkeypatch.setenv("KB_INDEX_DIR", str(tmp_path / "index"))
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    at.run()
    assert not at.exception
    assert "finns inte" in _plain(at.error[0].value)
    monkeypatch.setenv("KB_TOP_K", "många")
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=120)
    at.run()
    assert not at.exception and "KB_TOP_K" in _plain(at.error[0].value)
