"""Name matching and TF1 name sorting on plain data (no TensorFlow objects)."""

import pytest

from migration.checkpoint.map_rules import MapRule
from migration.checkpoint.matching import (
    CheckpointEntry,
    ModelVariable,
    match_model_variables,
    snake_case,
    split_scope,
)
from migration.checkpoint.tf1_names import classify, slot_kind
from migration.errors import UsageError


def entry(name, shape=(2,)):
    return CheckpointEntry(name, tuple(shape), "float32")


def keras_vars(model, layers):
    """ModelVariables for `layers`: [(layer name, class, {leaf: shape})]."""
    found = []
    for layer, layer_class, leaves in layers:
        for leaf, shape in leaves.items():
            path = f"{model}/{layer}/{leaf}"
            found.append(
                ModelVariable(
                    index=len(found),
                    path=path,
                    name=path[len(model) + 1 :],
                    shape=tuple(shape),
                    dtype="float32",
                    layer=f"{model}/{layer}",
                    layer_class=layer_class,
                )
            )
    return found


def pairs(result):
    return {m.entry.name: m.variable.path for m in result.matches}


@pytest.mark.parametrize(
    "class_name, key",
    [
        ("Dense", "dense"),
        ("Conv2D", "conv2d"),
        ("BatchNormalization", "batch_normalization"),
        ("Conv2DTranspose", "conv2d_transpose"),
        ("LayerNormalization", "layer_normalization"),
    ],
)
def test_snake_case_is_the_tf1_and_keras_layer_name(class_name, key):
    assert snake_case(class_name) == key


@pytest.mark.parametrize(
    "scope, parsed",
    [
        ("dense", ("dense", 0)),
        ("dense_2", ("dense", 2)),
        ("batch_normalization_1", ("batch_normalization", 1)),
        ("conv2d", ("conv2d", 0)),
    ],
)
def test_split_scope(scope, parsed):
    assert split_scope(scope) == parsed


def test_exact_names_match_without_the_model_name():
    variables = keras_vars(
        "sequential",
        [("dense", "Dense", {"kernel": (3, 2), "bias": (2,)})],
    )
    result = match_model_variables(
        [entry("dense/kernel", (3, 2)), entry("dense/bias")], variables
    )
    assert pairs(result) == {
        "dense/kernel": "sequential/dense/kernel",
        "dense/bias": "sequential/dense/bias",
    }
    assert {m.rule for m in result.matches} == {"name"}
    assert result.unmatched_variables == result.unmatched_entries == []


def test_a_common_tf1_outer_scope_is_taken_off():
    variables = keras_vars(
        "sequential",
        [("dense", "Dense", {"kernel": (3, 2), "bias": (2,)})],
    )
    result = match_model_variables(
        [entry("tower/dense/kernel", (3, 2)), entry("tower/dense/bias")],
        variables,
    )
    assert pairs(result) == {
        "tower/dense/kernel": "sequential/dense/kernel",
        "tower/dense/bias": "sequential/dense/bias",
    }
    assert {m.rule for m in result.matches} == {"name under `tower/`"}


def test_layer_order_matches_the_kth_scope_to_the_kth_layer():
    variables = keras_vars(
        "model",
        [
            ("conv_a", "Conv2D", {"kernel": (3, 3, 3, 4), "bias": (4,)}),
            ("bn", "BatchNormalization", {"gamma": (4,), "moving_mean": (4,)}),
            ("conv_b", "Conv2D", {"kernel": (3, 3, 4, 4), "bias": (4,)}),
        ],
    )
    entries = [
        entry("conv2d/kernel", (3, 3, 3, 4)),
        entry("conv2d/bias", (4,)),
        entry("conv2d_1/kernel", (3, 3, 4, 4)),
        entry("conv2d_1/bias", (4,)),
        entry("batch_normalization/gamma", (4,)),
        entry("batch_normalization/moving_mean", (4,)),
    ]
    result = match_model_variables(entries, variables)
    assert pairs(result) == {
        "conv2d/kernel": "model/conv_a/kernel",
        "conv2d/bias": "model/conv_a/bias",
        "conv2d_1/kernel": "model/conv_b/kernel",
        "conv2d_1/bias": "model/conv_b/bias",
        "batch_normalization/gamma": "model/bn/gamma",
        "batch_normalization/moving_mean": "model/bn/moving_mean",
    }
    rules = {m.entry.name: m.rule for m in result.matches}
    assert rules["conv2d_1/kernel"] == "layer order (2nd `conv2d`)"


def test_shifted_keras_names_do_not_win_over_shapes():
    """Keras names shifted by one (`dense_1`, `dense_2`): the name rule
    pairs TF1 `dense_1` with the wrong layer, the shapes refuse it, and the
    layer order puts both right."""
    variables = keras_vars(
        "m",
        [
            ("dense_1", "Dense", {"kernel": (16, 4)}),
            ("dense_2", "Dense", {"kernel": (4, 2)}),
        ],
    )
    result = match_model_variables(
        [entry("dense/kernel", (16, 4)), entry("dense_1/kernel", (4, 2))],
        variables,
    )
    assert pairs(result) == {
        "dense/kernel": "m/dense_1/kernel",
        "dense_1/kernel": "m/dense_2/kernel",
    }
    assert result.shape_mismatches == []


def test_layer_order_needs_equal_counts():
    variables = keras_vars(
        "m",
        [
            ("a", "Dense", {"kernel": (4, 4)}),
            ("b", "Dense", {"kernel": (4, 4)}),
        ],
    )
    result = match_model_variables([entry("dense/kernel", (4, 4))], variables)
    assert result.matches == []
    assert [v.path for v in result.unmatched_variables] == [
        "m/a/kernel",
        "m/b/kernel",
    ]
    assert result.reasons["m/a/kernel"] == (
        "the TF1 checkpoint has 1 `dense` scope(s), the model 2 Dense layer(s)"
    )
    assert [e.name for e in result.unmatched_entries] == ["dense/kernel"]


def test_layer_order_refuses_scopes_under_several_outer_scopes():
    variables = keras_vars("m", [("a", "Dense", {"kernel": (4, 4)})])
    result = match_model_variables(
        [entry("x/dense/kernel", (4, 4)), entry("y/dense/kernel", (4, 4))],
        variables,
    )
    assert result.matches == []
    assert "several outer scopes (`x/`, `y/`)" in result.reasons["m/a/kernel"]


def test_a_name_match_with_another_shape_is_a_shape_mismatch():
    variables = keras_vars("m", [("dense", "Dense", {"kernel": (144, 3)})])
    result = match_model_variables([entry("dense/kernel", (144, 2))], variables)
    assert result.matches == []
    (mismatch,) = result.shape_mismatches
    assert (mismatch.entry.name, mismatch.variable.path) == (
        "dense/kernel",
        "m/dense/kernel",
    )
    assert result.unmatched_variables == result.unmatched_entries == []


def test_map_rules_apply_in_order_and_feed_the_other_rules():
    variables = keras_vars(
        "m",
        [
            ("dense", "Dense", {"kernel": (16, 2), "bias": (2,)}),
            ("head", "Dense", {"kernel": (2, 2)}),
        ],
    )
    rules = [
        MapRule.parse("^w1$=dense/kernel"),
        MapRule.parse("^b(\\d)$=dense/bias"),
        MapRule.parse("^old/=new/"),
        MapRule.parse("^new/=m/"),  # applies to what the rule above made
    ]
    result = match_model_variables(
        [
            entry("w1", (16, 2)),
            entry("b1"),
            entry("old/head/kernel", (2, 2)),
        ],
        variables,
        rules,
    )
    assert pairs(result) == {
        "w1": "m/dense/kernel",
        "b1": "m/dense/bias",
        "old/head/kernel": "m/head/kernel",
    }
    rules_used = {m.entry.name: m.rule for m in result.matches}
    assert rules_used["w1"] == "--map ^w1$=dense/kernel"
    assert rules_used["old/head/kernel"] == "--map ^old/=new/, ^new/=m/"


def test_map_then_layer_order():
    variables = keras_vars(
        "m",
        [
            ("hidden", "Dense", {"kernel": (3, 3)}),
            ("out", "Dense", {"kernel": (3, 1)}),
        ],
    )
    result = match_model_variables(
        [entry("net/fc/kernel", (3, 3)), entry("net/fc_1/kernel", (3, 1))],
        variables,
        [MapRule.parse("^net/fc=dense")],
    )
    assert pairs(result) == {
        "net/fc/kernel": "m/hidden/kernel",
        "net/fc_1/kernel": "m/out/kernel",
    }
    assert result.matches[1].rule == (
        "--map ^net/fc=dense, then layer order (2nd `dense`)"
    )


@pytest.mark.parametrize(
    "text, message",
    [
        ("foo", "It has no `REGEX=` part"),
        ("=x", "It has no `REGEX=` part"),
        ("(=x", "is not a valid Python regular expression"),
        (r"(a)=\2", "does not fit the regex"),
        (r"a=\q", "does not fit the regex"),
    ],
)
def test_bad_map_rules_are_usage_errors(text, message):
    with pytest.raises(UsageError, match="`--map`") as raised:
        MapRule.parse(text)
    assert message in str(raised.value)
    assert repr(text) in str(raised.value)


def test_map_rule_splits_at_the_first_equals_sign():
    rule = MapRule.parse("^a$=b=c")
    assert rule.apply("a") == "b=c"


def test_classify_sorts_tf1_names():
    names = classify(
        [
            entry("global_step", ()),
            entry("dense/kernel"),
            entry("dense/kernel/Adam"),
            entry("dense/kernel/Adam_1"),
            entry("dense/kernel/ExponentialMovingAverage"),
            entry("beta1_power", ()),
            entry("beta2_power", ()),
            entry("beta1_power_1", ()),
            entry("w1"),
        ]
    )
    assert names.global_step.name == "global_step"
    assert [e.name for e in names.model] == ["dense/kernel", "w1"]
    assert [(s.variable_name, s.suffix) for s in names.slots] == [
        ("dense/kernel", "Adam"),
        ("dense/kernel", "Adam_1"),
        ("dense/kernel", "ExponentialMovingAverage"),
    ]
    assert {k: e.name for k, e in names.beta_powers.items()} == {
        1: "beta1_power",
        2: "beta2_power",
    }
    assert [e.name for e in names.other] == ["beta1_power_1"]


@pytest.mark.parametrize(
    "suffix, siblings, keras",
    [
        ("Adam", {"Adam", "Adam_1"}, ("Adam", "momentum", False)),
        ("Adam_1", {"Adam", "Adam_1"}, ("Adam", "velocity", False)),
        ("Momentum", {"Momentum"}, ("SGD", "momentum", True)),
        ("RMSProp", {"RMSProp", "RMSProp_1"}, ("RMSprop", "velocity", False)),
        ("RMSProp_1", {"RMSProp", "RMSProp_1"}, ("RMSprop", "momentum", False)),
        (
            "RMSProp_1",
            {"RMSProp", "RMSProp_1", "RMSProp_2"},
            ("RMSprop", "average_gradient", False),
        ),
        (
            "RMSProp_2",
            {"RMSProp", "RMSProp_1", "RMSProp_2"},
            ("RMSprop", "momentum", False),
        ),
        ("Adagrad", {"Adagrad"}, ("Adagrad", "accumulator", False)),
    ],
)
def test_slot_kinds(suffix, siblings, keras):
    kind = slot_kind(suffix, siblings)
    assert (
        kind.keras_class,
        kind.keras_slot,
        kind.scale_by_learning_rate,
    ) == keras


def test_unknown_slot_kind():
    assert slot_kind("ExponentialMovingAverage", set()) is None
