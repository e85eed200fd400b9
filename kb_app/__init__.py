"""SBA kunskapsbas: Swedish knowledge base over Stockholm Business Alliance documents."""

from kb_app.answer import Answer, Citation
from kb_app.config import Settings
from kb_app.errors import (
    ConfigError,
    CorpusError,
    IndexBusyError,
    IndexDamagedError,
    IndexMissingError,
    KbError,
    ModelError,
    StoreError,
    StoreUnreachableError,
)
from kb_app.indexing import IndexReport, index_corpus
from kb_app.models import Block, Chunk, Document, DocumentInfo, Hit
from kb_app.retrieval import Retriever
from kb_app.service import KnowledgeBase

__all__ = [
    "Answer",
    "Block",
    "Chunk",
    "Citation",
    "ConfigError",
    "CorpusError",
    "Document",
    "DocumentInfo",
    "Hit",
    "IndexBusyError",
    "IndexDamagedError",
    "IndexMissingError",
    "IndexReport",
    "KbError",
    "KnowledgeBase",
    "ModelError",
    "Retriever",
    "Settings",
    "StoreError",
    "StoreUnreachableError",
    "index_corpus",
]
