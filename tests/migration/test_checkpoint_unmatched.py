"""`km-migrate checkpoint` when names do not line up: unmatched model
variables, `--allow-missing`, shape mismatches and `--map` rules.

These run km-migrate in this process (`migration.cli.main`), after other
Keras models were built: km-migrate still sees the layer names a fresh
program gives (`dense`, not `dense_7`).
"""

import types

import keras
import numpy as np
import pytest
import tensorflow as tf

from tests.migration.checkpoint_models import harness, tf1_graphs

CONV = harness.CONV_BN_DENSE
DENSE = harness.DENSE_MODELS


def _tf1_checkpoint(directory, model):
    prefix = tf1_graphs.train_and_save(str(directory), model, "adam", 3, 0.01)
    reader = tf.train.load_checkpoint(prefix)
    return types.SimpleNamespace(
        directory=directory, prefix=prefix, value=reader.get_tensor
    )


@pytest.fixture(scope="module")
def conv_tf1(tmp_path_factory):
    return _tf1_checkpoint(tmp_path_factory.mktemp("conv"), "conv_bn_dense")


@pytest.fixture(scope="module")
def flat_tf1(tmp_path_factory):
    return _tf1_checkpoint(tmp_path_factory.mktemp("flat"), "flat_names")


def _restore(out, model):
    tf.train.Checkpoint(model=model).restore(
        tf.train.latest_checkpoint(str(out))
    ).expect_partial()
    return {
        v.path.split("/", 1)[1]: v.numpy()
        for v in model.weights  # path without the model's name
    }


def _layer_path(model, index, leaf):
    return f"{model.layers[index].name}/{leaf}"


def test_extra_layer_is_unmatched_and_nothing_is_written(conv_tf1, tmp_path):
    out = tmp_path / "out"
    result = harness.run(
        "checkpoint",
        conv_tf1.directory,
        "--model",
        f"{CONV}:build_model_with_extra_layer",
        "--out",
        out,
    )
    assert result.code == 1, result.out + result.err
    by_path = result.rows_by_tf2_path()
    unmatched = {
        path
        for path, row in by_path.items()
        if row[0] == "unmatched model variable"
    }
    assert {p.split("/", 1)[1] for p in unmatched} == {
        "extra_norm/gamma",
        "extra_norm/beta",
    }
    assert "the TF1 checkpoint has no `layer_normalization` scope" in result.out
    assert "Nothing was written" in result.out
    assert "extra_norm/gamma" in result.out.split("Nothing was written")[0]
    matched = [row for row in result.rows() if row[0] == "matched"]
    assert len(matched) == 9  # 8 weights and the global step
    # No --optimizer: the Adam slots are listed, not converted.
    slot = result.rows_by_tf1_name()["dense/kernel/Adam"]
    assert slot[0] == "not converted (checkpoint only)"
    assert "no `--optimizer` given" in slot[4]
    assert (
        "warning: The TF1 checkpoint holds 12 optimizer slot(s)" in result.out
    )
    assert not out.exists()
    assert harness.files_under(tmp_path) == []


def test_allow_missing_writes_and_lists_what_keeps_initial_values(
    conv_tf1, tmp_path
):
    out = tmp_path / "out"
    result = harness.run(
        "checkpoint",
        conv_tf1.directory,
        "--model",
        f"{CONV}:build_model_with_extra_layer",
        "--out",
        out,
        "--allow-missing",
    )
    assert result.code == 0, result.out + result.err
    assert "--allow-missing: 2 model variable(s) keep their initial values" in (
        result.out
    )
    statuses = [row[0] for row in result.rows()]
    assert statuses.count("unmatched model variable") == 2
    assert "verified 9 values" in result.out  # 8 weights and the step
    model = keras.Sequential(
        [
            keras.Input((8, 8, 3)),
            keras.layers.Conv2D(4, 3, activation="relu"),
            keras.layers.BatchNormalization(),
            keras.layers.Flatten(),
            keras.layers.LayerNormalization(),
            keras.layers.Dense(2),
        ]
    )
    restored = _restore(out, model)
    np.testing.assert_array_equal(
        restored[_layer_path(model, 0, "kernel")],
        conv_tf1.value("conv2d/kernel"),
    )
    np.testing.assert_array_equal(
        restored[_layer_path(model, 1, "moving_variance")],
        conv_tf1.value("batch_normalization/moving_variance"),
    )
    np.testing.assert_array_equal(
        restored[_layer_path(model, 3, "gamma")], np.ones(144, np.float32)
    )


@pytest.mark.parametrize("allow_missing", [False, True])
def test_shape_mismatch_is_listed_and_not_converted(
    conv_tf1, tmp_path, allow_missing
):
    out = tmp_path / "out"
    result = harness.run(
        "checkpoint",
        conv_tf1.directory,
        "--model",
        f"{CONV}:build_model_with_wider_dense",
        "--out",
        out,
        *(["--allow-missing"] if allow_missing else []),
    )
    assert result.code == (0 if allow_missing else 1), result.out + result.err
    rows = result.rows_by_tf1_name()
    assert rows["dense/kernel"][0] == "shape-mismatch"
    assert rows["dense/kernel"][3] == "(144, 2)"
    assert "model shape (144, 3)" in rows["dense/kernel"][4]
    assert rows["dense/bias"][0] == "shape-mismatch"
    assert rows["conv2d/kernel"][0] == "matched"
    assert "model variables: 6 of 8 converted" in result.out
    if not allow_missing:
        assert not out.exists()
        return
    assert "verified 7 values" in result.out  # 6 weights and the step
    reader = tf.train.load_checkpoint(str(out))
    written = [
        reader.get_tensor(key)
        for key, shape in reader.get_variable_to_shape_map().items()
        if shape == [144, 3]
    ]
    assert len(written) == 1  # the model's own initial kernel, not TF1's


def test_map_rules_rename_tf1_names_and_their_slots_follow(flat_tf1, tmp_path):
    out = tmp_path / "out"
    result = harness.run(
        "checkpoint",
        flat_tf1.directory,
        "--model",
        f"{DENSE}:build_named_dense",
        "--optimizer",
        f"{DENSE}:build_adam",
        "--map",
        "^w1$=dense/kernel",
        "--map",
        "^b1$=dense/bias",
        "--out",
        out,
    )
    assert result.code == 0, result.out + result.err
    rows = result.rows_by_tf1_name()
    assert rows["w1"][:3] == ("matched", "w1", "mapped/dense/kernel")
    assert rows["w1"][4] == "--map ^w1$=dense/kernel"
    assert rows["b1"][:3] == ("matched", "b1", "mapped/dense/bias")
    assert rows["w1/Adam"][2] == "adam/mapped_dense_kernel_momentum"
    assert rows["b1/Adam_1"][2] == "adam/mapped_dense_bias_velocity"
    assert "iterations = 3" in rows["beta1_power"][4]
    model = keras.Sequential(
        [keras.Input((16,)), keras.layers.Dense(2, name="dense")]
    )
    restored = _restore(out, model)
    np.testing.assert_array_equal(
        restored["dense/kernel"], flat_tf1.value("w1")
    )
    np.testing.assert_array_equal(restored["dense/bias"], flat_tf1.value("b1"))


def test_without_map_rules_flat_names_are_unmatched(flat_tf1, tmp_path):
    result = harness.run(
        "checkpoint",
        flat_tf1.directory,
        "--model",
        f"{DENSE}:build_named_dense",
        "--optimizer",
        f"{DENSE}:build_adam",
        "--out",
        tmp_path / "out",
    )
    assert result.code == 1
    rows = result.rows_by_tf1_name()
    assert rows["w1"][0] == "not converted (checkpoint only)"
    assert rows["w1/Adam"][0] == "not converted (checkpoint only)"
    assert "its variable `w1` is not converted" in rows["w1/Adam"][4]
    by_path = result.rows_by_tf2_path()
    assert by_path["mapped/dense/kernel"][0] == "unmatched model variable"
    assert harness.files_under(tmp_path) == []


def test_verification_failure_exits_1_and_writes_nothing(flat_tf1, tmp_path):
    result = harness.run(
        "checkpoint",
        flat_tf1.prefix,
        "--model",
        "tests.migration.checkpoint_models.changing_model:build",
        "--map",
        "^w1$=dense/kernel",
        "--map",
        "^b1$=dense/bias",
        "--out",
        tmp_path / "out",
    )
    assert result.code == 1, result.out + result.err
    assert "verification FAILED (nothing was written)" in result.out
    assert "could not restore the new checkpoint into a second model" in (
        result.out
    )
    assert harness.files_under(tmp_path) == []  # no output, no staging


def test_a_tf_module_is_matched_by_variable_names(flat_tf1, tmp_path):
    out = tmp_path / "out"
    result = harness.run(
        "checkpoint",
        flat_tf1.prefix,
        "--model",
        f"{DENSE}:build_module",
        "--optimizer",
        f"{DENSE}:build_adam",
        "--out",
        out,
    )
    assert result.code == 0, result.out + result.err
    rows = result.rows_by_tf1_name()
    assert rows["w1"][:3] == ("matched", "w1", "linear/w1")
    assert rows["w1/Adam_1"][:3] == (
        "matched",
        "w1/Adam_1",
        "adam/linear_w1_0_velocity",
    )
    module = harness.load_fixture(DENSE, "build_module")()
    tf.train.Checkpoint(model=module).restore(
        tf.train.latest_checkpoint(str(out))
    ).expect_partial()
    np.testing.assert_array_equal(module.w.numpy(), flat_tf1.value("w1"))


def test_no_tf1_global_step_starts_at_0_with_a_note(tmp_path):
    prefix = str(tmp_path / "tf1" / "model.ckpt")
    with tf.Graph().as_default():
        tf.compat.v1.get_variable(
            "w1", initializer=np.full((16, 2), 3.0, np.float32)
        )
        tf.compat.v1.get_variable("b1", initializer=np.ones(2, np.float32))
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().save(session, prefix)
    out = tmp_path / "out"
    result = harness.run(
        "checkpoint",
        prefix,
        "--model",
        f"{DENSE}:build_module",
        "--out",
        out,
    )
    assert result.code == 0, result.out + result.err
    assert result.rows_by_tf2_path()["global_step"][:2] == ("derived", "-")
    assert "no usable `global_step`" in result.out
    assert "warning:" in result.out
    assert tf.train.latest_checkpoint(str(out)).endswith("model.ckpt-0")
    step = tf.train.load_checkpoint(str(out)).get_tensor(
        "global_step/.ATTRIBUTES/VARIABLE_VALUE"
    )
    assert step == 0
