"""The data and initial weights train_tf1.py and train_km.py share, so their
losses can be compared step by step."""

from __future__ import annotations

import numpy as np

BATCH = 32


def data() -> tuple[np.ndarray, np.ndarray]:
    """Regression data: y = x . w + 0.5."""
    rng = np.random.default_rng(0)
    x = rng.normal(size=(BATCH * 16, 8)).astype(np.float32)
    y = x @ rng.normal(size=(8, 1)).astype(np.float32) + 0.5
    return x, y


def initial_weights() -> tuple[np.ndarray, np.ndarray]:
    """The two weight matrices' starting values."""
    rng = np.random.default_rng(1)
    return rng.normal(size=(8, 16)).astype(np.float32) * 0.3, rng.normal(
        size=(16, 1)
    ).astype(np.float32) * 0.3
