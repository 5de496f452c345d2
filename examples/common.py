"""What the example binaries share: the synthetic data, the model and a
fingerprint of its weights (no flags: importing this defines none)."""

from __future__ import annotations

import hashlib

import keras
import numpy as np
import tensorflow as tf

NUM_FEATURES = 8


def synthetic_dataset(batch_size: int, seed: int = 0) -> tf.data.Dataset:
    """An endless stream of (x, y) with y = x . w + 0.5 + noise."""
    rng = np.random.default_rng(seed)
    true_weights = rng.normal(size=(NUM_FEATURES, 1)).astype(np.float32)
    x = rng.normal(size=(4096, NUM_FEATURES)).astype(np.float32)
    y = (
        x @ true_weights
        + 0.5
        + 0.01 * rng.normal(size=(4096, 1)).astype(np.float32)
    )
    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .repeat()
        .batch(batch_size, drop_remainder=True)
    )


def build_model() -> keras.Model:
    """The model the example trains (built, so checkpoints restore at once)."""
    return keras.Sequential(
        [
            keras.Input(shape=(NUM_FEATURES,)),
            keras.layers.Dense(16, activation="relu"),
            keras.layers.Dense(1),
        ]
    )


def weights_digest(model: keras.Model) -> str:
    """A short fingerprint of the model's weights."""
    digest = hashlib.sha256()
    for weight in model.get_weights():
        digest.update(np.ascontiguousarray(weight).tobytes())
    return digest.hexdigest()[:16]
