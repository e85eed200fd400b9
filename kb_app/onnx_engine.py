"""The bundled model served by ONNX Runtime and ``tokenizers``: no PyTorch when answering.

``export_onnx`` runs once, beside the converted sentence-transformers folder (kb_app.bundled_model):
PyTorch's exporter writes the encoder with mean pooling and L2 normalisation built in, and the
export is verified against PyTorch (cosine >= 0.9999 on Swedish probe texts and identical token
ids) before it is renamed into place. ``OnnxEncoder`` then embeds with onnxruntime; it imports
neither torch nor sentence-transformers. Any other model (``KB_EMBEDDING_MODEL``) runs in
sentence-transformers as before.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from kb_app.errors import ModelError

ONNX_FILE = "model.onnx"
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


def onnx_available() -> bool:
    """True when onnxruntime can be imported."""
    try:
        import onnxruntime  # noqa: F401
    except ImportError:
        return False
    return True


def export_onnx(folder: Path) -> Path:
    """Export the converted model in ``folder`` to ONNX once, verified against PyTorch (about 15 s).

    Raises:
        ModelError: the export does not agree with PyTorch.
    """
    target = folder / ONNX_FILE
    if target.is_file():
        return target
    import torch
    from transformers import AutoModel, AutoTokenizer

    encoder = AutoModel.from_pretrained(str(folder), add_pooling_layer=False).eval()
    pooled = _pooled(torch, encoder)
    tokenizer = AutoTokenizer.from_pretrained(str(folder))
    batch = tokenizer(list(PROBES), padding=True, truncation=True, max_length=MAX_TOKENS, return_tensors="pt")
    staging = folder / f".{ONNX_FILE}.{os.getpid()}.tmp"
    try:
        with torch.no_grad():
            expected = pooled(batch["input_ids"], batch["attention_mask"]).numpy()
            torch.onnx.export(
                pooled,
                (batch["input_ids"], batch["attention_mask"]),
                str(staging),
                input_names=["input_ids", "attention_mask"],
                output_names=["embedding"],
                dynamic_axes={"input_ids": {0: "batch", 1: "tokens"}, "attention_mask": {0: "batch", 1: "tokens"}},
                opset_version=17,
                dynamo=False,
            )
        engine = OnnxEncoder(folder, model_file=staging)
        got = engine.encode(list(PROBES))
        same_ids = [engine.token_ids(t) for t in PROBES] == [tokenizer(t)["input_ids"] for t in PROBES]
        cosine = float(np.min(np.sum(got * expected, axis=1)))
        if cosine < MIN_COSINE or not same_ids:
            raise ModelError(f"ONNX-exporten stämmer inte med PyTorch (cosinus {cosine:.5f}, samma token: {same_ids}).")
        staging.replace(target)
    finally:
        staging.unlink(missing_ok=True)
    return target


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
    """Embeds texts with the exported model: ``tokenizers`` for the ids, onnxruntime for the rest."""

    def __init__(self, folder: Path, *, model_file: Path | None = None, threads: int | None = None) -> None:
        import onnxruntime as ort
        from tokenizers import Tokenizer

        self.tokenizer = Tokenizer.from_file(str(folder / "tokenizer.json"))
        self.tokenizer.enable_truncation(MAX_TOKENS)
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads or os.cpu_count() or 1
        options.inter_op_num_threads = 1
        options.log_severity_level = 3
        path = model_file or folder / ONNX_FILE
        try:
            self.session = ort.InferenceSession(str(path), options, providers=["CPUExecutionProvider"])
        except Exception as exc:  # onnxruntime raises its own classes for unreadable models
            message = f"ONNX-modellen {path} kan inte laddas ({exc}). Ta bort filen så skapas den igen."
            raise ModelError(message) from exc

    def token_ids(self, text: str) -> list[int]:
        return list(self.tokenizer.encode(text).ids)

    def encode(self, texts: Sequence[str]) -> np.ndarray:
        """L2-normalised embeddings of ``texts`` (prompts already prepended)."""
        encodings = self.tokenizer.encode_batch(list(texts))
        width = max(len(e.ids) for e in encodings)
        ids = np.full((len(encodings), width), PAD_ID, dtype=np.int64)
        mask = np.zeros((len(encodings), width), dtype=np.int64)
        for row, encoding in enumerate(encodings):
            ids[row, : len(encoding.ids)] = encoding.ids
            mask[row, : len(encoding.ids)] = 1
        (vectors,) = self.session.run(["embedding"], {"input_ids": ids, "attention_mask": mask})
        return np.asarray(vectors, dtype=np.float32)
