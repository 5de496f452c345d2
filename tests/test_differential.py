"""TF1 MonitoredTrainingSession (graph mode) vs km: identical hook traces,
stop points, errors (whole messages) and checkpoint files, for the hook
protocol and the session lifecycle. The harness is tests/differential.py;
MTS's default hooks, checkpoint contents and summaries are in
test_differential_defaults.py, fetches in test_differential_fetches.py,
error messages in test_differential_messages.py, and
test_differential_mutations.py shows the scenarios catch a broken km."""

from __future__ import annotations

import re

import pytest
import tensorflow as tf

from tests.differential import (
    AbortOnce,
    CheckpointWatcher,
    FeedLearningRate,
    ListenerRecorder,
    RequestStopAt,
    check_scenario,
    checkpoint_steps,
    loop_until_stop,
    outcome_of,
)

tf1 = tf.compat.v1


def _loop_until_stop(program, sess, max_runs=50):
    loop_until_stop(program, sess, max_runs)


def plain_run(program, tmp_path):
    trace = []
    program.build()
    with program.session(hooks=[program.recorder(trace)]) as sess:
        for _ in range(4):
            program.run(sess)
    return trace, "ok"


def request_stop_mid_run(program, tmp_path):
    trace = []
    program.build()
    hooks = [
        program.recorder(trace),
        program.hook_in_graph(lambda: RequestStopAt(program.step_fetch(), 3)),
    ]
    with program.session(hooks=hooks) as sess:
        _loop_until_stop(program, sess)
    return trace, sess.should_stop()


def run_after_stop_requested(program, tmp_path):
    trace = []
    program.build()
    hooks = [
        program.recorder(trace),
        program.hook_in_graph(lambda: RequestStopAt(program.step_fetch(), 2)),
    ]
    outcome = None
    with program.session(hooks=hooks) as sess:
        _loop_until_stop(program, sess)
        outcome = outcome_of(lambda: program.run(sess))
    return trace, outcome


def stop_at_step_num_steps(program, tmp_path):
    trace = []
    program.build()
    with program.session(
        hooks=[program.recorder(trace), program.stop_at_step(num_steps=4)]
    ) as sess:
        _loop_until_stop(program, sess)
    return trace, "ok"


def stop_at_step_last_step(program, tmp_path):
    trace = []
    program.build()
    with program.session(
        hooks=[program.stop_at_step(last_step=6), program.recorder(trace)]
    ) as sess:
        _loop_until_stop(program, sess)
    return trace, "ok"


def restart_from_checkpoint_dir(program, tmp_path):
    trace = []
    checkpoint_dir = str(tmp_path)
    program.build()
    with program.session(
        checkpoint_dir=checkpoint_dir,
        save_checkpoint_steps=2,
        hooks=[
            program.recorder(trace, "first"),
            program.stop_at_step(last_step=5),
        ],
    ) as sess:
        _loop_until_stop(program, sess)
    if program.kind == "tf1":
        program.__init__()
    program.build()
    with program.session(
        checkpoint_dir=checkpoint_dir,
        save_checkpoint_steps=2,
        hooks=[
            program.recorder(trace, "second"),
            program.stop_at_step(num_steps=3),
        ],
    ) as sess:
        _loop_until_stop(program, sess)
    latest = tf.train.latest_checkpoint(checkpoint_dir)
    return trace, latest.rsplit("-", 1)[-1]


def out_of_range_at_step_k(program, tmp_path):
    trace = []
    program.build(num_examples=4)
    with program.session(hooks=[program.recorder(trace)]) as sess:
        _loop_until_stop(program, sess)
    return trace, ("stopped", sess.should_stop())


def exception_in_step(program, tmp_path):
    trace = []
    program.build(fail_at=3)

    def body():
        with program.session(hooks=[program.recorder(trace)]) as sess:
            _loop_until_stop(program, sess)

    return trace, outcome_of(body)[0]


def hook_feed_dict(program, tmp_path):
    trace = []
    program.build()
    feeder = program.hook_in_graph(lambda: FeedLearningRate(program.lr_key()))
    with program.session(
        hooks=[
            feeder,
            program.recorder(trace),
            program.stop_at_step(last_step=4),
        ]
    ) as sess:
        _loop_until_stop(program, sess)
    return trace, "ok"


def _feed_conflict(outcome):
    """A feed conflict error: its type, TF1's whole message up to the list
    of conflicts, and how many conflicts it lists. TF1 lists the fed
    tensors, km the fed argument names (a feed key is a step-function
    argument in TF2, contract section 2)."""
    error, message = outcome
    head, _, conflicts = message.partition(" Conflict(s): ")
    count = len(re.findall(r"<tf\.Tensor |'[^']*'(?=[,\]])", conflicts))
    return error, head, count


def hook_and_user_feed_conflict(program, tmp_path):
    trace = []
    program.build()
    feeder = program.hook_in_graph(lambda: FeedLearningRate(program.lr_key()))
    with program.session(hooks=[program.recorder(trace), feeder]) as sess:
        outcome = outcome_of(lambda: program.run(sess, feed_learning_rate=0.5))
    return trace, _feed_conflict(outcome)


def two_hooks_feed_conflict(program, tmp_path):
    trace = []
    program.build()
    hooks = [program.recorder(trace)] + [
        program.hook_in_graph(lambda: FeedLearningRate(program.lr_key()))
        for _ in range(2)
    ]
    with program.session(hooks=hooks) as sess:
        outcome = outcome_of(lambda: program.run(sess))
    return trace, _feed_conflict(outcome)


def run_step_fn_stop(program, tmp_path):
    trace = []
    program.build()

    def step_fn(step_context):
        value = program.run_with_hooks(step_context)
        if int(step_context.session.run(program.global_step_fetch())) >= 3:
            step_context.request_stop()
        return value

    with program.session(hooks=[program.recorder(trace)]) as sess:
        while not sess.should_stop():
            sess.run_step_fn(step_fn)
    return trace, sess.should_stop()


def run_step_fn_bad_signature(program, tmp_path):
    trace = []
    program.build()
    with program.session(hooks=[program.recorder(trace)]) as sess:
        outcome = outcome_of(lambda: sess.run_step_fn(lambda ctx: None))
    return trace, outcome


def recovery_after_one_aborted_error(program, tmp_path):
    trace = []
    program.build()
    hooks = [
        program.recorder(trace),
        program.hook_in_graph(lambda: AbortOnce(program.step_fetch(), 3)),
        program.stop_at_step(last_step=5),
    ]
    with program.session(
        checkpoint_dir=str(tmp_path),
        save_checkpoint_steps=2,
        hooks=hooks,
    ) as sess:
        _loop_until_stop(program, sess)
    return trace, "ok"


def several_hooks_order(program, tmp_path):
    trace = []
    program.build()
    hooks = [
        program.recorder(trace, "a"),
        program.recorder(trace, "b"),
        program.stop_at_step(num_steps=2),
    ]
    with program.session(
        hooks=hooks, chief_only_hooks=[program.recorder(trace, "chief")]
    ) as sess:
        _loop_until_stop(program, sess)
    return trace, "ok"


def double_close(program, tmp_path):
    trace = []
    program.build()
    sess_context = program.session(hooks=[program.recorder(trace)])
    sess = sess_context.__enter__()
    program.run(sess)
    sess_context.__exit__(None, None, None)
    # TF1's whole message: RuntimeError('Session is already closed.').
    return trace, (sess.should_stop(), outcome_of(sess.close))


def checkpoint_saver_listener_timing(program, tmp_path):
    """A TF1 CheckpointSaverHook instance (translated on the km side) with a
    TF1 listener, in the middle of the hook list: saves at creation, every 2
    steps and at the end, each in the saver's own turn (contract section 4,
    "Checkpoint files appear when TF1's would"): the recorder before it sees
    the step first, its listener next, the watcher after it sees the file in
    the same phase."""
    trace = []
    directory = str(tmp_path)
    program.build()
    saver_hook = program.hook_in_graph(
        lambda: tf1.train.CheckpointSaverHook(
            directory, save_steps=2, listeners=[ListenerRecorder(trace)]
        )
    )
    with program.session(
        hooks=[
            program.recorder(trace),
            saver_hook,
            CheckpointWatcher(trace, directory),
            program.stop_at_step(last_step=5),
        ]
    ) as sess:
        _loop_until_stop(program, sess)
    return trace, checkpoint_steps(directory)


def listener_requests_stop(program, tmp_path):
    trace = []
    directory = str(tmp_path)
    program.build()
    saver_hook = program.hook_in_graph(
        lambda: tf1.train.CheckpointSaverHook(
            directory,
            save_steps=3,
            listeners=[ListenerRecorder(trace, stop_after_save_at=3)],
        )
    )
    with program.session(hooks=[program.recorder(trace), saver_hook]) as sess:
        _loop_until_stop(program, sess)
    return trace, checkpoint_steps(directory)


class ThreadFails(tf1.train.SessionRunHook):
    """Starts a coordinator thread that reports an error at the third run."""

    def __init__(self):
        self.runs = 0

    def after_create_session(self, session, coord):
        self.coord = coord

    def after_run(self, run_context, run_values):
        self.runs += 1
        if self.runs == 3:
            try:
                raise ValueError("input thread failed")
            except ValueError as error:
                self.coord.request_stop(error)


def hook_thread_reports_an_error(program, tmp_path):
    trace = []
    program.build()

    def body():
        with program.session(
            hooks=[program.recorder(trace), ThreadFails()]
        ) as sess:
            _loop_until_stop(program, sess)

    return trace, outcome_of(body)


SCENARIOS = [
    plain_run,
    request_stop_mid_run,
    run_after_stop_requested,
    stop_at_step_num_steps,
    stop_at_step_last_step,
    restart_from_checkpoint_dir,
    out_of_range_at_step_k,
    exception_in_step,
    hook_feed_dict,
    hook_and_user_feed_conflict,
    two_hooks_feed_conflict,
    run_step_fn_stop,
    run_step_fn_bad_signature,
    recovery_after_one_aborted_error,
    several_hooks_order,
    double_close,
    checkpoint_saver_listener_timing,
    listener_requests_stop,
    hook_thread_reports_an_error,
]


@pytest.mark.parametrize(
    "scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS]
)
def test_km_matches_tf1(scenario, tmp_path):
    check_scenario(scenario, tmp_path)
