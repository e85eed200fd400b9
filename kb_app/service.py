"""KnowledgeBase: the one object the UI and the command line talk to."""

from __future__ import annotations

import time
from dataclasses import dataclass

from kb_app import generations
from kb_app.answer import Answer, Answerer, too_long_answer
from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.errors import IndexBusyError
from kb_app.indexing import Progress, index_corpus, index_exists, index_version, read_status
from kb_app.library import Library
from kb_app.models import Hit
from kb_app.retrieval import Retriever

HISTORY_TURNS = 3  # earlier questions a follow-up may lean on
BUILD_WAIT_S = 900  # how long a reader waits for another process's first build of the index


@dataclass(frozen=True)
class IndexStatus:
    """What the index holds, for display."""

    documents: int
    chunks: int
    model_id: str
    updated_at: str
    location: str
    failed: dict[str, str]


class KnowledgeBase:
    """Index, search and answer over one corpus. Load once per process; safe across threads."""

    def __init__(self, settings: Settings, *, embedder: Embedder | None = None) -> None:
        self.settings = settings
        generation = generations.current(settings)
        self.version = generation.name if generation is not None else ""
        served = generations.at(settings, generation) if generation is not None else settings
        self.embedder = embedder or Embedder(settings)
        self.retriever = Retriever(served, embedder=self.embedder)
        self.answerer = Answerer(self.retriever)
        self.library = Library(served)

    @classmethod
    def open(cls, settings: Settings, *, progress: Progress | None = None) -> KnowledgeBase:
        """Open the index, building it first when it is missing or damaged (it heals itself).

        Raises:
            KbError: the corpus cannot be read or the index cannot be built or opened.
        """
        embedder = Embedder(settings)
        deadline = time.monotonic() + BUILD_WAIT_S
        while not index_exists(settings):
            try:
                index_corpus(settings, embedder=embedder, progress=progress)
            except IndexBusyError:
                # another process is building it: wait for that build instead of failing
                if time.monotonic() > deadline:
                    raise
                if progress:
                    progress("Väntar på en annan indexering", 0, 1)
                time.sleep(0.5)
        return cls(settings, embedder=embedder)

    def status(self) -> IndexStatus:
        raw = read_status(self.settings)
        failed = raw.get("failed", {})
        return IndexStatus(
            documents=len(self.retriever.documents()),
            chunks=len(self.retriever.chunks),
            model_id=self.settings.embedding_model,
            updated_at=str(raw.get("updated_at", "")),
            location=self.retriever.location,
            failed=dict(failed) if isinstance(failed, dict) else {},
        )

    def search(
        self,
        query: str,
        *,
        k: int | None = None,
        doc_ids: list[str] | None = None,
        kinds: list[str] | None = None,
    ) -> list[Hit]:
        """Hybrid search; see ``Retriever.search``."""
        return self.retriever.search(query, k=k or self.settings.top_k, doc_ids=doc_ids, kinds=kinds)

    def ask(self, question: str, history: list[str] | tuple[str, ...] = ()) -> Answer:
        """A Swedish answer with citations, or an abstention; see ``Answerer.ask``.

        A question longer than ``KB_MAX_QUESTION_CHARS`` gets a polite request to shorten it. Only
        the last ``HISTORY_TURNS`` earlier questions are used, each cut to the same limit.
        """
        limit = self.settings.max_question_chars
        if len(question) > limit:
            return too_long_answer(question, limit)
        return self.answerer.ask(question, [turn[:limit] for turn in list(history)[-HISTORY_TURNS:]])

    def is_stale(self) -> bool:
        """True when the indexer has written a newer index than the one this object serves."""
        return index_version(self.settings) != self.version

    def missing_appendices(self) -> dict[int, str]:
        """Appendices the documents refer to that have not been added: {number: title}."""
        return self.answerer.missing_appendices()
