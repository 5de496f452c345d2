"""MonitoredTrainingSession: TF1's USE_DEFAULT rules, hook order and roles."""

from __future__ import annotations

import json

import pytest
import tensorflow as tf

import keras_monitored as km


class Marker(km.SessionRunHook):
    def __init__(self, name):
        self.name = name


def hook_summary(sess):
    summary = []
    for hook in sess.hooks:
        if isinstance(hook, Marker):
            summary.append(hook.name)
        elif isinstance(hook, km.CheckpointSaverHook):
            summary.append(
                ("ckpt", hook.timer.every_steps, hook.timer.every_secs)
            )
        else:
            summary.append(type(hook).__name__)
    return summary


@pytest.mark.parametrize(
    "kwargs, expected",
    [
        pytest.param({}, ("ckpt", None, 600), id="default_600_secs"),
        pytest.param(
            dict(save_checkpoint_steps=50),
            ("ckpt", 50, None),
            id="steps_only_disables_secs",
        ),
        pytest.param(
            dict(save_checkpoint_secs=30), ("ckpt", None, 30), id="secs_only"
        ),
        pytest.param(
            dict(save_checkpoint_secs=None, save_checkpoint_steps=None),
            None,
            id="both_none_disables",
        ),
        pytest.param(dict(save_checkpoint_secs=0), None, id="zero_disables"),
    ],
)
def test_checkpoint_defaults(tmp_path, kwargs, expected):
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path), **kwargs
    ) as sess:
        checkpoints = [h for h in hook_summary(sess) if isinstance(h, tuple)]
    assert checkpoints == ([expected] if expected else [])


def test_hook_order_is_chief_only_then_defaults_then_hooks(tmp_path):
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path),
        save_checkpoint_steps=10,
        hooks=[Marker("user")],
        chief_only_hooks=[Marker("chief")],
    ) as sess:
        summary = hook_summary(sess)
    assert summary[0] == "chief" and summary[-1] == "user"
    assert ("ckpt", 10, None) in summary


def test_no_checkpoint_dir_means_no_checkpoint_hook():
    with km.MonitoredTrainingSession(hooks=[Marker("user")]) as sess:
        assert not any(
            isinstance(h, km.CheckpointSaverHook) for h in sess.hooks
        )


def test_both_steps_and_secs_is_tf1s_value_error(tmp_path):
    with pytest.raises(
        ValueError,
        match="Can not provide both every_secs and every_steps.*save_checkpoint_steps=5",
    ):
        km.MonitoredTrainingSession(
            checkpoint_dir=str(tmp_path),
            save_checkpoint_steps=5,
            save_checkpoint_secs=5,
        )
    with pytest.raises(ValueError, match="save_summaries_steps=5"):
        km.MonitoredTrainingSession(
            save_summaries_steps=5, save_summaries_secs=5
        )


def test_non_chief_from_tf_config_runs_only_user_hooks(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps(
            {
                "cluster": {
                    "chief": ["localhost:1"],
                    "worker": ["localhost:2"],
                },
                "task": {"type": "worker", "index": 0},
            }
        ),
    )
    with km.MonitoredTrainingSession(
        hooks=[Marker("user")],
        chief_only_hooks=[Marker("chief")],
    ) as sess:
        assert hook_summary(sess) == ["user"]


def test_explicit_is_chief_wins_over_tf_config(tmp_path, monkeypatch):
    monkeypatch.setenv(
        "TF_CONFIG",
        json.dumps(
            {
                "cluster": {"worker": ["a:1", "b:2"]},
                "task": {"type": "worker", "index": 1},
            }
        ),
    )
    with km.MonitoredTrainingSession(
        is_chief=True, chief_only_hooks=[Marker("chief")]
    ) as sess:
        assert hook_summary(sess) == ["chief"]


def test_non_chief_waits_for_the_chiefs_checkpoint_then_restores(tmp_path):
    weight = tf.Variable(1.0)
    scaffold = km.Scaffold(checkpoint={"w": weight})
    with pytest.raises(
        tf.errors.DeadlineExceededError, match="not ready after waiting 0 secs"
    ):
        km.MonitoredTrainingSession(
            is_chief=False,
            checkpoint_dir=str(tmp_path),
            scaffold=scaffold,
            max_wait_secs=0,
        )
    with km.MonitoredTrainingSession(
        checkpoint_dir=str(tmp_path), scaffold=scaffold, save_checkpoint_steps=1
    ) as sess:
        sess.run(lambda: {"w": weight.assign(9.0)})
    weight.assign(0.0)
    km.reset_global_step()
    with km.MonitoredTrainingSession(
        is_chief=False,
        checkpoint_dir=str(tmp_path),
        scaffold=scaffold,
        max_wait_secs=5,
    ) as sess:
        assert weight.numpy() == 9.0 and km.get_global_step().numpy() == 1
        sess.run(lambda: {})
    # A worker never writes into the chief's directory.
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-1")


def test_config_and_master_are_reported_not_fatal(caplog, monkeypatch):
    from keras_monitored import _session_config as session_config

    monkeypatch.setattr(session_config, "_warned", set())  # each reported once
    tf.constant(0)  # the runtime is up: thread settings can no longer change
    threads = tf.config.threading.get_intra_op_parallelism_threads()
    config = tf.compat.v1.ConfigProto(
        intra_op_parallelism_threads=threads + 3,
        gpu_options=tf.compat.v1.GPUOptions(
            allow_growth=True,  # tf.config.experimental.set_memory_growth
            visible_device_list="0",  # tf.config.set_visible_devices
            per_process_gpu_memory_fraction=0.5,  # no TF2 equivalent
        ),
        operation_timeout_in_ms=1000,  # no TF2 equivalent
    )
    with km.MonitoredTrainingSession(
        config=config, master="grpc://nowhere:1"
    ) as sess:
        sess.run(lambda: {})
    text = caplog.text
    assert (
        f"config.intra_op_parallelism_threads={threads + 3} not applied" in text
    )
    assert (
        "ConfigProto fields ['gpu_options.per_process_gpu_memory_fraction', "
        "'operation_timeout_in_ms'] have no TF2 equivalent" in text
    )
    assert "master='grpc://nowhere:1' has no meaning in TF2" in text
    assert tf.config.threading.get_intra_op_parallelism_threads() == threads


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        pytest.param(
            dict(is_chief="yes"), TypeError, "is_chief='yes'", id="is_chief"
        ),
        pytest.param(
            dict(checkpoint_dir=3),
            TypeError,
            "checkpoint_dir=3",
            id="checkpoint_dir",
        ),
        pytest.param(
            dict(summary_dir=b"dir"),
            TypeError,
            "summary_dir=b'dir'",
            id="summary_dir",
        ),
        pytest.param(
            dict(hooks=[object()]), TypeError, r"`hooks\[0\]`", id="hooks"
        ),
        pytest.param(
            dict(chief_only_hooks=5),
            TypeError,
            "chief_only_hooks",
            id="chief_only_hooks",
        ),
        pytest.param(
            dict(save_checkpoint_secs="600"),
            TypeError,
            "save_checkpoint_secs='600'",
            id="secs_type",
        ),
        pytest.param(
            dict(save_checkpoint_steps=2.5),
            TypeError,
            "save_checkpoint_steps=2.5",
            id="steps_type",
        ),
        pytest.param(
            dict(log_step_count_steps="x"),
            TypeError,
            "log_step_count_steps='x'",
            id="log_steps",
        ),
        pytest.param(
            dict(max_wait_secs=-1),
            ValueError,
            "max_wait_secs=-1",
            id="max_wait",
        ),
        pytest.param(
            dict(stop_grace_period_secs=-1),
            ValueError,
            "stop_grace_period_secs=-1",
            id="grace",
        ),
        pytest.param(
            dict(save_graph_def="no"),
            TypeError,
            "save_graph_def='no'",
            id="graph_def",
        ),
        pytest.param(
            dict(scaffold=object()),
            TypeError,
            "scaffold=<object",
            id="scaffold",
        ),
        pytest.param(
            dict(config="cfg"), TypeError, "config='cfg'", id="config"
        ),
        pytest.param(dict(master=1), TypeError, "master=1", id="master"),
        pytest.param(
            dict(strategy="mirrored"),
            TypeError,
            "strategy='mirrored'",
            id="strategy",
        ),
        pytest.param(
            dict(steps_per_loop=0),
            ValueError,
            "steps_per_loop=0",
            id="steps_per_loop",
        ),
        pytest.param(
            dict(max_to_keep=0), ValueError, "max_to_keep=0", id="max_to_keep"
        ),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        km.MonitoredTrainingSession(**kwargs)


def test_empty_directories_mean_unset_as_in_tf1():
    with km.MonitoredTrainingSession(checkpoint_dir="", summary_dir="") as sess:
        assert hook_summary(sess) == []


def test_hook_state_keys_are_the_same_on_chief_and_workers(
    tmp_path, monkeypatch
):
    def keys(**kwargs):
        with km.MonitoredTrainingSession(
            hooks=[km.hooks.LoggingTensorHook(["global_step"], every_n_iter=5)],
            chief_only_hooks=[
                km.hooks.LoggingTensorHook(["global_step"], every_n_iter=7)
            ],
            **kwargs,
        ) as sess:
            return dict(
                zip(
                    sess._driver.hook_list.state_keys(),
                    (type(h).__name__ for h in sess.hooks),
                )
            )

    chief = keys(
        is_chief=True, checkpoint_dir=str(tmp_path), save_checkpoint_steps=3
    )
    km.reset_global_step()
    worker = keys(is_chief=False)
    assert "LoggingTensorHook/0" in chief and "LoggingTensorHook/0" in worker
    assert (
        "chief_only/LoggingTensorHook/0" in chief
        and "default/CheckpointSaverHook/0" in chief
    )
