"""The bundled model served by ONNX Runtime: no PyTorch when answering.

``export_onnx`` runs once, beside the converted sentence-transformers folder (kb_app.bundled_model):
PyTorch's exporter writes the encoder with mean pooling and L2 normalisation built in, with the
float32 weights in a separate, memory-mapped file, and the tokenizer's data for kb_app.unigram. The
export is verified against PyTorch (cosine >= 0.9999 on Swedish probe texts and identical token
ids) before it is renamed into place. ``OnnxEncoder`` then embeds with onnxruntime and
kb_app.unigram; it imports neither torch, sentence-transformers nor tokenizers. Any other model
(``KB_EMBEDDING_MODEL``) runs in sentence-transformers as before.
"""

from __future__ import annotations

import logging
import os
import shutil
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kb_app import unigram
from kb_app.errors import ModelError

ONNX_FILE = "encoder.onnx"
ONNX_DATA = "encoder.onnx.data"  # the weights, memory-mapped by onnxruntime
INT8_FILE = "encoder-int8.onnx"  # the same graph with its linear layers quantized to int8 (quantize_int8)
INT8_DATA = "encoder-int8.onnx.data"
# Layers whose feed-forward output stays float32 in the int8 model: alone in int8, layer 4's moved the
# vectors most by far (1 - cosine 0.002 on average over the five PDFs' texts; every other layer <= 0.0003).
FLOAT_FFN_OUTPUT = (4,)
_SINGLE_FILE = "model.onnx"  # the earlier export with the weights inside the graph (removed after a new export)
PAD_ID = 1
MAX_TOKENS = 512
MIN_COSINE = 0.9999
PROBES = (
    "query: Hur mycket betalar varje kommun för att delta i partnerskapet?",
    "passage: Stockholm Business Alliance är ett avtalsbaserat partnerskap mellan kommuner i "
    "Stockholm – Mälardalenregionen för att utveckla det näringspolitiska samarbetet.",
    "passage: Arbetsgivaren ska se till att riskerna med kemiska ämnen i arbetsmiljön undersöks.",
    "query: What are the goals of the partnership for 2010?",
)
# Texts that exercise the tokenizer's edges: special tokens written out, control characters, runs of
# spaces, characters with no piece, compatibility forms.
TOKEN_PROBES = (
    "passage: <s>Budget</s>  för\t2007:\x01 4 kr/inv.\u00a0½ ﬁnns 😀😀 龘  ",
    "query:    ",
    "<mask> Ｓtockholm\u200b–Mälardalen ①",
)


def onnx_available() -> bool:
    """True when onnxruntime can be imported."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def is_exported(folder: Path) -> bool:
    """True when ``folder`` holds the finished export (graph, weights and tokenizer)."""
    return all((folder / name).is_file() for name in (ONNX_FILE, ONNX_DATA, unigram.FILE))


def export_onnx(folder: Path) -> Path:
    """Export the converted model in ``folder`` to ONNX once, verified against PyTorch (about 15 s).

    The weights go to a file of their own (``encoder.onnx.data``), which onnxruntime memory-maps:
    only the rows of the embedding table that a text uses are read into memory. The files are
    written in a temporary folder and renamed into place, the graph last.

    Raises:
        ModelError: the export does not agree with PyTorch.
    """
    if is_exported(folder):
        return folder / ONNX_FILE
    import onnx
    import torch
    from transformers import AutoModel, AutoTokenizer

    encoder = AutoModel.from_pretrained(str(folder), add_pooling_layer=False).eval()
    pooled = _pooled(torch, encoder)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    batch = tokenizer(list(PROBES), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    staging = Path(tempfile.mkdtemp(prefix=".onnx-", dir=folder))
    try:
        with torch.no_grad():
            expected = pooled(batch["input_ids"], batch["attention_mask"]).numpy()
            torch.onnx.export(
                pooled,
                (batch["input_ids"], batch["attention_mask"]),
                str(staging / "whole.onnx"),
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}},
                opset_version=17,
                dynamo=False,
            )
        graph = onnx.load(str(staging / "whole.onnx"))
        onnx.save(graph, str(staging / ONNX_FILE), save_as_external_data=True, location=ONNX_DATA, size_threshold=1024)
        unigram.save(folder / "tokenizer.json", staging / unigram.FILE)
        _verify(OnnxEncoder(staging), expected, [tokenizer(t)["input_ids"] for t in PROBES + TOKEN_PROBES])
        for name in (ONNX_DATA, unigram.FILE, ONNX_FILE):
            (staging / name).chmod(0o644)
            (staging / name).replace(folder / name)
        (folder / _SINGLE_FILE).unlink(missing_ok=True)
    finally:
        shutil.rmtree(staging, ignore_errors=True)
    return folder / ONNX_FILE


def is_quantized(folder: Path) -> bool:
    """True when ``folder`` holds the int8 model made by ``quantize_int8``."""
    return (folder / INT8_FILE).is_file() and (folder / INT8_DATA).is_file()


def quantize_int8(folder: Path) -> Path:
    """Write the int8 variant of the float32 export in ``folder`` once (about 5 s), with no network.

    Dynamic quantization (onnxruntime.quantization): the weights of the linear layers become int8
    with one scale per output channel and the activations are quantized per batch at run time. The
    feed-forward output of the layers in ``FLOAT_FFN_OUTPUT`` stays float32, as do the attention
    products, LayerNorm and the embedding table. The result depends only on the float32 file, so
    every run writes the same bytes. Written in a temporary folder and renamed into place, the graph last.
    """
    if is_quantized(folder):
        return folder / INT8_FILE
    from onnxruntime.quantization import QuantType, quantize_dynamic

    staging = Path(tempfile.mkdtemp(prefix=".int8-", dir=folder))
    root = logging.getLogger()
    quiet = logging.NullHandler()  # it logs a hint through the root logger, which would set up logging
    root.addHandler(quiet)
    try:
        quantize_dynamic(
            folder / ONNX_FILE,
            staging / INT8_FILE,
            op_types_to_quantize=["MatMul"],
            nodes_to_exclude=[f"/encoder/encoder/layer.{n}/output/dense/MatMul" for n in FLOAT_FFN_OUTPUT],
            per_channel=True,
            weight_type=QuantType.QInt8,
            use_external_data_format=True,
        )
        for name in (INT8_DATA, INT8_FILE):
            (staging / name).chmod(0o644)
            (staging / name).replace(folder / name)
    finally:
        root.removeHandler(quiet)
        shutil.rmtree(staging, ignore_errors=True)
    return folder / INT8_FILE


def _verify(engine: OnnxEncoder, expected: np.ndarray, expected_ids: list[list[int]]) -> None:
    """Raise ModelError unless the export embeds the probes like PyTorch and tokenizes like transformers."""
    cosine = float(np.min(np.sum(engine.encode(list(PROBES)) * expected, axis=1)))
    same_ids = [engine.token_ids(t) for t in PROBES + TOKEN_PROBES] == expected_ids
    if cosine < MIN_COSINE or not same_ids:
        raise ModelError(f"ONNX-exporten stämmer inte med PyTorch (cosinus {cosine:.5f}, samma token: {same_ids}).")


def _pooled(torch: Any, encoder: Any) -> Any:
    """The encoder with mean pooling over the attention mask and L2 normalisation, as one module."""

    class Pooled(torch.nn.Module):  # type: ignore[misc]
        def __init__(self) -> None:
            super().__init__()
            self.encoder = encoder

        def forward(self, input_ids: Any, attention_mask: Any) -> Any:
            hidden = self.encoder(input_ids=input_ids, attention_mask=attention_mask).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(hidden.dtype)
            mean = (hidden * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1e-9)
            return torch.nn.functional.normalize(mean, p=2, dim=1)

    return Pooled().eval()


class OnnxEncoder:
    """Embeds texts with the exported model: kb_app.unigram for the ids, onnxruntime for the rest."""

    def __init__(self, folder: Path, *, threads: int | None = None, int8: bool = False) -> None:
        import onnxruntime as ort

        self.tokenizer = unigram.UnigramTokenizer(folder / unigram.FILE, max_tokens=MAX_TOKENS)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        # Worker threads sleep between operators instead of spinning: on 2 shared cores (other processes,
        # Streamlit's threads) a query embedding took 14.5 ms instead of 27.8 ms (p50, same process).
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.log_severity_level = 3
        path = folder / (INT8_FILE if int8 else ONNX_FILE)
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own classes for unreadable models
            message = f"ONNX-modellen {path} kan inte laddas ({exc}). Ta bort filen så skapas den igen."
            raise ModelError(message) from exc

    def token_ids(self, text: str) -> list[int]:
        return self.tokenizer.encode(text)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised embeddings of ``texts`` (prompts already prepended)."""
        return self.encode_ids([self.tokenizer.encode(text) for text in texts])

    def encode_ids(self, encodings: Sequence[list[int]]) -> np.ndarray:
        """L2-normalised embeddings of texts already turned into token ids (``token_ids``)."""
        width = max(len(e) for e in encodings)
        ids = np.full((len(encodings), width), PAD_ID, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding)] = encoding
            mask[row, : len(encoding)] = 1
        (vectors,) = self.session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})
        return np.asarray(vectors, dtype=np.float32)
