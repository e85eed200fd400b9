"""SBA kunskapsbas: a thin Streamlit UI over kb_app (all logic lives in kb_app).

Everything from documents or users is shown through ``md_escape`` or ``st.text``, so HTML and
scripts in them are plain text. Views: Fråga (chat), Sök i dokumenten (paragraph finder),
Introduktion (onboarding) and Dokument (reader, missing appendices, admin upload). The open view
and a permalinked paragraph live in the URL (``?vy=Dokument&dok=…&stycke=…``).
"""

from __future__ import annotations

import functools
import logging
import threading
import time
import uuid
from collections.abc import Callable
from datetime import datetime
from typing import Any

import streamlit as st

from kb_app.config import Settings
from kb_app.presentation import (
    PARAM_DOC,
    PARAM_PARAGRAPH,
    PARAM_VIEW,
    answer_markdown,
    chunk_permalink,
    conversation_markdown,
    highlight_all,
    highlight_sentences,
    mark_terms,
    md_escape,
    permalink,
)
from kb_app.service import (
    KIND_APPENDIX,
    KIND_REPORT,
    SUGGESTED_QUESTIONS,
    Answer,
    Chunk,
    Embedder,
    Fact,
    Finding,
    IndexReport,
    KbError,
    KnowledgeBase,
    build_index,
    index_ready,
    load_model,
    published_version,
)

log = logging.getLogger("kb_app.ui")
if not log.handlers:  # Streamlit only configures its own loggers; the start-up line goes to the server log
    _handler = logging.StreamHandler()
    _handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    log.addHandler(_handler)
    log.setLevel(logging.INFO)
VIEWS = ["Fråga", "Sök i dokumenten", "Introduktion", "Dokument"]
KINDS = {"Alla dokument": None, "Rapporten": [KIND_REPORT], "Bilagorna": [KIND_APPENDIX]}

st.set_page_config(page_title="SBA kunskapsbas", page_icon="📚", layout="wide")


@st.cache_resource(show_spinner=False)
def load_embedder(settings: Settings) -> Embedder:
    """One embedding model per server, shared by every session and every index version."""
    return load_model(settings)


@st.cache_resource(show_spinner=False)
def index_lock() -> threading.Lock:
    """Serialises index builds started from the app."""
    return threading.Lock()


@st.cache_resource(show_spinner=False, max_entries=2)
def load_knowledge_base(settings: Settings, version: str) -> KnowledgeBase:
    """The index as of ``version``; a new version (written by the indexer) loads a new one.

    The model is loaded and one question answered here, so the first user's question is not the
    one that pays for it; the server log gets one line with the three times.
    """
    started = time.perf_counter()
    embedder = load_embedder(settings)
    embedder.embed_query("uppvärmning")
    model_s = time.perf_counter() - started
    kb = KnowledgeBase(settings, embedder=embedder)
    index_s = time.perf_counter() - started - model_s
    kb.ask(SUGGESTED_QUESTIONS[0])
    query_s = time.perf_counter() - started - model_s - index_s
    log.info("Start: modell %.2f s, index %.2f s, första frågan %.2f s (%s)", model_s, index_s, query_s, version)
    return kb


@st.cache_resource(show_spinner=False, max_entries=2)
def load_introduction(_kb: KnowledgeBase, version: str) -> list[Fact]:
    return _kb.introduction()


def run_indexing(settings: Settings, title: str, kb: KnowledgeBase | None = None) -> None:
    """Index the corpus with a visible progress bar (first start, or ``kb.reindex``); the next run
    loads the new index."""
    with index_lock(), st.status(title, expanded=True) as status:
        bar = st.progress(0.0, text="Förbereder…")

        def progress(stage: str, done: int, total: int) -> None:
            bar.progress(done / max(total, 1), text=f"{stage}: {done} av {total}")

        report: IndexReport = (
            kb.reindex(progress)
            if kb is not None
            else build_index(settings, embedder=load_embedder(settings), progress=progress)
        )
        st.text(report.summary())
        status.update(label="Indexeringen är klar", state="complete" if not report.failed else "error")


def current_kb(settings: Settings) -> KnowledgeBase:
    if not index_ready(settings):
        run_indexing(settings, "Indexet saknas och byggs nu första gången. Det tar en stund…")
    with st.spinner("Laddar kunskapsbasen…"):
        return load_knowledge_base(settings, published_version(settings))


# --- Fråga -------------------------------------------------------------------------------------


def render_citation_context(kb: KnowledgeBase, chunk: Chunk, sentences: tuple[str, ...]) -> None:
    context = kb.context(chunk)
    for paragraph, inside in context:
        if inside:
            st.markdown(highlight_sentences(paragraph.text, sentences))
        else:
            st.caption(md_escape(paragraph.text))
    if not context:
        st.text(chunk.text)
    st.caption(md_escape(chunk.location))
    st.markdown(f"[Öppna stycket i dokumentvyn]({chunk_permalink(chunk)})")


def save_feedback(kb: KnowledgeBase, entry: dict[str, Any]) -> None:
    rating = st.session_state.get(f"feedback-{entry['id']}")
    if rating is not None:
        try:
            kb.record_feedback(entry["answer"], rating)
            st.toast("Tack för din återkoppling!")
        except KbError as exc:
            st.toast(str(exc))


def show_answer(kb: KnowledgeBase, entry: dict[str, Any]) -> None:
    answer: Answer = entry["answer"]
    st.markdown(answer_markdown(answer.text))
    if answer.abstained:
        for hit in answer.hits[:3]:
            with st.expander(f"Närmaste avsnitt: {md_escape(hit.chunk.location)}"):
                render_citation_context(kb, hit.chunk, ())
    for citation in answer.citations:
        with st.expander(f"\\[{citation.n}\\] {md_escape(citation.chunk.location)}"):
            render_citation_context(kb, citation.chunk, citation.sentences)
    if answer.hits or answer.citations:
        st.feedback("thumbs", key=f"feedback-{entry['id']}", on_change=save_feedback, args=(kb, entry))


def app_url() -> str:
    """The app's address without query, for links in an exported conversation."""
    url = st.context.url or ""
    return url.split("?", 1)[0]


def page_ask(get_kb: Callable[[], KnowledgeBase]) -> None:
    """The chat. The index is only needed for a question or a conversation, so a new visitor gets
    the question box while it loads."""
    history: list[dict[str, Any]] = st.session_state.setdefault("history", [])
    left, right = st.columns([1, 1])
    if left.button("Ny konversation", disabled=not history, icon=":material/refresh:"):
        history.clear()
        st.rerun()
    right.download_button(
        "Ladda ner samtalet (Markdown)",
        conversation_markdown([(e["question"], e["answer"]) for e in history], base_url=app_url()),
        file_name=f"sba-samtal-{datetime.now():%Y%m%d-%H%M}.md",
        mime="text/markdown",
        disabled=not history,
        icon=":material/download:",
        on_click="ignore",
    )
    for entry in history:
        with st.chat_message("user"):
            st.markdown(md_escape(entry["question"]))
        with st.chat_message("assistant"):
            show_answer(get_kb(), entry)
    typed = st.chat_input("Ställ en fråga om SBA, till exempel: Vilka mål har partnerskapet?")
    question = typed if typed is not None else st.session_state.pop("pending_question", None)
    if question is None:
        if not history:
            st.caption("Exempel: " + " · ".join(md_escape(q) for q in SUGGESTED_QUESTIONS[:3]))
        return
    with st.chat_message("user"):
        st.markdown(md_escape(question) or "–")
    with st.spinner("Söker i dokumenten…"):
        answer = get_kb().ask(question, [e["question"] for e in history if not e["answer"].abstained])
    history.append({"id": uuid.uuid4().hex, "question": question, "answer": answer})
    st.rerun()  # draw the conversation (and its buttons) with the new answer in it


# --- Sök i dokumenten --------------------------------------------------------------------------


def page_search(kb: KnowledgeBase) -> None:
    documents = {title: doc_id for doc_id, title, _ in kb.documents()}
    query = st.text_input(
        "Sök i dokumenten", placeholder='Sökord, eller en exakt fras inom "citattecken"', key="finder"
    )
    left, right = st.columns([2, 1])
    chosen = left.multiselect("Dokument", list(documents), placeholder="Alla dokument")
    kinds = right.radio("Visa", list(KINDS), horizontal=True)
    if not query.strip():
        st.caption('Tips: sätt en fras inom citattecken för exakt träff, till exempel "The Capital of Scandinavia".')
        return
    if len(query) > kb.settings.max_question_chars:
        st.warning(f"Sökningen är för lång. Korta den till högst {kb.settings.max_question_chars} tecken.")
        return
    result = kb.find(query.strip(), k=10, doc_ids=[documents[t] for t in chosen] or None, kinds=KINDS[kinds])
    if not result.matches:
        st.info("Inga stycken innehåller alla sökorden. Prova andra ord eller ta bort filtren.")
    show_findings(result.matches, query, start=1)
    if result.similar:
        st.subheader("Liknande stycken", anchor=False)
        st.caption("De här styckena innehåller inte alla sökord men handlar om något liknande.")
        show_findings(result.similar, query, start=len(result.matches) + 1)


def show_findings(findings: list[Finding], query: str, *, start: int) -> None:
    for n, finding in enumerate(findings, start=start):
        chunk = finding.chunk
        with st.container(border=True):
            st.markdown(f"**{n}.** {md_escape(chunk.location)}")
            st.markdown(mark_terms(finding.text, query) if finding.exact else md_escape(finding.text))
            st.markdown(f"[Permalänk till stycke {finding.paragraph}]({permalink(chunk.doc_id, finding.paragraph)})")


# --- Introduktion ------------------------------------------------------------------------------


def ask_suggested(question: str) -> None:
    st.session_state["pending_question"] = question
    st.session_state[PARAM_VIEW] = VIEWS[0]


def page_introduction(kb: KnowledgeBase) -> None:
    st.markdown(
        "Välkommen! Här är det viktigaste om Stockholm Business Alliance, hämtat ur dokumenten i "
        "kunskapsbasen. Varje uppgift har sin källa."
    )
    for fact in load_introduction(kb, kb.version):
        with st.container(border=True):
            st.subheader(fact.topic.title, anchor=False)
            if not fact.answers:
                st.caption("Dokumenten i kunskapsbasen säger inget om detta ännu.")
            for answer in fact.answers:
                st.markdown(answer_markdown(answer.text))
                for citation in answer.citations:
                    st.caption(
                        f"\\[{citation.n}\\] {md_escape(citation.chunk.location)} · "
                        f"[öppna]({chunk_permalink(citation.chunk)})"
                    )
    missing = kb.missing_appendices()
    if missing:
        names = ", ".join(f"Bilaga {n} ({title})" for n, title in missing.items())
        st.info(md_escape(f"Rapporten hänvisar till bilagor som inte finns i kunskapsbasen än: {names}."))
    st.subheader("Frågor att börja med", anchor=False)
    columns = st.columns(2)
    for i, question in enumerate(SUGGESTED_QUESTIONS):
        columns[i % 2].button(question, key=f"suggested-{i}", on_click=ask_suggested, args=(question,))


# --- Dokument ----------------------------------------------------------------------------------


def page_documents(kb: KnowledgeBase) -> None:
    overview = kb.overview()
    rows = [
        {
            "Dokument": d.title,
            "Typ": d.kind,
            "Sidor": d.pages or "–",
            "Avsnitt": d.chunks,
            "Indexerat": d.indexed_at,
            "Fil": d.doc_id,
        }
        for d in overview.documents
    ]
    st.dataframe(rows, hide_index=True, width="stretch")
    if overview.missing_appendices:
        st.subheader("Bilagor som saknas", anchor=False)
        for number, title in overview.missing_appendices.items():
            st.warning(
                md_escape(f"Bilaga {number} – {title}: rapporten hänvisar till den, men den har inte lagts till.")
            )
    if overview.failed:
        st.subheader("Filer som inte kunde indexeras", anchor=False)
        for message in overview.failed:
            st.error(md_escape(message))
    render_reader(kb)
    render_admin(kb)


def render_reader(kb: KnowledgeBase) -> None:
    st.subheader("Läs ett dokument", anchor=False)
    titles = {doc_id: title for doc_id, title, _ in kb.documents()}
    if not titles:
        st.info("Kunskapsbasen innehåller inga dokument ännu.")
        return
    ids = list(titles)
    wanted = st.query_params.get(PARAM_DOC)
    doc_id = st.selectbox(
        "Dokument",
        ids,
        index=ids.index(wanted) if wanted in titles else 0,
        format_func=lambda d: titles[d],
        key=f"reader-{wanted}",
    )
    try:
        target = int(st.query_params.get(PARAM_PARAGRAPH, "0")) if doc_id == wanted else 0
    except ValueError:
        target = 0
    paragraphs = kb.paragraphs(doc_id)
    marked = next((p for p in paragraphs if p.n == target and p.kind != "heading"), None)
    if target and marked is None:
        st.warning(f"Stycke {target} finns inte i dokumentet. Hela dokumentet visas nedan.")
    if marked is not None:
        with st.container(border=True, key="permalink-target"):
            st.markdown(md_escape(f"Länkat stycke {marked.n}: {marked.location(titles[doc_id])}"))
            st.markdown(highlight_all(marked.text))
    with st.expander("Hela dokumentet", expanded=marked is None):
        for paragraph in paragraphs:
            if paragraph.kind == "heading":
                st.markdown(f"**{md_escape(paragraph.text)}**")
                continue
            label = f"¶ {paragraph.n}" + (f" · s. {paragraph.page}" if paragraph.page is not None else "")
            text = highlight_all(paragraph.text) if paragraph is marked else md_escape(paragraph.text)
            st.markdown(f":gray[{md_escape(label)}]  \n{text}")


def render_admin(kb: KnowledgeBase) -> None:
    settings = kb.settings
    st.subheader("Lägg till dokument", anchor=False)
    if not kb.uploads_enabled():
        st.caption("Uppladdning är avstängd. En administratör slår på den genom att sätta KB\\_ADMIN\\_PASSWORD.")
        return
    attempt = st.text_input("Administratörslösenord", type="password", key="admin-password")
    if not attempt:
        return
    if not kb.password_ok(attempt):
        st.error("Fel lösenord.")
        return
    files = st.file_uploader(
        "PDF, Word (.docx), Markdown eller text",
        type=["pdf", "docx", "md", "markdown", "txt"],
        accept_multiple_files=True,
        max_upload_size=max(1, int(settings.max_file_mb)),
    )
    if st.button("Spara och indexera", disabled=not files, type="primary"):
        saved = 0
        for upload in files or []:
            try:
                result = kb.save_upload(upload.name, upload.getvalue())
                saved += 1
                st.success(
                    md_escape(f"{result.name} sparad" + (" (ersatte en tidigare version)." if result.replaced else "."))
                )
            except KbError as exc:
                st.error(md_escape(str(exc)))
        if saved:
            run_indexing(settings, "Indexerar de nya dokumenten…", kb)
            st.button("Visa det uppdaterade indexet", on_click=lambda: None)
    if st.button("Indexera om dokumentmappen"):
        run_indexing(settings, "Indexerar dokumentmappen…", kb)


# --- Page --------------------------------------------------------------------------------------


def main() -> None:
    st.title("SBA kunskapsbas")
    settings = Settings.from_env()
    get_kb = functools.cache(functools.partial(current_kb, settings))  # once a run, when first needed
    if not index_ready(settings):
        get_kb()  # built here, above the views, with its progress bar
    header = st.empty()  # the index's status, written once the index is loaded (below)
    tabs = st.tabs(VIEWS, key=PARAM_VIEW, bind="query-params", on_change="rerun")
    for view, tab in zip(VIEWS, tabs, strict=True):
        if not tab.open:
            continue
        with tab:
            if view == "Fråga":
                page_ask(get_kb)  # draws the question box before it needs the index
            elif view == "Sök i dokumenten":
                page_search(get_kb())
            elif view == "Introduktion":
                page_introduction(get_kb())
            else:
                page_documents(get_kb())
    status = get_kb().status()  # on a first visit the index loads here, after the question box is drawn
    header.caption(
        f"{status.documents} dokument · {status.chunks} avsnitt · uppdaterat {md_escape(status.updated_at or 'okänt')}"
    )


try:
    main()
except KbError as exc:
    st.error(md_escape(str(exc)))
except Exception:  # never a traceback in the browser; the log has it
    log.exception("Oväntat fel i appen")
    st.error("Något gick fel. Försök igen om en stund; kvarstår felet, kontakta den som driver tjänsten.")
