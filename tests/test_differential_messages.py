"""TF1 vs km: the exceptions a TF1 program sees, whole messages.

Where km reproduces TF1's error the whole message is compared. Argument
validation raises TF1's exception types and "messages may add the argument
and value" (contract section 5): there TF1's whole message must be km's
first sentence. Where the contract differs on purpose, the scenario checks
each side's documented behaviour and says where it is documented.
"""

from __future__ import annotations

import re

import pytest
import tensorflow as tf

import keras_monitored as km
from tests.differential import check_scenario, outcome_of

tf1 = tf.compat.v1


def _first_sentence(outcome):
    """(type, message up to its first sentence end): TF1's messages here
    are one sentence; km's may go on with the argument and value."""
    error, message = outcome
    match = re.match(r"(.*?\.)(\s|$)", message, re.DOTALL)
    return error, match.group(1) if match else message


def hook_argument_errors(program, tmp_path):
    """Standard hook constructors with bad arguments: TF1's classes on the
    TF1 side, km's TF2-native ones on the km side."""
    program.build()
    stop_at_step = program.hook_class("StopAtStepHook")
    saver = program.hook_class("CheckpointSaverHook")
    logging_hook = program.hook_class("LoggingTensorHook")
    step_counter = program.hook_class("StepCounterHook")
    summary_saver = program.hook_class("SummarySaverHook")
    timer = program.hook_class("SecondOrStepTimer")
    loss = {"loss": program.hook_fetches["loss"]}
    directory = str(tmp_path)
    calls = {
        "StopAtStepHook()": lambda: stop_at_step(),
        "StopAtStepHook(both)": lambda: stop_at_step(num_steps=1, last_step=2),
        "CheckpointSaverHook(no trigger)": lambda: saver(directory),
        "CheckpointSaverHook(saver and scaffold)": lambda: saver(
            directory, save_steps=1, saver=object(), scaffold=object()
        ),
        "LoggingTensorHook(no trigger)": lambda: logging_hook(loss),
        "LoggingTensorHook(every_n_iter=0)": lambda: logging_hook(
            loss, every_n_iter=0
        ),
        "StepCounterHook(neither)": lambda: step_counter(
            every_n_steps=None, every_n_secs=None
        ),
        "SummarySaverHook(scaffold and summary_op)": lambda: summary_saver(
            save_steps=1, scaffold=object(), summary_op="loss"
        ),
        "SecondOrStepTimer()": lambda: timer(),
        "SecondOrStepTimer(both)": lambda: timer(every_secs=1, every_steps=1),
    }
    outcomes = {
        name: _first_sentence(
            program.hook_in_graph(lambda c=call: outcome_of(c))
        )
        for name, call in calls.items()
    }
    return {"outcome": outcomes}


def session_argument_errors(program, tmp_path):
    """MonitoredTrainingSession with both steps and secs for checkpoints, or
    for summaries: TF1's SecondOrStepTimer error."""
    program.build()
    directory = str(tmp_path)

    def open_session(**kwargs):
        with program.session(checkpoint_dir=directory, **kwargs):
            pass

    outcomes = {
        "checkpoints": _first_sentence(
            outcome_of(
                lambda: open_session(
                    save_checkpoint_steps=2, save_checkpoint_secs=10
                )
            )
        ),
        "summaries": _first_sentence(
            outcome_of(
                lambda: open_session(
                    save_summaries_steps=2, save_summaries_secs=10
                )
            )
        ),
    }
    return {"outcome": outcomes}


def run_step_fn_request_stop(program, tmp_path):
    """`step_context.request_stop()` raises TF1's StopIteration out of
    run_step_fn (whole message); the `with` block ends normally, hooks' end
    included.

    should_stop() right after it: DESIGN.md section 4 makes it true ("once
    ... `run_step_fn`'s step requested stop"), what TF1's docstring of
    `StepContext.request_stop` promises ("causing `should_stop()` to return
    `True`"); TF1's implementation only raises, so it stays False there.
    Each side's value is checked; the rest is compared."""
    trace = []
    program.build()

    def step_fn(step_context):
        program.run_with_hooks(step_context)
        step_context.request_stop()

    with program.session(hooks=[program.recorder(trace)]) as sess:
        program.run(sess)
        outcome = outcome_of(lambda: sess.run_step_fn(step_fn))
        stopped = sess.should_stop()
    assert stopped == {"tf1": False, "km": True}[program.kind], stopped
    return trace, outcome


def run_step_fn_bad_signatures(program, tmp_path):
    """TF1's ValueError, whole message (it names the arguments found), for
    several wrong step_fn signatures; no hook runs."""
    trace = []
    program.build()

    def two_arguments(step_context, other):
        del step_context, other

    def no_arguments():
        pass

    with program.session(hooks=[program.recorder(trace)]) as sess:
        outcomes = [
            outcome_of(lambda fn=fn: sess.run_step_fn(fn))
            for fn in (two_arguments, no_arguments, lambda context: None)
        ]
    return trace, outcomes


def run_after_close(program, tmp_path):
    """`run` after `close`: docs/tf1_to_tf2.md, Sessions: "**Difference:**
    `run` after `close` raises `RuntimeError` (TF1: an `AttributeError`)".
    Each side's documented error is checked here; what both share (the run
    is refused, should_stop() is true, hooks saw the same) is compared."""
    trace = []
    program.build()
    with program.session(hooks=[program.recorder(trace)]) as sess:
        program.run(sess)
    error, message = outcome_of(lambda: program.run(sess))
    documented = {
        "tf1": ("AttributeError", "'NoneType' object has no attribute 'run'"),
        "km": ("RuntimeError", "Run called on a closed session."),
    }
    assert (error, message) == documented[program.kind], (error, message)
    return trace, ("refused", sess.should_stop())


def nan_loss_error(program, tmp_path):
    """NanTensorHook: TF1's NanLossDuringTrainingError, whole message, and
    no after_run for the hooks after it."""
    trace = []
    program.build(nan_at=2)

    def body():
        with program.session(
            hooks=[
                program.hook("NanTensorHook", program.hook_fetches["loss"]),
                program.recorder(trace),
            ]
        ) as sess:
            for _ in range(4):
                program.run(sess)

    return trace, outcome_of(body)


SCENARIOS = [
    hook_argument_errors,
    session_argument_errors,
    run_step_fn_request_stop,
    run_step_fn_bad_signatures,
    run_after_close,
    nan_loss_error,
]


@pytest.mark.parametrize(
    "scenario", SCENARIOS, ids=[s.__name__ for s in SCENARIOS]
)
def test_km_matches_tf1(scenario, tmp_path):
    check_scenario(scenario, tmp_path)


def test_km_errors_are_tf1_types():
    """`km.NanLossDuringTrainingError` is caught by TF1's except clause."""
    assert issubclass(
        km.NanLossDuringTrainingError, tf1.train.NanLossDuringTrainingError
    )
