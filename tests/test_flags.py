"""keras_monitored.flags: definitions, validation, strategy, session."""

from __future__ import annotations

import json
import os
import re

import pytest
import tensorflow as tf
from absl import flags

import keras_monitored as km
from keras_monitored import flags as km_flags


def parsed(*argv):
    values = flags.FlagValues()
    km_flags.define_flags(values)
    km_flags.define_flags(values)  # idempotent
    values(["prog", *argv])
    return values


def test_defaults_mean_tf1_use_default(tmp_path):
    values = parsed(f"--checkpoint_dir={tmp_path}")
    with km_flags.session_from_flags(flag_values=values) as sess:
        saver = [
            h for h in sess.hooks if isinstance(h, km.CheckpointSaverHook)
        ][0]
        names = [type(h).__name__ for h in sess.hooks]
    assert (saver.timer.every_secs, saver.timer.every_steps) == (600, None)
    assert names == [
        "StepCounterHook",
        "SummarySaverHook",
        "CheckpointSaverHook",
    ]


def test_steps_alone_replaces_the_600_second_default_and_max_steps_stops(
    tmp_path,
):
    values = parsed(
        f"--checkpoint_dir={tmp_path}",
        "--save_checkpoint_steps=3",
        "--max_steps=7",
        "--steps_per_loop=4",
        "--keep_checkpoint_max=2",
        "--log_step_count_steps=0",
    )
    with km_flags.session_from_flags(flag_values=values) as sess:
        saver = [
            h for h in sess.hooks if isinstance(h, km.CheckpointSaverHook)
        ][0]
        assert (saver.timer.every_secs, saver.timer.every_steps) == (None, 3)
        assert "StepCounterHook" not in [type(h).__name__ for h in sess.hooks]
        while not sess.should_stop():
            sess.run(lambda: {})
    assert km.get_global_step().numpy() == 7
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-7")
    assert (
        len(
            tf.train.get_checkpoint_state(
                str(tmp_path)
            ).all_model_checkpoint_paths
        )
        == 2
    )


@pytest.mark.parametrize(
    "argv, message",
    [
        pytest.param(["--max_steps=0"], "max_steps", id="max_steps"),
        pytest.param(
            ["--steps_per_loop=0"], "steps_per_loop", id="steps_per_loop"
        ),
        pytest.param(["--strategy=horovod"], "strategy", id="strategy"),
        pytest.param(
            ["--save_checkpoint_steps=5", "--save_checkpoint_secs=5"],
            "exclusive",
            id="both",
        ),
        pytest.param(
            ["--save_checkpoint_secs=0"], "save_checkpoint_secs", id="secs_zero"
        ),
        pytest.param(
            ["--save_checkpoint_steps=ten"],
            "save_checkpoint_steps",
            id="not_int",
        ),
        pytest.param(
            ["--tpu=grpc://t:8470", "--strategy=mirrored"],
            "--tpu is only used",
            id="tpu_mirrored",
        ),
    ],
)
def test_bad_values_are_usage_errors_naming_the_flag(argv, message):
    with pytest.raises(flags.IllegalFlagValueError, match=message):
        parsed(*argv)


def test_auto_strategy(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert km_flags.strategy_name(parsed()) == "default"
    assert km_flags.strategy_name(parsed("--tpu=my-tpu")) == "tpu"
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps(
            {
                "cluster": {"worker": ["a:1", "b:2"]},
                "task": {"type": "worker", "index": 0},
            }
        ),
    )
    assert km_flags.strategy_name(parsed()) == "multi_worker_mirrored"
    assert km_flags.strategy_name(parsed("--strategy=mirrored")) == "mirrored"


def test_strategy_from_flags_is_made_once():
    values = parsed("--strategy=one_device")
    strategy = km_flags.strategy_from_flags(values)
    assert isinstance(strategy, tf.distribute.OneDeviceStrategy)
    assert km_flags.strategy_from_flags(values) is strategy
    assert (
        km_flags.strategy_from_flags(parsed("--strategy=default"))
        is tf.distribute.get_strategy()
    )


def test_summary_flags_and_an_explicit_strategy(tmp_path, mirrored):
    values = parsed(
        f"--checkpoint_dir={tmp_path / 'ckpt'}",
        f"--summary_dir={tmp_path / 'tb'}",
        "--save_summaries_steps=2",
        "--max_steps=4",
    )
    with mirrored.scope():
        weight = tf.Variable(1.0)

    def step():
        tf.summary.scalar("w", weight)
        return {}

    with km_flags.session_from_flags(
        flag_values=values, strategy=mirrored
    ) as sess:
        summary = [h for h in sess.hooks if isinstance(h, km.SummarySaverHook)][
            0
        ]
        assert summary._timer.every_steps == 2
        while not sess.should_stop():
            sess.run(step)
    assert isinstance(km.get_global_step(), tf.distribute.DistributedValues)
    assert any(n.startswith("events.out") for n in os.listdir(tmp_path / "tb"))
    assert not any(
        n.startswith("events.out") for n in os.listdir(tmp_path / "ckpt")
    )


@pytest.mark.parametrize(
    "tf_config, expected",
    [
        pytest.param(
            json.dumps(
                {
                    "cluster": {"worker": ["a:1"]},
                    "task": {"type": "worker", "index": 0},
                }
            ),
            "default",
            id="one_task",
        ),
        pytest.param(
            json.dumps({"cluster": {"chief": ["a:1"], "worker": ["b:2"]}}),
            "multi_worker_mirrored",
            id="chief_and_worker",
        ),
    ],
)
def test_auto_strategy_reads_tf_config(monkeypatch, tf_config, expected):
    monkeypatch.setenv("TF_CONFIG", tf_config)
    assert km_flags.strategy_name(parsed()) == expected


_PS_CLUSTER = {"chief": ["a:1"], "worker": ["b:2", "c:3"], "ps": ["d:4"]}


def test_auto_strategy_is_parameter_server_with_ps_tasks(monkeypatch):
    # Before: multi_worker_mirrored -- a PS job silently became another one.
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps(
            {"cluster": _PS_CLUSTER, "task": {"type": "chief", "index": 0}}
        ),
    )
    assert km_flags.strategy_name(parsed()) == "parameter_server"


@pytest.mark.parametrize(
    "tf_config, message",
    [
        (
            {"cluster": {"worker": ["a:1", "b:2"]}, "task": {"type": "worker"}},
            "needs a TF_CONFIG whose cluster has 'ps' tasks",
        ),
        (
            {"cluster": _PS_CLUSTER, "task": {"type": "worker", "index": 1}},
            "This task is worker:1; under ParameterServerStrategy only the "
            "'chief' task runs the training program. Call "
            "km.flags.run_server()",
        ),
    ],
)
def test_parameter_server_strategy_where_it_cannot_work(
    monkeypatch, tf_config, message
):
    monkeypatch.setenv("TF_CONFIG", json.dumps(tf_config))
    values = parsed("--strategy=parameter_server")
    with pytest.raises(ValueError, match=re.escape(message)):
        km_flags.strategy_from_flags(values)


def test_run_server_returns_where_there_is_nothing_to_serve(monkeypatch):
    # No TF_CONFIG, a MultiWorkerMirrored worker, a PS job's chief.
    monkeypatch.delenv("TF_CONFIG", raising=False)
    km_flags.run_server()
    for cluster, task in (
        ({"worker": ["a:1", "b:2"]}, {"type": "worker", "index": 0}),
        (_PS_CLUSTER, {"type": "chief", "index": 0}),
    ):
        monkeypatch.setenv(
            "TF_CONFIG", json.dumps({"cluster": cluster, "task": task})
        )
        km_flags.run_server()


# -- a binary that defines some of km's names itself -------------------------


def test_compatible_flags_of_the_binary_are_reused(tmp_path):
    values = flags.FlagValues()
    flags.DEFINE_string(
        "checkpoint_dir", str(tmp_path), "The binary's own.", flag_values=values
    )
    flags.DEFINE_integer(
        "max_steps", 3, "The binary's own.", flag_values=values
    )
    flags.DEFINE_integer(
        "save_checkpoint_secs", 60, "An int is fine.", flag_values=values
    )
    flags.DEFINE_enum(
        "strategy",
        "default",
        ["default", "mirrored", "parameter_server"],
        "The binary's own choices.",
        flag_values=values,
    )
    km_flags.define_flags(values)
    km_flags.define_flags(values)  # still idempotent
    values(["prog", "--save_checkpoint_secs=30"])
    assert values["checkpoint_dir"].help == "The binary's own."
    assert values.steps_per_loop == 1  # the rest are km's
    with km_flags.session_from_flags(flag_values=values) as sess:
        saver = [
            h for h in sess.hooks if isinstance(h, km.CheckpointSaverHook)
        ][0]
        assert saver.checkpoint_dir == str(tmp_path)
        assert (saver.timer.every_secs, saver.timer.every_steps) == (30, None)
        while not sess.should_stop():
            sess.run(lambda: {})
    assert km.get_global_step().numpy() == 3  # StopAtStepHook(--max_steps)


@pytest.mark.parametrize(
    "define, message",
    [
        pytest.param(
            lambda v: flags.DEFINE_integer(
                "checkpoint_dir", 1, "", flag_values=v
            ),
            r"--checkpoint_dir as an int flag \(default 1\), but keras_monitored "
            r"needs a string flag",
            id="int_checkpoint_dir",
        ),
        pytest.param(
            lambda v: flags.DEFINE_float("max_steps", 2.5, "", flag_values=v),
            r"--max_steps as a float flag \(default 2\.5\).*needs an integer flag",
            id="float_max_steps",
        ),
        pytest.param(
            lambda v: flags.DEFINE_string(
                "save_checkpoint_secs", "600", "", flag_values=v
            ),
            r"--save_checkpoint_secs as a string flag.*an integer or float flag",
            id="string_secs",
        ),
        pytest.param(
            lambda v: flags.DEFINE_enum(
                "strategy", "ps", ["ps", "mirrored"], "", flag_values=v
            ),
            r"--strategy as a string enum flag \(default 'ps'\).*whose default "
            r"is one of km's strategy names",
            id="strategy_default",
        ),
        pytest.param(
            lambda v: flags.DEFINE_bool("tpu", False, "", flag_values=v),
            r"--tpu as a bool flag",
            id="bool_tpu",
        ),
        pytest.param(
            lambda v: flags.DEFINE_multi_integer(
                "max_steps", [], "", flag_values=v
            ),
            r"--max_steps as a multi int flag",
            id="multi_max_steps",
        ),
    ],
)
def test_an_incompatible_flag_of_the_binary_is_a_clear_error(define, message):
    values = flags.FlagValues()
    define(values)
    (name,) = list(values)  # the one flag the binary defined
    with pytest.raises(ValueError, match=message) as raised:
        km_flags.define_flags(values)
    assert f"define_flags(exclude=('{name}',))" in str(raised.value)


def test_excluded_flags_are_left_to_the_binary_and_read_as_unset(tmp_path):
    values = flags.FlagValues()
    flags.DEFINE_float("max_steps", 2.5, "Epochs, here.", flag_values=values)
    flags.DEFINE_string("strategy", "horovod", "Not km's.", flag_values=values)
    km_flags.define_flags(values, exclude=("max_steps", "strategy", "tpu"))
    km_flags.define_flags(values, exclude=["tpu", "strategy", "max_steps"])
    assert "tpu" not in values
    values(["prog", f"--checkpoint_dir={tmp_path}", "--strategy=anything"])
    assert km_flags.strategy_name(values) == "default"  # unset: auto
    with km_flags.session_from_flags(flag_values=values) as sess:
        assert not any(isinstance(h, km.StopAtStepHook) for h in sess.hooks)


@pytest.mark.parametrize(
    "exclude, error, message",
    [
        pytest.param(
            ("max_step", "tpu"),
            ValueError,
            r"exclude=\('max_step', 'tpu'\).*keras_monitored defines "
            r"\(checkpoint_dir, .*\); \['max_step'\] are not",
            id="unknown",
        ),
        pytest.param(
            "max_steps",
            TypeError,
            r"exclude='max_steps'.*an iterable of flag names",
            id="bare_string",
        ),
        pytest.param((1,), TypeError, r"exclude=\(1,\)", id="not_a_name"),
    ],
)
def test_bad_exclude(exclude, error, message):
    with pytest.raises(error, match=message):
        km_flags.define_flags(flags.FlagValues(), exclude=exclude)


def test_a_second_call_adds_no_validators_and_keeps_its_exclusions():
    values = flags.FlagValues()
    km_flags.define_flags(values, exclude=("tpu",))
    validators = {name: len(values[name].validators) for name in values}
    km_flags.define_flags(values, exclude=("tpu",))
    assert {name: len(values[name].validators) for name in values} == validators
    with pytest.raises(ValueError, match=r"already called.*exclude=\('tpu',\)"):
        km_flags.define_flags(values)


def test_a_reused_strategy_flag_with_a_name_km_does_not_know():
    values = flags.FlagValues()
    flags.DEFINE_string("strategy", "mirrored", "Own.", flag_values=values)
    km_flags.define_flags(values)
    values(["prog", "--strategy=central_storage"])
    with pytest.raises(
        ValueError,
        match=r"--strategy.*'central_storage'.*one of auto, default",
    ):
        km_flags.strategy_from_flags(values)


def test_flags_km_did_not_define_are_a_clear_error():
    values = flags.FlagValues()
    values(["prog"])
    with pytest.raises(ValueError, match=r"Call km_flags\.define_flags"):
        km_flags.session_from_flags(flag_values=values)
