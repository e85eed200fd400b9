"""The introduction for new partner staff, answered from the indexed documents.

The topics are fixed (what a newcomer needs first); every fact under them is an answer of the
knowledge base with its citations, so the page changes when the documents change and never says
anything the documents do not.
"""

from __future__ import annotations

from dataclasses import dataclass

from kb_app.answer import Answer, Answerer


@dataclass(frozen=True)
class Topic:
    title: str
    questions: tuple[str, ...]


TOPICS = (
    Topic("Vad är SBA?", ("Vad är Stockholm Business Alliance?",)),
    Topic("Mål", ("Vilka mål har partnerskapet?",)),
    Topic("Medlemmar", ("Hur många kommuner deltar i partnerskapet?",)),
    Topic("Budget och finansiering", ("Hur finansieras verksamheten?", "Hur stor är budgeten för 2007?")),
    Topic("Hur partnerskapet styrs", ("Hur styrs partnerskapet?",)),
    Topic("Verksamhetsområden 2007", ("Vilka verksamhetsområden ska partnerskapet arbeta med under 2007?",)),
)

SUGGESTED_QUESTIONS = (
    "Hur mycket betalar varje kommun?",
    "Vilka mål har partnerskapet?",
    "Vad är budgeten för 2007?",
    "Vilka kommuner ingår i partnerskapet?",
    "Vad gjorde partnerskapet under 2006?",
    "Hur styrs partnerskapet?",
)


@dataclass(frozen=True)
class Fact:
    """One topic of the introduction: its answers from the documents (an abstention is left out)."""

    topic: Topic
    answers: tuple[Answer, ...]


def introduction(answerer: Answerer) -> list[Fact]:
    """Answer every topic from the current index."""
    facts = []
    for topic in TOPICS:
        answers = tuple(a for a in (answerer.ask(q) for q in topic.questions) if not a.abstained)
        facts.append(Fact(topic, answers))
    return facts
