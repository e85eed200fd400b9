"""SBA kunskapsbas: a thin Streamlit UI over kb_app (all logic lives in kb_app)."""

from __future__ import annotations

import streamlit as st

from kb_app.answer import Answer
from kb_app.config import Settings
from kb_app.errors import KbError
from kb_app.indexing import read_status
from kb_app.service import KnowledgeBase

st.set_page_config(page_title="SBA kunskapsbas", page_icon="📚", layout="wide")


@st.cache_resource(show_spinner=False)
def load_knowledge_base() -> KnowledgeBase:
    return KnowledgeBase.open(Settings.from_env())


def show_answer(answer: Answer) -> None:
    st.markdown(answer.text)
    if answer.abstained:
        for hit in answer.hits[:3]:
            with st.expander(f"Närmaste avsnitt: {hit.chunk.location}"):
                st.text(hit.chunk.text)
        return
    for citation in answer.citations:
        with st.expander(f"[{citation.n}] {citation.chunk.location}"):
            st.text(citation.chunk.text)


def page_ask(kb: KnowledgeBase) -> None:
    history: list[tuple[str, Answer]] = st.session_state.setdefault("history", [])
    if st.button("Ny konversation", disabled=not history):
        history.clear()
        st.rerun()
    for question, answer in history:
        with st.chat_message("user"):
            st.text(question)
        with st.chat_message("assistant"):
            show_answer(answer)
    question = st.chat_input("Ställ en fråga om SBA, till exempel: Vilka mål har partnerskapet?")
    if question:
        with st.chat_message("user"):
            st.text(question)
        answer = kb.ask(question, [q for q, _ in history])
        history.append((question, answer))
        with st.chat_message("assistant"):
            show_answer(answer)


def page_search(kb: KnowledgeBase) -> None:
    documents = {title: doc_id for doc_id, title, _ in kb.retriever.documents()}
    query = st.text_input("Sök i dokumenten", placeholder='Sökord, eller en exakt fras inom "citattecken"')
    chosen = st.multiselect("Dokument", list(documents), placeholder="Alla dokument")
    if not query.strip():
        return
    hits = kb.search(query.strip(), k=10, doc_ids=[documents[t] for t in chosen] or None)
    if not hits:
        st.info("Inga avsnitt matchar sökningen.")
    for n, hit in enumerate(hits, start=1):
        with st.container(border=True):
            st.markdown(f"**{n}.** {hit.chunk.location}")
            st.text(hit.chunk.text)


def page_documents(kb: KnowledgeBase) -> None:
    status = read_status(kb.settings)
    documents = status.get("documents", {})
    rows = [
        {
            "Dokument": d.get("title"),
            "Typ": d.get("kind"),
            "Sidor": d.get("pages") or "–",
            "Indexerat": d.get("indexed_at"),
        }
        for d in (documents.values() if isinstance(documents, dict) else [])
    ]
    st.dataframe(rows, hide_index=True, use_container_width=True)
    missing = kb.missing_appendices()
    if missing:
        st.subheader("Bilagor som saknas")
        for number, title in missing.items():
            st.warning(f"Bilaga {number} – {title}: hänvisas till i rapporten men har inte lagts till.")


st.title("SBA kunskapsbas")
try:
    with st.spinner("Laddar indexet (bygger det om det saknas)…"):
        kb = load_knowledge_base()
except KbError as exc:
    st.error(str(exc))
    st.stop()

status = kb.status()
st.caption(f"{status.documents} dokument · {status.chunks} avsnitt · uppdaterat {status.updated_at or 'okänt'}")
ask_tab, search_tab, documents_tab = st.tabs(["Fråga", "Sök i dokumenten", "Dokument"])
with ask_tab:
    page_ask(kb)
with search_tab:
    page_search(kb)
with documents_tab:
    page_documents(kb)
