"""The three benchmark workloads (W1, W2, W3): a Keras model, its data and
a train step, built the same way for every system that runs them.

- W1: a tiny MLP (32 -> Dense(64) -> Dense(1)), batch 32: overhead-bound,
  so what a system adds per step shows.
- W2: a compute-bound MLP (512 -> 3 x Dense(512) -> Dense(10)), batch 256.
- W3: a small conv net (28x28x1 -> Conv(16) -> Conv(32) -> MaxPool ->
  Dense(10)), batch 64.

Every workload regresses random targets with mean squared error and plain
SGD, so TF1's graph-mode twin (`tf1_session.py`) computes the same ops.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Callable

import keras
import numpy as np
import tensorflow as tf

# Distinct batches in each dataset (it repeats).
_BATCHES = 16


@dataclasses.dataclass(frozen=True)
class Workload:
    """What one workload trains.

    Attributes:
      name: "W1", "W2" or "W3".
      description: one line for the docs.
      batch_size: examples per step.
      input_shape: one example's shape.
      outputs: the model's output width.
      layers: the Keras layers after the input, as a factory.
    """

    name: str
    description: str
    batch_size: int
    input_shape: tuple[int, ...]
    outputs: int
    layers: Callable[[], list[keras.layers.Layer]]


def _w1_layers() -> list[keras.layers.Layer]:
    return [keras.layers.Dense(64, activation="relu"), keras.layers.Dense(1)]


def _w2_layers() -> list[keras.layers.Layer]:
    return [keras.layers.Dense(512, activation="relu") for _ in range(3)] + [
        keras.layers.Dense(10)
    ]


def _w3_layers() -> list[keras.layers.Layer]:
    return [
        keras.layers.Conv2D(16, 3, activation="relu"),
        keras.layers.Conv2D(32, 3, activation="relu"),
        keras.layers.MaxPooling2D(2),
        keras.layers.Flatten(),
        keras.layers.Dense(10),
    ]


WORKLOADS: dict[str, Workload] = {
    w.name: w
    for w in (
        Workload(
            "W1",
            "tiny MLP 32-64-1, batch 32 (overhead-bound)",
            32,
            (32,),
            1,
            _w1_layers,
        ),
        Workload(
            "W2",
            "MLP 512-3x512-10, batch 256 (compute-bound)",
            256,
            (512,),
            10,
            _w2_layers,
        ),
        Workload(
            "W3",
            "conv net 28x28x1, Conv16-Conv32-MaxPool-Dense10, batch 64",
            64,
            (28, 28, 1),
            10,
            _w3_layers,
        ),
    )
}


def arrays(workload: Workload) -> tuple[np.ndarray, np.ndarray]:
    """The workload's inputs and targets (seeded; `_BATCHES` batches)."""
    rng = np.random.default_rng(0)
    count = workload.batch_size * _BATCHES
    x = rng.normal(size=(count, *workload.input_shape)).astype("float32")
    y = rng.normal(size=(count, workload.outputs)).astype("float32")
    return x, y


def dataset(workload: Workload) -> tf.data.Dataset:
    """Repeating batches of the workload's data, 16 prefetched."""
    x, y = arrays(workload)
    # A fixed pipeline: no autotuning thread retuning it mid-measurement
    # (whose shutdown can also hang when many iterators are freed at once).
    options = tf.data.Options()
    options.autotune.enabled = False
    return (
        tf.data.Dataset.from_tensor_slices((x, y))
        .batch(workload.batch_size, drop_remainder=True)
        .repeat()
        .prefetch(16)
        .with_options(options)
    )


def model(workload: Workload) -> keras.Model:
    """A freshly initialised (seeded) Keras model for the workload."""
    keras.utils.set_random_seed(0)
    return keras.Sequential(
        [keras.Input(workload.input_shape), *workload.layers()]
    )


@dataclasses.dataclass
class Training:
    """One system's copy of a workload: model, optimizer, input, step.

    Attributes:
      model: the Keras model.
      optimizer: SGD(0.01), built for the model's variables.
      iterator: a `tf.data` iterator over `dataset(workload)`.
      train_step: `train_step(batch) -> {"loss": loss}`, not compiled.
    """

    model: keras.Model
    optimizer: keras.optimizers.Optimizer
    iterator: Any
    train_step: Callable[[Any], dict[str, tf.Tensor]]


def training(workload: Workload) -> Training:
    """Builds a fresh model, optimizer, iterator and train step."""
    net = model(workload)
    optimizer = keras.optimizers.SGD(0.01)
    optimizer.build(net.trainable_variables)

    def train_step(batch):
        xb, yb = batch
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean((net(xb, training=True) - yb) ** 2)
        grads = tape.gradient(loss, net.trainable_variables)
        optimizer.apply_gradients(zip(grads, net.trainable_variables))
        return {"loss": loss}

    return Training(net, optimizer, iter(dataset(workload)), train_step)


def compiled_model(workload: Workload, steps_per_execution: int) -> keras.Model:
    """A model compiled for `fit` with the same loss and optimizer."""
    net = model(workload)
    net.compile(
        optimizer=keras.optimizers.SGD(0.01),
        loss="mse",
        steps_per_execution=steps_per_execution,
    )
    return net
