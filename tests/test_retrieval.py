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


# --- the search paths: exact in memory, Chroma's HNSW, RRF, filters, single modes ---------------------


QUERIES = ["Hur mycket betalar varje kommun?", "Vilka mål har partnerskapet?", "branschsamarbeten 2007"]


def test_the_hnsw_path_finds_what_the_exact_path_finds(app_settings: Settings, embedder: Embedder) -> None:
    """``exact_below=0`` sends every query through Chroma (no matrix in memory); on a small index its
    HNSW graph is exhaustive, so both paths rank the same passages with the same scores."""
    exact = Retriever(app_settings, embedder=embedder)
    hnsw = Retriever(app_settings, embedder=embedder, fusion=Fusion(exact_below=0))
    assert exact._matrix is not None and hnsw._matrix is None
    for query in QUERIES:
        a, b = exact.search(query, k=5), hnsw.search(query, k=5)
        assert [h.chunk.chunk_id for h in a] == [h.chunk.chunk_id for h in b]
        assert [h.dense_score for h in a] == pytest.approx([h.dense_score for h in b], abs=1e-4)
    assert hnsw._store is not None  # the HNSW path really asked Chroma


def test_a_filtered_hnsw_search_stays_inside_the_filter(app_settings: Settings, embedder: Embedder) -> None:
    hnsw = Retriever(app_settings, embedder=embedder, fusion=Fusion(exact_below=0))
    hits = hnsw.search('"Capital of Scandinavia" regionen', k=5)
    assert hits and all("capital of scandinavia" in " ".join(h.chunk.text.lower().split()) for h in hits)


def test_rrf_scores_are_weighted_reciprocal_ranks(app_settings: Settings, embedder: Embedder) -> None:
    fusion = Fusion(method="rrf")
    retriever = Retriever(app_settings, embedder=embedder, fusion=fusion)
    hits = retriever.search(QUERIES[0], k=100)  # every chunk: the ranks below are over the whole union
    assert len(hits) == len(retriever.chunks)
    dense = sorted((h.dense_score or 0.0 for h in hits), reverse=True)
    lexical = sorted((h.lexical_score or 0.0 for h in hits), reverse=True)
    checked = 0
    for hit in hits:
        rank_d = dense.index(hit.dense_score or 0.0) + 1
        rank_l = lexical.index(hit.lexical_score or 0.0) + 1
        expected = fusion.dense_weight / (fusion.rrf_k + rank_d) + (1 - fusion.dense_weight) / (fusion.rrf_k + rank_l)
        if dense.count(hit.dense_score) == 1 and lexical.count(hit.lexical_score) == 1:
            assert hit.score == pytest.approx(expected)
            checked += 1
    assert checked >= 3
    assert [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    assert "4 kronor" in hits[0].chunk.text + hits[1].chunk.text


def test_zscore_fusion_differs_from_rrf_and_keeps_the_answer_on_top(app_settings: Settings, embedder: Embedder) -> None:
    zscore = Retriever(app_settings, embedder=embedder).search(QUERIES[0], k=3)
    assert "4 kronor" in zscore[0].chunk.text
    assert zscore[0].score > 1.0  # z-score units, far above any reciprocal rank (at most 1/61)


def test_filters_by_kind_document_and_quoted_phrase(app_settings: Settings, embedder: Embedder) -> None:
    retriever = Retriever(app_settings, embedder=embedder)
    assert retriever.search("budget", kinds=["bilaga"]) == []
    assert retriever.search("budget", doc_ids=["finns-inte.md"]) == []
    report = retriever.search("budget", kinds=["rapport"], doc_ids=["lagesredovisning-sba-2007.md"])
    assert report and all(h.chunk.kind == "rapport" for h in report)
    phrase = retriever.search('"4 kronor per"', k=5)
    assert phrase and all("4 kronor per" in h.chunk.text for h in phrase)
    assert retriever.search('"ett citat som inte finns någonstans"') == []


def test_lexical_and_dense_modes_alone(app_settings: Settings, embedder: Embedder) -> None:
    retriever = Retriever(app_settings, embedder=embedder)
    lexical = retriever.search("kommuninnevånare", k=5, mode="lexical")
    assert lexical and all(h.dense_score is None and (h.lexical_score or 0) > 0 for h in lexical)
    assert "kommuninnevånare" in lexical[0].chunk.text
    dense = retriever.search("Vad kostar medlemskapet för en kommun?", k=5, mode="dense")
    assert len(dense) == 5 and all(h.lexical_score is None for h in dense)
    assert [h.score for h in dense] == sorted((h.score for h in dense), reverse=True)


def test_documents_and_the_query_vector_cache(app_settings: Settings, embedder: Embedder) -> None:
    retriever = Retriever(app_settings, embedder=embedder)
    assert retriever.documents() == [
        ("lagesredovisning-sba-2007.md", "Lägesredovisning av Stockholm Business Alliance", "rapport")
    ]
    first = retriever.query_vector("Vilka mål har partnerskapet?")
    assert retriever.query_vector("Vilka mål har partnerskapet?") is first
