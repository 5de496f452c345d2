"""Keras-side pieces of the conversion on real tiny Keras objects: slot
lookup, `optimizer.iterations` from Adam's beta powers, the model's
variables, and fresh layer names for `--model` functions."""

import keras
import numpy as np
import pytest

from migration.checkpoint import model_loader, model_variables, optimizer_slots
from migration.checkpoint.matching import CheckpointEntry
from migration.checkpoint.tf1_names import Slot
from tests.migration.checkpoint_models import harness


def _model():
    return keras.Sequential(
        [keras.Input((3,)), keras.layers.Dense(2, name="d")], name="m"
    )


def _slot(name, suffix, shape):
    entry = CheckpointEntry(f"{name}/{suffix}", shape, "float32")
    return Slot(entry, name, suffix)


def _tf1_power(beta, steps):
    """What TF1 stores after `steps` steps: beta^(steps+1), in float32."""
    power = np.float32(beta)
    for _ in range(steps):
        power = np.float32(power * np.float32(beta))
    return float(power)


@pytest.mark.parametrize("steps", [0, 1, 500])
def test_iterations_from_beta1_power(steps):
    optimizer = keras.optimizers.Adam()
    powers = {
        1: ("beta1_power", _tf1_power(0.9, steps)),
        2: ("beta2_power", _tf1_power(0.999, steps)),
    }
    found = optimizer_slots.plan_iterations(optimizer, powers, global_step=123)
    assert (found.value, found.source, found.warning) == (
        steps,
        "beta1_power",
        None,
    )


@pytest.mark.parametrize("steps", [3000, 20_000])
def test_iterations_from_beta2_power_once_beta1_power_underflowed(steps):
    optimizer = keras.optimizers.Adam()
    powers = {
        1: ("beta1_power", _tf1_power(0.9, steps)),
        2: ("beta2_power", _tf1_power(0.999, steps)),
    }
    assert powers[1][1] < np.finfo(np.float32).tiny  # no digits left
    found = optimizer_slots.plan_iterations(optimizer, powers, global_step=0)
    assert (found.value, found.source) == (steps, "beta2_power")


def test_other_betas_fall_back_to_the_global_step_with_a_warning():
    optimizer = keras.optimizers.Adam(beta_1=0.8, beta_2=0.99)
    powers = {
        1: ("beta1_power", _tf1_power(0.9, 50)),
        2: ("beta2_power", _tf1_power(0.999, 50)),
    }
    found = optimizer_slots.plan_iterations(optimizer, powers, global_step=50)
    assert found.value == 50
    assert "give no whole step count" in found.warning
    assert "beta_1=0.8" in found.warning


def test_without_adam_iterations_is_the_global_step():
    found = optimizer_slots.plan_iterations(
        keras.optimizers.SGD(), {1: ("beta1_power", 0.5)}, global_step=7
    )
    assert (found.value, found.source) == (7, "the global step")
    assert found.notes == {
        "beta1_power": (False, "`--optimizer` is SGD, not Adam")
    }


def test_slots_found_by_public_name_and_refusals_say_why():
    model = _model()
    kernel, bias = model.trainable_variables
    optimizer = keras.optimizers.SGD(learning_rate=0.5, momentum=0.9)
    optimizer.build(model.trainable_variables)
    targets, refusals = optimizer_slots.plan_slots(
        optimizer,
        [
            _slot("dense/kernel", "Momentum", (3, 2)),
            _slot("dense/bias", "Momentum", (2,)),
            _slot("dense/kernel", "ExponentialMovingAverage", (3, 2)),
            _slot("dense/kernel", "Adam", (3, 2)),
        ],
        {"dense/kernel": kernel},  # dense/bias was not converted
    )
    (target,) = targets
    assert target.path.endswith("/m_d_kernel_momentum")  # sgd_N/...
    assert optimizer.variables[target.index].path == target.path
    assert target.scale == -0.5
    reasons = {
        (r.slot.variable_name, r.slot.suffix): r.reason for r in refusals
    }
    assert reasons == {
        (
            "dense/bias",
            "Momentum",
        ): "its variable `dense/bias` is not converted",
        ("dense/kernel", "ExponentialMovingAverage"): (
            "unknown slot kind `ExponentialMovingAverage`"
        ),
        ("dense/kernel", "Adam"): (
            "a TF1 AdamOptimizer slot; `--optimizer` is SGD, not Adam"
        ),
    }
    assert bias is not None


def test_sgd_without_momentum_has_no_momentum_slot():
    model = _model()
    optimizer = keras.optimizers.SGD()
    optimizer.build(model.trainable_variables)
    targets, (refusal,) = optimizer_slots.plan_slots(
        optimizer,
        [_slot("dense/kernel", "Momentum", (3, 2))],
        {"dense/kernel": model.trainable_variables[0]},
    )
    assert targets == []
    assert "has no `momentum` slot" in refusal.reason


def test_describe_names_owner_layers_of_nested_models():
    inner = keras.Sequential(
        [keras.Input((4,)), keras.layers.Dense(4, name="a")], name="inner"
    )
    model = keras.Sequential(
        [
            keras.Input((4,)),
            inner,
            keras.layers.BatchNormalization(name="bn"),
        ],
        name="outer",
    )
    described = {v.path: v for v in model_variables.describe(model)}
    assert described["inner/a/kernel"].layer_class == "Dense"
    assert described["outer/bn/moving_mean"].layer_class == "BatchNormalization"
    assert described["outer/bn/moving_mean"].name == "bn/moving_mean"
    assert not described["outer/bn/moving_mean"].trainable
    assert described["outer/bn/gamma"].trainable


def test_model_functions_get_the_layer_names_of_a_fresh_program():
    earlier = keras.layers.Dense(1)  # `dense`, or `dense_N` in this process
    model = model_loader.load_model(f"{harness.CONV_BN_DENSE}:build_model")
    assert [layer.name for layer in model.layers] == [
        "conv2d",
        "batch_normalization",
        "flatten",
        "dense",
    ]
    later = keras.layers.Dense(1)
    assert later.name not in (earlier.name, "dense")  # still unique
