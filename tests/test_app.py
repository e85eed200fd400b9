"""The Streamlit script, driven with streamlit.testing.v1.AppTest against a real index."""

from __future__ import annotations

import shutil

import pytest
from streamlit.testing.v1 import AppTest

from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.indexing import index_corpus

from .conftest import REPO


@pytest.fixture
def app(monkeypatch: pytest.MonkeyPatch, tmp_path, embedder: Embedder) -> AppTest:  # type: ignore[no-untyped-def]
    shutil.copytree(REPO / "corpus", tmp_path / "corpus")
    settings = Settings(
        corpus_dir=tmp_path / "corpus", index_dir=tmp_path / "index", model_cache=embedder.settings.model_cache
    )
    index_corpus(settings, embedder=embedder)
    monkeypatch.setenv("KB_CORPUS_DIR", str(settings.corpus_dir))
    monkeypatch.setenv("KB_INDEX_DIR", str(settings.index_dir))
    monkeypatch.setenv("KB_MODEL_CACHE", str(settings.model_cache))
    at = AppTest.from_file(str(REPO / "streamlit_app.py"), default_timeout=180)
    at.run()
    assert not at.exception
    return at


@pytest.mark.slow
def test_question_gets_an_answer_with_citation_and_follow_up(app: AppTest) -> None:
    app.chat_input[0].set_value("Vilka kommuner tog initiativ till nya branschsamarbeten under 2006?").run()
    app.chat_input[0].set_value("Inom vilka branscher?").run()
    assert not app.exception
    texts = " ".join(m.value for m in app.markdown)
    assert "Västerås och Eskilstuna" in texts and "automation och säkerhet" in texts and "[1]" in texts
    assert any("Lägesredovisning av Stockholm Business Alliance" in e.label for e in app.expander)


@pytest.mark.slow
def test_search_and_documents_pages(app: AppTest) -> None:
    app.text_input[0].input('"The Capital of Scandinavia"').run()
    assert any("The Capital of Scandinavia" in t.value for t in app.text)
    warnings = " ".join(w.value for w in app.warning)
    assert "Bilaga 1" in warnings and "Bilaga 3" in warnings
