"""Standard hooks, TF1 (graph mode, TF1's own hook classes) vs km (the same
TF1 hook objects, translated): identical log lines, stop points, errors and
final values."""

from __future__ import annotations

import contextlib
import logging
import re

import numpy as np
import pytest
import tensorflow as tf

import keras_monitored as km
from tests.differential import (
    KMProgram,
    TF1Program,
    assert_close,
    assert_same_trace,
    outcome_of,
    plain,
)

tf1 = tf.compat.v1


@contextlib.contextmanager
def captured_lines(pattern):
    """Collects INFO+ messages of TF1's and km's loggers matching `pattern`."""
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            message = record.getMessage()
            if re.search(pattern, message):
                lines.append(re.sub(r"\(\d+\.\d+ sec\)", "(X sec)", message))

    handler = Collect(level=logging.INFO)
    loggers = [logging.getLogger("tensorflow"), logging.getLogger("absl")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.addHandler(handler)
        logger.setLevel(logging.INFO)
    try:
        yield lines
    finally:
        for logger, level in zip(loggers, levels):
            logger.removeHandler(handler)
            logger.setLevel(level)


def _loop(program, sess, max_runs=30):
    runs = 0
    while not sess.should_stop() and runs < max_runs:
        program.run(sess)
        runs += 1


def logging_every_n_iter(program):
    program.build()
    hook = program.hook(
        "LoggingTensorHook",
        {
            "zloss": program.hook_fetches["loss"],
            "astep": program.hook_fetches["step"],
        },
        every_n_iter=3,
    )
    with (
        captured_lines(r"zloss = ") as lines,
        program.session(
            hooks=[hook, program.stop_at_step(last_step=8)]
        ) as sess,
    ):
        _loop(program, sess)
    return lines


def logging_at_end_only(program):
    program.build()
    hook = program.hook("LoggingTensorHook", program.state_fetches, at_end=True)
    with (
        captured_lines(r" = ") as lines,
        program.session(
            hooks=[hook, program.stop_at_step(last_step=4)]
        ) as sess,
    ):
        _loop(program, sess)
    return lines


def logging_read_runs_count_as_iterations(program):
    program.build()
    hook = program.hook(
        "LoggingTensorHook",
        {"step": program.state_fetches["step"]},
        every_n_iter=2,
    )
    with (
        captured_lines(r"^step = ") as lines,
        program.session(
            hooks=[hook, program.stop_at_step(last_step=5)]
        ) as sess,
    ):
        while not sess.should_stop():
            sess.run(
                program.state_fetches["step"]
            )  # a read: an iteration in TF1
            program.run(sess)
    return lines


def nan_fails(program):
    trace = []
    program.build(nan_at=3)
    hooks = [
        program.recorder(trace),
        program.hook("NanTensorHook", program.hook_fetches["loss"]),
    ]

    def body():
        with program.session(hooks=hooks) as sess:
            _loop(program, sess)

    with captured_lines(r"diverged") as lines:
        outcome = outcome_of(body)
    return trace, outcome, lines


def nan_requests_stop(program):
    trace = []
    program.build(nan_at=4)
    hooks = [
        program.hook(
            "NanTensorHook",
            program.hook_fetches["loss"],
            fail_on_nan_loss=False,
        ),
        program.recorder(trace),
    ]
    with program.session(hooks=hooks) as sess:
        _loop(program, sess)
    return trace, sess.should_stop()


def final_ops_values(program):
    program.build()
    final = program.hook("FinalOpsHook", program.state_fetches)
    with program.session(
        hooks=[program.stop_at_step(last_step=6), final]
    ) as sess:
        _loop(program, sess)
    return plain(final.final_ops_values)


@pytest.mark.parametrize(
    "scenario",
    [
        logging_every_n_iter,
        logging_at_end_only,
        logging_read_runs_count_as_iterations,
        final_ops_values,
    ],
    ids=lambda s: s.__name__,
)
def test_same_result(scenario):
    expected = scenario(TF1Program())
    actual = scenario(KMProgram())
    assert expected, "the TF1 side produced nothing"
    assert_close(expected, actual, scenario.__name__)


def test_logging_lines_look_like_tf1():
    lines = logging_every_n_iter(KMProgram())
    # Iterations 0, 3, 6 -> global steps 1, 4, 7; sorted tags; first line has
    # no elapsed time.
    assert [re.sub(r"zloss = \S+", "zloss = L", line) for line in lines] == [
        "astep = 1, zloss = L",
        "astep = 4, zloss = L (X sec)",
        "astep = 7, zloss = L (X sec)",
    ]


def test_nan_tensor_hook_fails_like_tf1():
    tf1_trace, tf1_outcome, tf1_lines = nan_fails(TF1Program())
    km_trace, km_outcome, km_lines = nan_fails(KMProgram())
    assert_same_trace(tf1_trace, km_trace)
    assert (
        km_outcome
        == tf1_outcome
        == ("NanLossDuringTrainingError", "NaN loss during training.")
    )
    assert km_lines == tf1_lines == ["Model diverged with loss = NaN."]


def test_nan_error_is_caught_by_tf1_except_clause():
    with pytest.raises(tf1.train.NanLossDuringTrainingError):
        raise km.NanLossDuringTrainingError


def test_nan_tensor_hook_requests_stop_like_tf1():
    tf1_trace, tf1_stopped = nan_requests_stop(TF1Program())
    km_trace, km_stopped = nan_requests_stop(KMProgram())
    assert_same_trace(tf1_trace, km_trace)
    assert tf1_stopped and km_stopped
    assert (
        tf1_trace[-2][0] == "rec.after_run" and tf1_trace[-2][1]["step"] == 4.0
    )


def test_final_ops_values_are_written_back_to_the_tf1_object():
    program = KMProgram()
    program.build()
    tf1_hook = tf1.train.FinalOpsHook({"w": program.w})
    with program.session(
        hooks=[tf1_hook, program.stop_at_step(last_step=2)]
    ) as sess:
        _loop(program, sess)
    assert list(tf1_hook.final_ops_values) == ["w"]
    np.testing.assert_array_equal(
        tf1_hook.final_ops_values["w"], program.w.numpy()
    )
