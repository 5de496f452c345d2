"""TF1 MomentumOptimizer -> Keras 3 SGD(momentum): the slot is rescaled
(`-learning_rate * accum`) and the next step equals TF1's next step."""

import numpy as np
import tensorflow as tf

from tests.migration.checkpoint_models import harness, tf1_graphs
from tests.migration.checkpoint_models.dense_models import (
    MOMENTUM_LEARNING_RATE as LR,
)

MODEL = "dense_stack"
STEPS = 20
# Keras weights in `model.weights` order, by TF1 name.
TF1_NAMES = ("dense/kernel", "dense/bias", "dense_1/kernel", "dense_1/bias")


def _load(name):
    return harness.load_fixture(harness.DENSE_MODELS, name)


def test_momentum_slots_rescaled_and_next_step_equals_tf1(tmp_path):
    prefix = tf1_graphs.train_and_save(
        str(tmp_path / "tf1"), MODEL, "momentum", STEPS, LR
    )
    x, y = tf1_graphs.batch(MODEL, seed=99)
    program = tf1_graphs.restore(prefix, MODEL, "momentum", LR)
    try:
        saved = program.values()
        program.step(x, y)
        after_one_step = program.values()
    finally:
        program.close()

    out = tmp_path / "tf2"
    result = harness.run(
        "checkpoint",
        prefix,
        "--model",
        f"{harness.DENSE_MODELS}:build_dense_stack",
        "--optimizer",
        f"{harness.DENSE_MODELS}:build_momentum",
        "--out",
        out,
    )
    assert result.code == 0, result.out + result.err
    rows = result.rows_by_tf1_name()
    assert rows["dense_1/kernel"][2] == "sequential/logits/kernel"
    assert rows["dense_1/kernel"][4] == "layer order (2nd `dense`)"
    slot = rows["dense/kernel/Momentum"]
    assert slot[:3] == (
        "matched",
        "dense/kernel/Momentum",
        "sgd/sequential_hidden_kernel_momentum",
    )
    assert "-learning_rate * accum" in slot[4]
    assert "iterations = 20 (from the global step)" in result.out
    assert "verified 10 values" in result.out  # 4 + 4 slots, step, iterations

    model, optimizer = _load("build_dense_stack")(), _load("build_momentum")()
    optimizer.build(model.trainable_variables)
    tf.train.Checkpoint(model=model, optimizer=optimizer).restore(
        tf.train.latest_checkpoint(str(out))
    ).expect_partial()
    assert int(optimizer.iterations.numpy()) == STEPS
    for variable, name in zip(model.trainable_variables, TF1_NAMES):
        momentum = optimizer.variables[
            [v.name for v in optimizer.variables].index(
                variable.path.replace("/", "_") + "_momentum"
            )
        ]
        accum = saved[name + "/Momentum"]
        np.testing.assert_array_equal(
            momentum.numpy(), accum * np.float32(-LR), err_msg=name
        )

    with tf.GradientTape() as tape:
        loss = tf.reduce_mean(tf.square(model(x) - y))
    grads = tape.gradient(loss, model.trainable_variables)
    optimizer.apply_gradients(zip(grads, model.trainable_variables))
    for variable, name in zip(model.weights, TF1_NAMES):
        np.testing.assert_allclose(
            variable.numpy(),
            after_one_step[name],
            rtol=1e-4,
            atol=1e-6,
            err_msg=name,
        )
    assert not np.allclose(
        after_one_step["dense/kernel"], saved["dense/kernel"]
    )
