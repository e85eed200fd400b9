"""Small scoring models stored as JSON and served with NumPy alone.

- ``LogisticModel``: features standardised, then weighted; ``fit`` trains it (L2-regularised,
  Newton's method).
- ``TreeModel``: gradient-boosted trees exported from scikit-learn's
  ``HistGradientBoostingClassifier`` (``TreeModel.from_sklearn``), or the average of several such
  models (``TreeModel.average``); scikit-learn is needed only to train, not to serve.

The answer step (kb_app.answer) uses one to rank answer candidates and one to decide whether to
answer at all.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from kb_app.errors import ModelError


def sigmoid(logits: np.ndarray) -> np.ndarray:
    """Log-odds to probabilities."""
    result: np.ndarray = 1.0 / (1.0 + np.exp(-logits))
    return result


@dataclass(frozen=True)
class LogisticModel:
    """``sigmoid(w · (x - mean) / scale)``, with the feature names it was trained on."""

    features: tuple[str, ...]
    weights: np.ndarray
    mean: np.ndarray
    scale: np.ndarray
    threshold: float = 0.5
    meta: dict[str, Any] = field(default_factory=dict)

    def logits(self, rows: np.ndarray) -> np.ndarray:
        """The model's log-odds for each row."""
        if rows.size == 0:
            return np.zeros(len(rows))
        logits: np.ndarray = ((rows - self.mean) / self.scale) @ self.weights
        return logits

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        return sigmoid(self.logits(rows))

    def to_json(self) -> dict[str, Any]:
        return {
            "features": list(self.features),
            "weights": [round(float(w), 6) for w in self.weights],
            "mean": [round(float(m), 6) for m in self.mean],
            "scale": [round(float(s), 6) for s in self.scale],
            "threshold": round(self.threshold, 6),
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], expected: Sequence[str]) -> LogisticModel:
        """A model from its JSON form; its features must be ``expected``, in order.

        Raises:
            ModelError: the file was made for other features.
        """
        if tuple(data.get("features", ())) != tuple(expected):
            raise ModelError("Svarsmodellens egenskaper stämmer inte med koden. Träna om: python -m kb_app train")
        return cls(
            tuple(data["features"]),
            np.array(data["weights"], dtype=np.float64),
            np.array(data["mean"], dtype=np.float64),
            np.array(data["scale"], dtype=np.float64),
            float(data.get("threshold", 0.5)),
            dict(data.get("meta", {})),
        )


@dataclass(frozen=True)
class TreeModel:
    """Gradient-boosted regression trees on raw features; the log-odds are the sum of the leaves."""

    features: tuple[str, ...]
    baseline: float
    feature: np.ndarray  # per node, over all trees: the feature tested
    limit: np.ndarray  # go left when the feature is <= this
    left: np.ndarray  # child indices (absolute); a leaf points at itself
    right: np.ndarray
    value: np.ndarray  # leaf values (0 for inner nodes)
    roots: np.ndarray  # the root node of each tree
    depth: int
    threshold: float = 0.5
    meta: dict[str, Any] = field(default_factory=dict)

    def logits(self, rows: np.ndarray) -> np.ndarray:
        """Walk every tree for every row at once, one level per step."""
        if rows.size == 0:
            return np.zeros(len(rows))
        node = np.broadcast_to(self.roots, (len(rows), len(self.roots))).copy()
        index = np.arange(len(rows))[:, None]
        for _ in range(self.depth):
            go_left = rows[index, self.feature[node]] <= self.limit[node]
            node = np.where(go_left, self.left[node], self.right[node])
        logits: np.ndarray = self.baseline + self.value[node].sum(axis=1)
        return logits

    def probabilities(self, rows: np.ndarray) -> np.ndarray:
        return sigmoid(self.logits(rows))

    def to_json(self) -> dict[str, Any]:
        return {
            "type": "trees",
            "features": list(self.features),
            "baseline": float(self.baseline),
            "feature": self.feature.tolist(),
            "limit": [float(f"{v:.6g}") for v in self.limit],
            "left": self.left.tolist(),
            "right": self.right.tolist(),
            "value": [float(f"{v:.6g}") for v in self.value],
            "roots": self.roots.tolist(),
            "depth": self.depth,
            "threshold": round(self.threshold, 6),
            "meta": self.meta,
        }

    @classmethod
    def from_json(cls, data: dict[str, Any], expected: Sequence[str]) -> TreeModel:
        if tuple(data.get("features", ())) != tuple(expected):
            raise ModelError("Svarsmodellens egenskaper stämmer inte med koden. Träna om: python -m kb_app train")
        return cls(
            tuple(data["features"]),
            float(data["baseline"]),
            np.array(data["feature"], dtype=np.int64),
            np.array(data["limit"], dtype=np.float64),
            np.array(data["left"], dtype=np.int64),
            np.array(data["right"], dtype=np.int64),
            np.array(data["value"], dtype=np.float64),
            np.array(data["roots"], dtype=np.int64),
            int(data["depth"]),
            float(data.get("threshold", 0.5)),
            dict(data.get("meta", {})),
        )

    @classmethod
    def from_sklearn(cls, model: Any, features: Sequence[str]) -> TreeModel:
        """Export a fitted binary ``HistGradientBoostingClassifier`` (numeric features, no missing values)."""
        feature: list[int] = []
        left: list[int] = []
        right: list[int] = []
        roots: list[int] = []
        limit: list[float] = []
        value: list[float] = []
        depth = 0
        for (predictor,) in model._predictors:
            nodes = predictor.nodes
            offset = len(feature)
            roots.append(offset)
            for i, node in enumerate(nodes):
                leaf = bool(node["is_leaf"])
                feature.append(0 if leaf else int(node["feature_idx"]))
                limit.append(np.inf if leaf else float(node["num_threshold"]))
                left.append(offset + (i if leaf else int(node["left"])))
                right.append(offset + (i if leaf else int(node["right"])))
                value.append(float(node["value"]) if leaf else 0.0)
                depth = max(depth, int(node["depth"]))
        return cls(
            tuple(features),
            float(np.ravel(model._baseline_prediction)[0]),
            np.array(feature, dtype=np.int64),
            np.array(limit, dtype=np.float64),
            np.array(left, dtype=np.int64),
            np.array(right, dtype=np.int64),
            np.array(value, dtype=np.float64),
            np.array(roots, dtype=np.int64),
            depth,
        )

    @classmethod
    def average(cls, models: Sequence[TreeModel]) -> TreeModel:
        """One model whose log-odds are the mean of ``models``' (all trees kept, each leaf divided by
        their number): serving it costs what serving all their trees costs."""
        offsets = np.cumsum([0, *(len(m.feature) for m in models[:-1])])
        share = 1.0 / len(models)
        return cls(
            models[0].features,
            float(np.mean([m.baseline for m in models])),
            np.concatenate([m.feature for m in models]),
            np.concatenate([m.limit for m in models]),
            np.concatenate([m.left + o for m, o in zip(models, offsets, strict=True)]),
            np.concatenate([m.right + o for m, o in zip(models, offsets, strict=True)]),
            np.concatenate([m.value * share for m in models]),
            np.concatenate([m.roots + o for m, o in zip(models, offsets, strict=True)]),
            max(m.depth for m in models),
        )


Model = LogisticModel | TreeModel


def model_from_json(data: dict[str, Any], expected: Sequence[str]) -> Model:
    """Either kind of model from its JSON form."""
    if data.get("type") == "trees":
        return TreeModel.from_json(data, expected)
    return LogisticModel.from_json(data, expected)


def fit(
    features: Sequence[str],
    rows: np.ndarray,
    labels: np.ndarray,
    *,
    weights: np.ndarray | None = None,
    l2: float = 1.0,
    iterations: int = 50,
) -> LogisticModel:
    """Fit an L2-regularised logistic regression by Newton's method (the bias column is not penalised)."""
    mean = rows.mean(axis=0)
    scale = rows.std(axis=0)
    constant = scale < 1e-9
    mean[constant] = 0.0
    scale[constant] = 1.0
    x = (rows - mean) / scale
    y = labels.astype(np.float64)
    sample = np.ones(len(y)) if weights is None else weights.astype(np.float64)
    penalty = np.full(x.shape[1], l2)
    penalty[constant] = 0.0  # the bias (and any constant column) is free
    w = np.zeros(x.shape[1])
    for _ in range(iterations):
        p = 1.0 / (1.0 + np.exp(-(x @ w)))
        gradient = x.T @ (sample * (p - y)) + penalty * w
        hessian = (x * (sample * p * (1 - p))[:, None]).T @ x + np.diag(penalty + 1e-9)
        step = np.linalg.solve(hessian, gradient)
        w -= step
        if float(np.abs(step).max()) < 1e-8:
            break
    return LogisticModel(tuple(features), w, mean, scale)


def load_models(path: Path, rank_features: Sequence[str], question_features: Sequence[str]) -> tuple[Model, Model]:
    """The candidate ranker and the answer/abstain model from one JSON file.

    Raises:
        ModelError: the file is missing, unreadable or made for other features.
    """
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        return (
            model_from_json(data["ranker"], rank_features),
            model_from_json(data["abstention"], question_features),
        )
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ModelError(f"Svarsmodellen {path} kan inte läsas ({exc}). Träna om: python -m kb_app train") from exc
