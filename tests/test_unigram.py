"""The plain-Python tokenizer gives the ids of the model's tokenizer.json (the tokenizers library)."""

from __future__ import annotations

import random
from pathlib import Path

import pytest
from tokenizers import Tokenizer

from kb_app import unigram
from kb_app.bundled_model import ensure_converted
from kb_app.documents import load_catalog, read_document
from kb_app.embeddings import Embedder
from kb_app.evaluation import read_jsonl

from .conftest import MODEL_CACHE, REPO, REPORT, SHARED

EDGES = [
    "",
    " ",
    "<s>",
    "a<s>b</s><pad><unk><mask>",
    "query:    Hur   mycket\tbetalar\nvarje kommun?  ",
    "passage: \x01\x0b\u00a0\u200b\u3000 ½ ﬁnns Ｓtockholm ① ǅ é e\u0301 ß 😀😀 龘 \ufeff 𝕏",
    "▁▁ ▁hej",
    "x" * 3000,
]


@pytest.fixture(scope="module")
def tokenizers(embedder: Embedder) -> tuple[unigram.UnigramTokenizer, Tokenizer]:
    assert embedder.engine == "onnx"  # loading the model exports it, unigram.json included
    folder = ensure_converted(MODEL_CACHE)
    reference = Tokenizer.from_file(str(folder / "tokenizer.json"))
    reference.enable_truncation(512)
    return unigram.UnigramTokenizer(folder / unigram.FILE), reference


def _texts() -> list[str]:
    doc = read_document(REPORT, REPO / "corpus", load_catalog(REPO / "corpus"), max_bytes=10**8)
    texts = ["passage: " + b.text for b in doc.blocks] + [
        "query: " + q["question"] for q in read_jsonl(SHARED / "eval" / "dev.jsonl")
    ]
    rng = random.Random(7)
    alphabet = list(" \t\n\x01\u00a0abcåäöÅÄÖ<>/spadunkm▁😀龘ﬁ½") + ["<s>", "</s>", "<mask>", "  "]
    return texts + EDGES + ["".join(rng.choice(alphabet) for _ in range(rng.randint(0, 40))) for _ in range(2000)]


def test_the_ids_are_those_of_the_tokenizers_library(tokenizers: tuple[unigram.UnigramTokenizer, Tokenizer]) -> None:
    ours, reference = tokenizers
    texts = _texts()
    expected = [e.ids for e in reference.encode_batch(texts)]
    assert [ours.encode(t) for t in texts] == expected
    assert len(ours.encode("x " * 3000)) == 512


def test_a_tokenizer_of_another_kind_is_refused(tmp_path: Path) -> None:
    spec = (ensure_converted(MODEL_CACHE) / "tokenizer.json").read_text(encoding="utf-8")
    (tmp_path / "tokenizer.json").write_text(spec.replace('"Metaspace"', '"Whitespace"'), encoding="utf-8")
    with pytest.raises(unigram.ModelError):
        unigram.save(tmp_path / "tokenizer.json", tmp_path / unigram.FILE)
