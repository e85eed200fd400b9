"""Text for people: safe Markdown, marked words and sentences, permalinks, conversation export.

Everything that comes from a document or a user goes through ``md_escape`` before it reaches
Markdown, so HTML, scripts, links and Markdown syntax in it show as plain characters.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime
from urllib.parse import urlencode

from kb_app.answer import Answer
from kb_app.lexical import tokenize
from kb_app.models import Chunk
from kb_app.retrieval import quoted_phrases

# Every character CommonMark treats as punctuation can be backslash-escaped; ":" and "$" stop
# Streamlit's colour directives and LaTeX, "~" strikethrough, "|" tables.
_SPECIAL = re.compile(r"([\\`*_{}\[\]()#+\-.!|<>~$:=\"'&@^])")
_WORD = re.compile(r"\w+", re.UNICODE)
HIGHLIGHT = "orange-background"
MARK = "blue-background"

# URL query parameters of the app: the open view, and a paragraph of a document.
PARAM_VIEW = "vy"
PARAM_DOC = "dok"
PARAM_PARAGRAPH = "stycke"
VIEW_DOCUMENTS = "Dokument"


def md_escape(text: str) -> str:
    """Text that Markdown shows literally, line breaks kept."""
    lines = [_SPECIAL.sub(r"\\\1", line) for line in text.split("\n")]
    return "  \n".join(lines)


_BOLD = re.compile(r"\*\*(.+?)\*\*")


def answer_markdown(text: str) -> str:
    """An answer as Markdown: every character escaped, except the bold the answer step put around the
    asked fact (``**4 kronor**``), which is rendered bold."""
    out: list[str] = []
    pos = 0
    for match in _BOLD.finditer(text):
        out.append(md_escape(text[pos : match.start()]))
        out.append(f"**{md_escape(match.group(1))}**")
        pos = match.end()
    out.append(md_escape(text[pos:]))
    return "".join(out)


def _render(text: str, spans: list[tuple[int, int]], style: str) -> str:
    """Escape ``text`` and wrap the given spans in a Streamlit background directive, line by line."""
    out: list[str] = []
    pos = 0
    for start, end in _merge(spans):
        out.append(md_escape(text[pos:start]))
        pieces = text[start:end].split("\n")
        out.append("  \n".join(f":{style}[{md_escape(p)}]" if p.strip() else "" for p in pieces))
        pos = end
    out.append(md_escape(text[pos:]))
    return "".join(out)


def _merge(spans: Iterable[tuple[int, int]]) -> list[tuple[int, int]]:
    merged: list[tuple[int, int]] = []
    for start, end in sorted(s for s in spans if s[1] > s[0]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def sentence_spans(text: str, sentences: Sequence[str]) -> list[tuple[int, int]]:
    """Where the cited sentences (or their lines, for lists) stand in ``text``."""
    spans = []
    for sentence in sentences:
        for line in sentence.split("\n"):
            line = line.strip()
            if len(line) < 3:
                continue
            start = text.find(line)
            if start < 0 and line.startswith("- "):
                start, line = text.find(line[2:]), line[2:]
            if start >= 0:
                spans.append((start, start + len(line)))
    return spans


def highlight_sentences(text: str, sentences: Sequence[str]) -> str:
    """Safe Markdown of ``text`` with the cited sentences highlighted."""
    return _render(text, sentence_spans(text, sentences), HIGHLIGHT)


def highlight_all(text: str) -> str:
    """Safe Markdown of ``text``, all of it highlighted (a permalinked paragraph)."""
    return _render(text, [(0, len(text))], HIGHLIGHT)


def term_spans(text: str, query: str) -> list[tuple[int, int]]:
    """Words of ``text`` that match the query's words (after stemming) and its quoted phrases."""
    wanted = set(tokenize(query.replace('"', " ")))
    spans = [(m.start(), m.end()) for m in _WORD.finditer(text) if wanted & set(tokenize(m.group(0)))]
    lowered = text.lower()
    for phrase in quoted_phrases(query):
        start = lowered.find(phrase.lower())
        while start >= 0:
            spans.append((start, start + len(phrase)))
            start = lowered.find(phrase.lower(), start + 1)
    return spans


def mark_terms(text: str, query: str) -> str:
    """Safe Markdown of ``text`` with the words that match ``query`` marked."""
    return _render(text, term_spans(text, query), MARK)


def permalink(doc_id: str, paragraph: int) -> str:
    """The app URL (relative) that opens a paragraph in the document view."""
    return "?" + urlencode({PARAM_VIEW: VIEW_DOCUMENTS, PARAM_DOC: doc_id, PARAM_PARAGRAPH: paragraph})


def chunk_permalink(chunk: Chunk) -> str:
    return permalink(chunk.doc_id, chunk.paragraph)


def conversation_markdown(
    history: Sequence[tuple[str, Answer]], *, base_url: str = "", when: datetime | None = None
) -> str:
    """A conversation as a Markdown document, each answer followed by its sources."""
    stamp = (when or datetime.now()).strftime("%Y-%m-%d %H:%M")
    lines = ["# Samtal med SBA kunskapsbas", "", f"Exporterat {stamp}.", ""]
    for n, (question, answer) in enumerate(history, start=1):
        lines += [f"## Fråga {n}", "", md_escape(question), "", "**Svar:**", "", answer_markdown(answer.text), ""]
        if answer.citations:
            lines += ["**Källor:**", ""]
            for c in answer.citations:
                quote = " ".join(" ".join(c.sentences).split())
                link = base_url + chunk_permalink(c.chunk)
                lines.append(f"{c.n}. {md_escape(c.chunk.location)} ([öppna]({link}))")
                lines.append(f"   > {md_escape(quote)}")
            lines.append("")
    return "\n".join(lines)
