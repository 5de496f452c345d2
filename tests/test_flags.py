"""keras_monitored.flags: definitions, validation, strategy, session."""

from __future__ import annotations

import json
import os

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
        pytest.param("not json", "default", id="malformed"),
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
