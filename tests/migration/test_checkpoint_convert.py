"""`km-migrate checkpoint` end to end: a TF1 Adam checkpoint trained to step
500 becomes a Keras 3 checkpoint that predicts, resumes in a km session and
takes the same next step as TF1 would; `km-migrate inspect` lists both."""

import importlib.util
import os
import shutil
import types

import numpy as np
import pytest
import tensorflow as tf

import keras_monitored as km
from tests.migration.checkpoint_models import harness, tf1_graphs

STEPS = 500
MODEL = "conv_bn_dense"
# The Keras model's weights, in `model.weights` order, by TF1 name.
TF1_NAMES = (
    "conv2d/kernel",
    "conv2d/bias",
    "batch_normalization/gamma",
    "batch_normalization/beta",
    "batch_normalization/moving_mean",
    "batch_normalization/moving_variance",
    "dense/kernel",
    "dense/bias",
)


def _fixture_module():
    spec = importlib.util.spec_from_file_location(
        "conv_bn_dense_fixture", harness.CONV_BN_DENSE
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


KERAS = _fixture_module()


@pytest.fixture(scope="module")
def tf1(tmp_path_factory):
    """A TF1 program trained to step 500, then what it does next."""
    directory = tmp_path_factory.mktemp("tf1")
    prefix = tf1_graphs.train_and_save(
        str(directory), MODEL, "adam", STEPS, KERAS.LEARNING_RATE
    )
    x_eval, _ = tf1_graphs.batch(MODEL, seed=10_000)
    x, y = tf1_graphs.batch(MODEL, seed=20_000)
    program = tf1_graphs.restore(prefix, MODEL, "adam", KERAS.LEARNING_RATE)
    try:
        saved = program.values()
        predictions = program.predict(x_eval)
        program.step(x, y)
        after_one_step = program.values()
    finally:
        program.close()
    return types.SimpleNamespace(
        directory=directory,
        prefix=prefix,
        saved=saved,
        x_eval=x_eval,
        predictions=predictions,
        x=x,
        y=y,
        after_one_step=after_one_step,
    )


@pytest.fixture(scope="module")
def converted(tf1, tmp_path_factory):
    """`python -m migration checkpoint` on the TF1 directory."""
    out = tmp_path_factory.mktemp("converted") / "tf2"
    result = harness.run_subprocess(
        "checkpoint",
        tf1.directory,
        "--model",
        f"{harness.CONV_BN_DENSE}:build_model",
        "--optimizer",
        f"{harness.CONV_BN_DENSE}:build_optimizer",
        "--out",
        out,
    )
    return types.SimpleNamespace(out=out, result=result)


def test_every_variable_matched_written_and_verified(tf1, converted):
    result = converted.result
    assert result.code == 0, result.out + result.err
    rows = result.rows_by_tf1_name()
    tf1_entries = tf.train.load_checkpoint(
        tf1.prefix
    ).get_variable_to_shape_map()
    assert set(rows) == set(tf1_entries)
    for name in TF1_NAMES:
        assert rows[name][0] == "matched", rows[name]
        assert rows[name][2].endswith(name), rows[name]
    for name in TF1_NAMES:
        if "moving" not in name:
            assert rows[name + "/Adam"][0] == "matched"
            assert rows[name + "/Adam"][2].endswith("_momentum")
            assert rows[name + "/Adam_1"][2].endswith("_velocity")
    assert rows["global_step"][:3] == ("matched", "global_step", "global_step")
    assert rows["beta1_power"][0] == "derived"
    assert "iterations = 500" in rows["beta1_power"][4]
    statuses = {row[0] for row in result.rows()}
    assert statuses == {"matched", "derived"}
    # 8 weights, 12 Adam slots, the global step and optimizer.iterations.
    assert "verified 22 values" in result.out
    assert "from `--optimizer`, not from the TF1 checkpoint" in result.out
    assert "km.Scaffold(checkpoint=checkpoint)" in result.out
    assert harness.files_under(converted.out) == [
        "checkpoint",
        "model.ckpt-500.data-00000-of-00001",
        "model.ckpt-500.index",
    ]
    assert os.listdir(converted.out.parent) == ["tf2"]  # no staging left


def test_restored_model_predicts_like_the_tf1_graph(tf1, converted):
    model = KERAS.build_model()
    tf.train.Checkpoint(model=model).restore(
        tf.train.latest_checkpoint(str(converted.out))
    ).expect_partial()
    for variable, name in zip(model.weights, TF1_NAMES):
        np.testing.assert_array_equal(variable.numpy(), tf1.saved[name])
    predictions = model(tf1.x_eval, training=False).numpy()
    np.testing.assert_allclose(predictions, tf1.predictions, rtol=1e-5)


def test_km_session_resumes_and_steps_like_tf1(tf1, converted, tmp_path):
    checkpoint_dir = tmp_path / "run"
    shutil.copytree(converted.out, checkpoint_dir)
    model, optimizer = KERAS.build_model(), KERAS.build_optimizer()

    def train_step(x, y):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(tf.square(model(x, training=True) - y))
        grads = tape.gradient(loss, model.trainable_variables)
        optimizer.apply_gradients(zip(grads, model.trainable_variables))
        return {"loss": loss}

    with km.MonitoredTrainingSession(
        checkpoint_dir=str(checkpoint_dir),
        scaffold=km.Scaffold(
            checkpoint=tf.train.Checkpoint(model=model, optimizer=optimizer)
        ),
        save_checkpoint_steps=1000,
        save_summaries_steps=None,
        log_step_count_steps=None,
    ) as sess:
        start_step = int(sess.run("global_step"))
        start_iterations = int(optimizer.iterations.numpy())
        sess.run(train_step, feed_dict={"x": tf1.x, "y": tf1.y})
        end_step = int(sess.run("global_step"))

    assert (start_step, start_iterations) == (STEPS, STEPS)
    assert (end_step, int(optimizer.iterations.numpy())) == (STEPS + 1,) * 2
    for variable, name in zip(model.weights, TF1_NAMES):
        np.testing.assert_allclose(
            variable.numpy(),
            tf1.after_one_step[name],
            rtol=1e-4,
            atol=1e-6,
            err_msg=name,
        )
    # The step really moved the weights (the comparison is not vacuous).
    assert not np.allclose(
        tf1.after_one_step["dense/kernel"], tf1.saved["dense/kernel"]
    )


@pytest.mark.parametrize("form", ["prefix", "directory"])
def test_inspect_lists_the_tf1_checkpoint(tf1, form):
    path = tf1.prefix if form == "prefix" else tf1.directory
    result = harness.run("inspect", path)
    assert result.code == 0, result.err
    assert "format: TF1 name-based" in result.out
    lines = result.out.splitlines()
    assert any(
        line.split() == ["conv2d/kernel", "[3,", "3,", "3,", "4]", "float32"]
        for line in lines
    )
    assert any(line.split() == ["global_step", "[]", "int64"] for line in lines)
    assert any(
        line.split() == ["dense/kernel/Adam_1", "[144,", "2]", "float32"]
        for line in lines
    )
    assert "23 variables" in result.out


@pytest.mark.parametrize("form", ["prefix", "directory"])
def test_inspect_lists_the_converted_checkpoint(converted, form):
    prefix = tf.train.latest_checkpoint(str(converted.out))
    result = harness.run(
        "inspect", prefix if form == "prefix" else converted.out
    )
    assert result.code == 0, result.err
    assert "format: TF2 object-based" in result.out
    assert "_CHECKPOINTABLE_OBJECT_GRAPH" not in result.out
    stored = tf.train.load_checkpoint(prefix).get_variable_to_dtype_map()
    lines = result.out.splitlines()
    for key, dtype in stored.items():
        if key != "_CHECKPOINTABLE_OBJECT_GRAPH":
            assert any(
                line.startswith(key + " ") and line.endswith(dtype.name)
                for line in lines
            ), key
    assert any(
        line.split()
        == ["global_step/.ATTRIBUTES/VARIABLE_VALUE", "[]", "int64"]
        for line in lines
    )
    assert f"{len(stored) - 1} variables" in result.out


def test_inspect_missing_path_is_a_usage_error(tmp_path):
    result = harness.run("inspect", tmp_path / "nothing" / "model.ckpt-1")
    assert result.code == 2
    assert "`CKPT`" in result.err and "nothing" in result.err
