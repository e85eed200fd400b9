"""The bundled model's tokenizer in plain Python: the ids of its ``tokenizer.json`` in a quarter of the memory.

The ``tokenizers`` library holds the 250,002 SentencePiece pieces in a byte trie that takes about
285 MB of memory, more than half of a running app. The model's tokenizer is simple enough to run
from a dictionary: special tokens are split off first, every other character goes through a
one-to-one normalisation map (control characters out, compatibility forms folded), runs of spaces
collapse to one, spaces become ``▁`` with one ``▁`` in front, and a Viterbi search picks the pieces
with the highest total score (a character with no piece is unknown; unknowns in a row are fused).
No piece spans a space, so the search runs word by word and remembers each word's pieces.
``save`` writes what it needs from ``tokenizer.json`` into ``unigram.json`` (about 70 MB in memory);
kb_app.onnx_engine checks at export that both give the same ids (tests/test_onnx.py checks more texts).
"""

from __future__ import annotations

import json
import re
from pathlib import Path

from kb_app.errors import ModelError

FILE = "unigram.json"
META = "\u2581"
UNKNOWN_PENALTY = 10.0  # an unknown character scores the lowest piece score minus this (as in SentencePiece)
_SPACES = re.compile(" {2,}")
_CACHE_LIMIT = 200_000  # words whose pieces are remembered (a few tens of MB at most)


def save(tokenizer_json: Path, target: Path) -> None:
    """Write ``unigram.json`` from a Hugging Face ``tokenizer.json`` made by kb_app.bundled_model.

    Raises:
        ModelError: the tokenizer is not the kind this module reproduces.
    """
    spec = json.loads(tokenizer_json.read_text(encoding="utf-8"))
    rules = (spec.get("normalizer") or {}).get("normalizers") or []
    mapping = {r["pattern"]["String"]: r["content"] for r in rules[:-1] if "String" in r.get("pattern", {})}
    last = rules[-1] if rules else {}
    model = spec["model"]
    expected = (
        model.get("type") == "Unigram"
        and not model.get("byte_fallback")
        and len(mapping) == len(rules) - 1
        and all(len(k) == 1 for k in mapping)
        and last.get("pattern") == {"Regex": " {2,}"}
        and spec["pre_tokenizer"].get("type") == "Metaspace"
        and spec["pre_tokenizer"].get("prepend_scheme") == "always"
        and not any(META in piece[1:] for piece, _ in model["vocab"])  # no piece spans a space
    )
    if not expected:
        raise ModelError(f"Tokeniseraren i {tokenizer_json} har ett okänt format.")
    special = {t["content"]: t["id"] for t in spec["added_tokens"] if t.get("special")}
    data = {
        "pieces": [p for p, _ in model["vocab"]],
        "scores": [s for _, s in model["vocab"]],
        "unk_id": model["unk_id"],
        "special": special,
        "normalise": mapping,
    }
    target.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")


class UnigramTokenizer:
    """Token ids for a text, prompt included, with ``<s>`` and ``</s>`` around it."""

    def __init__(self, path: Path, *, max_tokens: int = 512) -> None:
        data = json.loads(path.read_text(encoding="utf-8"))
        self._ids = {piece: i for i, piece in enumerate(data["pieces"])}  # a repeated piece keeps its last id
        self._scores: list[float] = data["scores"]
        self._unk: int = data["unk_id"]
        self._unk_score = min(self._scores) - UNKNOWN_PENALTY
        self._longest = max(len(p) for p in data["pieces"])
        self._table = str.maketrans(data["normalise"])
        special: dict[str, int] = data["special"]
        self._special = special
        self._split = re.compile("(" + "|".join(re.escape(s) for s in sorted(special, key=len, reverse=True)) + ")")
        self._bos, self._eos = special["<s>"], special["</s>"]
        self._max = max_tokens
        self._cache: dict[str, list[int]] = {}

    def encode(self, text: str) -> list[int]:
        """The ids the model sees, truncated to ``max_tokens`` like the Hugging Face tokenizer."""
        ids: list[int] = []
        for n, part in enumerate(self._split.split(text)):
            if n % 2:
                ids.append(self._special[part])
            elif part:
                ids += self._pieces(part)
        return [self._bos, *ids[: self._max - 2], self._eos]

    def _pieces(self, text: str) -> list[int]:
        text = _SPACES.sub(" ", text.translate(self._table))
        if not text:
            return []
        text = text.replace(" ", META)
        if not text.startswith(META):
            text = META + text
        ids: list[int] = []
        for word in text.split(META)[1:]:  # no piece spans a space, so each word is searched on its own
            ids += self._word(META + word)
        return ids

    def _word(self, word: str) -> list[int]:
        """The pieces of one word (``▁`` and what follows up to the next space), cached."""
        cached = self._cache.get(word)
        if cached is None:
            if len(self._cache) >= _CACHE_LIMIT:
                self._cache.clear()
            cached = self._cache[word] = self._viterbi(word)
        return cached

    def _viterbi(self, text: str) -> list[int]:
        """The best-scoring pieces (ties go to the earlier start, as in ``tokenizers``)."""
        n, ids, scores = len(text), self._ids, self._scores
        best = [0.0] * (n + 1)
        start = [-1] * (n + 1)
        token = [0] * (n + 1)
        for i in range(n):
            base, single = best[i], False
            for end in range(i + 1, min(n, i + self._longest) + 1):
                piece = ids.get(text[i:end])
                if piece is None:
                    continue
                single = single or end == i + 1
                score = base + scores[piece]
                if start[end] < 0 or score > best[end]:
                    best[end], start[end], token[end] = score, i, piece
            if not single and (start[i + 1] < 0 or base + self._unk_score > best[i + 1]):
                best[i + 1], start[i + 1], token[i + 1] = base + self._unk_score, i, self._unk
        out: list[int] = []
        end = n
        while end > 0:
            if not (token[end] == self._unk and out and out[-1] == self._unk):  # unknowns in a row are fused
                out.append(token[end])
            end = start[end]
        return out[::-1]
