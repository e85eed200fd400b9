"""The introduction is answered from the index: every fact cites the documents, nothing is invented."""

from __future__ import annotations

import pytest

from kb_app.answer import Answerer
from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.onboarding import SUGGESTED_QUESTIONS, TOPICS, introduction
from kb_app.retrieval import Retriever
from kb_app.service import KnowledgeBase


@pytest.mark.slow
def test_every_topic_is_answered_from_the_report_with_citations(app_settings: Settings, embedder: Embedder) -> None:
    facts = KnowledgeBase(app_settings, embedder=embedder).introduction()
    assert [f.topic for f in facts] == list(TOPICS)
    by_title = {f.topic.title: f for f in facts}
    for fact in facts:
        assert fact.answers, f"{fact.topic.title} has no answer from the report"
        for answer in fact.answers:
            assert not answer.abstained and answer.citations
            for citation in answer.citations:
                # each cited sentence stands in the cited passage: quoted, not made up
                assert all(
                    " ".join(s.split()).removeprefix("- ") in " ".join(citation.chunk.text.split())
                    for s in citation.sentences
                )
    assert "ledande tillväxtregion" in " ".join(a.text for a in by_title["Mål"].answers)
    assert "4 kronor" in " ".join(a.text for a in by_title["Budget och finansiering"].answers)


@pytest.mark.slow
def test_a_topic_the_documents_do_not_cover_has_no_answers(make_settings, embedder: Embedder) -> None:  # type: ignore[no-untyped-def]
    from kb_app.indexing import index_corpus

    settings = make_settings()
    (settings.corpus_dir / "recept.md").write_text(
        "# Kanelbullar\n\nBaka kanelbullar med smör, socker och kanel. Låt degen jäsa i en timme.\n",
        encoding="utf-8",
    )
    index_corpus(settings, embedder=embedder)
    facts = introduction(Answerer(Retriever(settings, embedder=embedder)))
    assert all(not fact.answers for fact in facts)


def test_suggested_questions_are_questions() -> None:
    assert len(SUGGESTED_QUESTIONS) == len(set(SUGGESTED_QUESTIONS)) >= 4
    assert all(q.endswith("?") for q in SUGGESTED_QUESTIONS)
