"""The Keras 3 twin of `tf1_graphs.conv_bn_dense`, for `--model` /
`--optimizer` (and broken variants for the error paths)."""

import keras

LEARNING_RATE = 0.01


def build_model():
    """Conv2D -> BatchNormalization -> Flatten -> Dense, as the TF1 graph."""
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Flatten(),
            keras.layers.Dense(2),
        ]
    )


def build_optimizer():
    """TF1 AdamOptimizer's settings (its epsilon is 1e-8)."""
    return keras.optimizers.Adam(learning_rate=LEARNING_RATE, epsilon=1e-8)


def build_model_with_extra_layer():
    """One more layer than the TF1 graph had."""
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Flatten(),
            keras.layers.LayerNormalization(name="extra_norm"),
            keras.layers.Dense(2),
        ]
    )


def build_model_with_wider_dense():
    """Dense(3) where the TF1 graph had 2 outputs."""
    return keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Flatten(),
            keras.layers.Dense(3),
        ]
    )


def build_unbuilt_model():
    return keras.Sequential([keras.layers.Dense(2)])


def build_raising():
    raise RuntimeError("no GPU here")


def build_nothing():
    return 42


NOT_A_FUNCTION = 3
