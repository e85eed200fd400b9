"""SBA kunskapsbas: a thin Streamlit UI over kb_app."""

from __future__ import annotations

import streamlit as st

from kb_app.config import Settings
from kb_app.errors import KbError
from kb_app.models import Hit
from kb_app.service import KnowledgeBase

st.set_page_config(page_title="SBA kunskapsbas", page_icon="📚", layout="wide")


@st.cache_resource(show_spinner=False)
def load_knowledge_base() -> KnowledgeBase:
    settings = Settings.from_env()
    return KnowledgeBase.open(settings)


def location(hit: Hit) -> str:
    c = hit.chunk
    parts = [c.title]
    if c.section:
        parts.append(c.section_title)
    if c.page is not None:
        parts.append(f"s. {c.page_label or c.page}")
    parts.append(
        f"stycke {c.paragraph}" if c.paragraph == c.paragraph_end else f"stycke {c.paragraph}–{c.paragraph_end}"
    )
    return " · ".join(parts)


st.title("SBA kunskapsbas")
try:
    with st.spinner("Laddar indexet (bygger det om det saknas)…"):
        kb = load_knowledge_base()
except KbError as exc:
    st.error(str(exc))
    st.stop()

status = kb.status()
st.caption(
    f"Indexet: {status.documents} dokument, {status.chunks} avsnitt · modell {status.model_id} · "
    f"uppdaterat {status.updated_at or 'okänt'}"
)
query = st.text_input("Sök i dokumenten", placeholder="Till exempel: Hur mycket betalar varje kommun?")
if query.strip():
    hits = kb.search(query.strip())
    if not hits:
        st.info("Inga avsnitt matchar sökningen.")
    for n, hit in enumerate(hits, start=1):
        with st.container(border=True):
            st.markdown(f"**{n}.** {location(hit)}")
            st.text(hit.chunk.text)
