"""ProfilerHook: a TF2 profile directory on exactly the expected steps."""

from __future__ import annotations

import os

import pytest
import tensorflow as tf

import keras_monitored as km


def step():
    return {"y": tf.reduce_sum(tf.ones((64, 64)) @ tf.ones((64, 64)))}


def profile_dirs(output_dir):
    root = os.path.join(output_dir, "plugins", "profile")
    return sorted(os.listdir(root)) if os.path.isdir(root) else []


def test_profiles_on_expected_steps_only(tmp_path):
    hook = km.hooks.ProfilerHook(save_steps=3, output_dir=str(tmp_path))
    seen = []
    with km.MonitoredSession(hooks=[hook]) as sess:
        for _ in range(7):
            sess.run(step)
            seen.append(len(profile_dirs(str(tmp_path))))
    # As TF1: the first step starts the timer; then every 3 steps (3 and 6).
    assert seen == [0, 0, 1, 1, 1, 2, 2]
    dirs = profile_dirs(str(tmp_path))
    assert [d.rsplit("_step_", 1)[1] for d in dirs] == ["3", "6"]
    for name in dirs:
        files = os.listdir(
            os.path.join(str(tmp_path), "plugins", "profile", name)
        )
        assert any(f.endswith(".xplane.pb") for f in files), files
    assert hook.profiled_steps == [3, 6]


def test_profiled_call_runs_exactly_one_step_inside_loops(tmp_path):
    hook = km.hooks.ProfilerHook(save_steps=10, output_dir=str(tmp_path))
    steps_per_run = []

    class Steps(km.SessionRunHook):
        def before_run(self, run_context):
            steps_per_run.append(run_context.num_steps)

    with km.MonitoredSession(
        session_creator=km.ChiefSessionCreator(steps_per_loop=8),
        hooks=[hook, Steps()],
    ) as sess:
        while km.get_global_step().numpy() < 12:
            sess.run(step)
    assert hook.profiled_steps == [10]
    # 1 (priming), 8 to reach step 9, the profiled step 10 alone, then 8.
    assert steps_per_run == [1, 8, 1, 8]


@pytest.mark.parametrize(
    "kwargs, error, message",
    [
        pytest.param(
            {},
            ValueError,
            "Either every_secs or every_steps should be provided.",
            id="neither",
        ),
        pytest.param(
            dict(save_steps=1, output_dir=3),
            TypeError,
            "output_dir=3",
            id="output_dir",
        ),
        pytest.param(
            dict(save_steps=1, show_memory="y"),
            TypeError,
            "show_memory='y'",
            id="show_memory",
        ),
    ],
)
def test_bad_arguments(kwargs, error, message):
    with pytest.raises(error, match=message):
        km.hooks.ProfilerHook(**kwargs)


def test_tf1_profiler_hook_is_translated(tmp_path):
    with tf.Graph().as_default():  # TF1's constructor needs graph mode
        tf1_hook = tf.compat.v1.train.ProfilerHook(
            save_steps=2, output_dir=str(tmp_path)
        )
    with km.MonitoredSession(hooks=[tf1_hook]) as sess:
        translated = sess.hooks[0]
        for _ in range(3):
            sess.run(step)
    assert isinstance(
        translated, km.hooks.ProfilerHook
    ) and translated.profiled_steps == [2]
