"""Small pieces of retrieval that need no index."""

from __future__ import annotations

import numpy as np
import pytest

from kb_app.retrieval import top_stable


@pytest.mark.parametrize("n", [1, 5, 37, 200, 999, 5000])
def test_top_stable_equals_a_stable_full_sort(n: int) -> None:
    rng = np.random.default_rng(n)
    scores = np.round(rng.normal(size=1000), 1)  # many ties
    scores[rng.integers(0, 1000, 50)] = 0.0
    scores[rng.integers(0, 1000, 20)] = -np.inf  # filtered out by a mask
    assert np.array_equal(top_stable(scores, n), np.argsort(-scores, kind="stable")[:n])
