"""A `--model` (as `package.module:FUNCTION`) whose second call builds
another model: the conversion's verification must catch it."""

import keras

CALLS = []


def build():
    CALLS.append(1)
    width = 2 if len(CALLS) % 2 else 3  # every other call: another shape
    return keras.Sequential(
        [keras.Input((16,)), keras.layers.Dense(width, name="dense")],
        name="changing",
    )
