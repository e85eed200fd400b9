"""Hybrid retrieval on the shipped corpus (real model, real index)."""

from __future__ import annotations

from dataclasses import replace

import pytest

from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.retrieval import Fusion, Retriever


@pytest.mark.parametrize(
    "query", ["Vad är Stockholm Business Alliance?", "Ska regionen bli norra Europas ledande tillväxtregion?"]
)
def test_the_phrase_bonus_goes_to_the_best_fused_candidates_only(
    app_settings: Settings, embedder: Embedder, query: str
) -> None:
    retriever = Retriever(app_settings, embedder=embedder)
    retriever.fusion = replace(Fusion(), phrase_weight=0.0)
    plain = retriever.search(query, k=8)
    retriever.fusion = replace(Fusion(), phrase_candidates=1)
    first_only = retriever.search(query, k=8)
    assert first_only[0].chunk == plain[0].chunk
    assert first_only[0].score > plain[0].score  # the best passage holds a word pair of the question
    assert [(h.chunk, h.score) for h in first_only[1:]] == [(h.chunk, h.score) for h in plain[1:]]
