"""KnowledgeBase: the one object the UI and the command line talk to.

The Streamlit app imports only this module, ``kb_app.presentation`` and ``kb_app.config``. Everything
it shows comes from a ``KnowledgeBase``: answers (``ask``), the paragraph finder (``find``), the
documents overview (``overview``), the reader (``paragraphs``, ``context``), the introduction,
feedback, uploads and re-indexing. The names the UI needs for its type hints are re-exported here.
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from kb_app import finder, generations, uploads
from kb_app.answer import Answer, Answerer, Citation, too_long_answer
from kb_app.config import Settings
from kb_app.embeddings import Embedder
from kb_app.errors import DAMAGED, IndexBusyError, IndexDamagedError, KbError
from kb_app.feedback import FeedbackStore
from kb_app.finder import FinderResult, Finding
from kb_app.indexing import IndexReport, Progress, damage, index_corpus, index_exists, index_version, read_status
from kb_app.library import Library, Paragraph
from kb_app.models import KIND_APPENDIX, KIND_REPORT, Chunk, Hit
from kb_app.onboarding import SUGGESTED_QUESTIONS, Fact, introduction
from kb_app.retrieval import Retriever
from kb_app.uploads import SavedUpload

__all__ = [
    "KIND_APPENDIX",
    "KIND_REPORT",
    "SUGGESTED_QUESTIONS",
    "Answer",
    "Chunk",
    "Citation",
    "DocumentRow",
    "DocumentsOverview",
    "Embedder",
    "Fact",
    "FinderResult",
    "Finding",
    "Hit",
    "IndexReport",
    "IndexStatus",
    "KbError",
    "KnowledgeBase",
    "Paragraph",
    "Progress",
    "SavedUpload",
    "build_index",
    "index_ready",
    "load_model",
    "published_version",
]

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


@dataclass(frozen=True)
class DocumentRow:
    """One indexed document in the documents overview."""

    doc_id: str
    title: str
    kind: str
    pages: int | None
    chunks: int
    indexed_at: str


@dataclass(frozen=True)
class DocumentsOverview:
    """The documents view: what is indexed, which appendices are missing, which files failed."""

    documents: tuple[DocumentRow, ...]
    missing_appendices: dict[int, str]
    failed: tuple[str, ...]  # one Swedish message per file that could not be indexed


def load_model(settings: Settings) -> Embedder:
    """The embedding model (loaded lazily), to share between ``KnowledgeBase`` objects."""
    return Embedder(settings)


def index_ready(settings: Settings) -> bool:
    """True when a complete, undamaged index is published."""
    return index_exists(settings)


def published_version(settings: Settings) -> str:
    """The published generation's name; it changes whenever an indexing run changes the index."""
    return index_version(settings)


def build_index(
    settings: Settings, *, embedder: Embedder | None = None, progress: Progress | None = None
) -> IndexReport:
    """Bring the index in line with the corpus (``index_corpus``); a damaged index is rebuilt.

    Raises:
        IndexDamagedError: the published index is damaged and this process cannot rebuild it
            (a read-only index folder, for example).
        IndexBusyError: another process is indexing.
        KbError: the corpus cannot be read or the index cannot be written.
    """
    problem = _damage(settings)
    try:
        return index_corpus(settings, embedder=embedder, progress=progress)
    except IndexBusyError:
        raise
    except KbError as exc:
        if not problem:
            raise
        raise IndexDamagedError(f"{DAMAGED}. ({problem}; indexet gick inte att bygga om härifrån: {exc})") from exc


def _intact(settings: Settings) -> bool:
    """True when a generation is published and nothing in it is damaged (its BM25 index may be stale)."""
    return generations.current(settings) is not None and not _damage(settings)


def _damage(settings: Settings) -> str:
    """What is wrong with the published index, or "" when it is whole or none has been built."""
    newest = generations.latest(settings)
    if newest is None:
        return ""
    if generations.current(settings) is None:
        return "pekaren CURRENT är skadad"
    return damage(settings, newest)


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
        self._feedback: FeedbackStore | None = None

    @classmethod
    def open(
        cls, settings: Settings, *, embedder: Embedder | None = None, progress: Progress | None = None
    ) -> KnowledgeBase:
        """Open the index, building it first when it is missing or damaged (it heals itself).

        An intact index whose BM25 part was made by another tokenizer version is built again; when
        that cannot be written (a read-only index), it is served as it is (the retriever builds its
        BM25 index in memory).

        Raises:
            IndexDamagedError: the index is damaged and cannot be rebuilt by this process.
            KbError: the corpus cannot be read or the index cannot be built or opened.
        """
        embedder = embedder or Embedder(settings)
        deadline = time.monotonic() + BUILD_WAIT_S
        builds = 0
        while not index_exists(settings):
            try:
                build_index(settings, embedder=embedder, progress=progress)
                builds += 1
            except IndexBusyError:
                # another process is building it: wait for that build instead of failing
                if time.monotonic() > deadline:
                    raise
                if progress:
                    progress("Väntar på en annan indexering", 0, 1)
                time.sleep(0.5)
            except KbError:
                if not _intact(settings):
                    raise
                break  # only the BM25 index is stale and cannot be rewritten here: serve it
            if builds >= 2 and not index_exists(settings):
                # two builds did not make it usable: say so instead of building forever
                raise IndexDamagedError(f"{DAMAGED}. (Indexet i {settings.index_dir} gick inte att laga.)")
        return cls(settings, embedder=embedder)

    # --- answers and search -----------------------------------------------------------------

    def find(
        self, query: str, *, k: int = 10, doc_ids: list[str] | None = None, kinds: list[str] | None = None
    ) -> FinderResult:
        """The paragraph finder: paragraphs that contain the words, then similar ones; see kb_app.finder."""
        return finder.find(self.retriever, self.library, query, k=k, doc_ids=doc_ids, kinds=kinds)

    def ask(self, question: str, history: list[str] | tuple[str, ...] = ()) -> Answer:
        """A Swedish answer with citations, or an abstention; see ``Answerer.ask``.

        A question longer than ``KB_MAX_QUESTION_CHARS`` gets a polite request to shorten it. Only
        the last ``HISTORY_TURNS`` earlier questions are used, each cut to the same limit.
        """
        limit = self.settings.max_question_chars
        if len(question) > limit:
            return too_long_answer(question, limit)
        return self.answerer.ask(question, [turn[:limit] for turn in list(history)[-HISTORY_TURNS:]])

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

    def introduction(self) -> list[Fact]:
        """The introduction for new partner staff, answered from this index."""
        return introduction(self.answerer)

    # --- documents --------------------------------------------------------------------------

    def documents(self) -> list[tuple[str, str, str]]:
        """(document id, title, kind) of every indexed document, in order."""
        return self.retriever.documents()

    def missing_appendices(self) -> dict[int, str]:
        """Appendices the documents refer to that have not been added: {number: title}."""
        return self.answerer.missing_appendices()

    def overview(self) -> DocumentsOverview:
        """The indexed documents (from the status the indexer wrote), missing appendices, failed files."""
        raw = read_status(self.settings)
        documents = raw.get("documents", {})
        counts: dict[str, int] = {}
        for chunk in self.retriever.chunks:
            counts[chunk.doc_id] = counts.get(chunk.doc_id, 0) + 1
        rows = tuple(
            DocumentRow(
                doc_id=doc_id,
                title=str(d.get("title", doc_id)),
                kind=str(d.get("kind", "")),
                pages=d.get("pages") if isinstance(d.get("pages"), int) else None,
                chunks=counts.get(doc_id, 0),
                indexed_at=str(d.get("indexed_at", "")),
            )
            for doc_id, d in (documents.items() if isinstance(documents, dict) else ())
            if isinstance(d, dict)
        )
        return DocumentsOverview(rows, self.missing_appendices(), tuple(self.status().failed.values()))

    def paragraphs(self, doc_id: str) -> tuple[Paragraph, ...]:
        """Every heading and paragraph of a document, in order, as it was indexed."""
        return self.library.paragraphs(doc_id)

    def context(self, chunk: Chunk, radius: int = 1) -> list[tuple[Paragraph, bool]]:
        """A passage's paragraphs and ``radius`` either side: (paragraph, inside the passage)."""
        return self.library.around(chunk, radius=radius)

    # --- the index --------------------------------------------------------------------------

    def status(self) -> IndexStatus:
        raw = read_status(self.settings)
        failed = raw.get("failed", {})
        return IndexStatus(
            documents=len(self.retriever.documents()),
            chunks=len(self.retriever.chunks),
            model_id=self.settings.vectors_id,
            updated_at=str(raw.get("updated_at", "")),
            location=self.retriever.location,
            failed={str(k): str(v) for k, v in failed.items()} if isinstance(failed, dict) else {},
        )

    def is_stale(self) -> bool:
        """True when the indexer has written a newer index than the one this object serves."""
        return index_version(self.settings) != self.version

    def reindex(self, progress: Progress | None = None) -> IndexReport:
        """Index the corpus folder again (new and changed files); readers switch at the next load."""
        return build_index(self.settings, embedder=self.embedder, progress=progress)

    # --- feedback and uploads ---------------------------------------------------------------

    def record_feedback(self, answer: Answer, rating: int) -> int:
        """Store thumbs up (1) or down (0) for an answer in ``KB_FEEDBACK_DB``; returns its row id."""
        if self._feedback is None:
            self._feedback = FeedbackStore(self.settings.feedback_db)
        return self._feedback.record(answer, rating)

    def uploads_enabled(self) -> bool:
        """True when an admin password is set (``KB_ADMIN_PASSWORD``)."""
        return uploads.uploads_enabled(self.settings)

    def password_ok(self, attempt: str) -> bool:
        return uploads.password_ok(self.settings, attempt)

    def save_upload(self, name: str, data: bytes) -> SavedUpload:
        """Check an uploaded file and write it into the corpus folder; see ``uploads.save_upload``."""
        return uploads.save_upload(self.settings, name, data)
