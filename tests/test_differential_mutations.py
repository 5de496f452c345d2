"""The differential scenarios catch a broken km: each test breaks one thing
km gets right (with `monkeypatch`, inside the test only), runs the
scenario(s) named for it under TF1 and the broken km, and requires the
comparison to fail with an AssertionError (a difference from TF1, not a
crash of the patch). Each patch counts its calls, so a patch that no longer
reaches km's code fails the test instead of passing vacuously.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any

import pytest
import tensorflow as tf

from keras_monitored import (
    _checkpointing,
    _fetches,
    _step_compiler,
    _summary_writers,
    _written_variables,
    hook_list,
    monitored_session,
    training_session,
)
from keras_monitored._recovery import PREEMPTION_ERRORS
from keras_monitored.hook_driver import HookDriver
from keras_monitored.hook_list import HookList
from keras_monitored.hooks.checkpoint_saver import CheckpointSaverHook
from keras_monitored.session_creator import ChiefSessionCreator
from keras_monitored.session_run_hook import SessionRunValues
from keras_monitored.step_session import StepSession
from tests import test_differential as basic
from tests import test_differential_defaults as defaults
from tests import test_differential_fetches as fetches
from tests.differential import check_scenario


class Calls:
    """Counts the calls of patched code."""

    def __init__(self):
        self.count = 0

    def __call__(self, function: Callable) -> Callable:
        def counted(*args, **kwargs):
            self.count += 1
            return function(*args, **kwargs)

        return counted


def assert_caught(scenario, tmp_path, calls: Calls) -> None:
    """The scenario's comparison with TF1 fails on the broken km."""
    with pytest.raises(AssertionError) as failure:
        check_scenario(scenario, tmp_path)
    assert calls.count, "the mutation was never exercised"
    assert "TF1 wrote no" not in str(failure.value)
    assert "TF1 side recorded nothing" not in str(failure.value)


# -- hook call order ----------------------------------------------------------


def reverse_after_run(monkeypatch, calls):
    """after_run in reverse list order."""

    def after_run(self, run_context, run_values):
        results = run_values.results or {}
        for index in reversed(range(len(self._hooks))):
            self._hooks[index].after_run(
                run_context,
                SessionRunValues(
                    results.get(index),
                    run_values.options,
                    run_values.run_metadata,
                ),
            )

    monkeypatch.setattr(HookList, "after_run", calls(after_run))


# -- stop-request timing ------------------------------------------------------


def stop_cuts_the_phase_short(monkeypatch, calls):
    """The hooks after one that requested a stop get no after_run (TF1
    evaluates the stop once every hook saw the step)."""

    def after_run(self, run_context, run_values):
        results = run_values.results or {}
        for index, hook in enumerate(self._hooks):
            if run_context.stop_requested:
                break
            hook.after_run(
                run_context,
                SessionRunValues(
                    results.get(index),
                    run_values.options,
                    run_values.run_metadata,
                ),
            )

    monkeypatch.setattr(HookList, "after_run", calls(after_run))


def stop_honoured_a_run_late(monkeypatch, calls):
    """A stop requested in a run takes effect after the next run."""
    original = monitored_session._MonitoredSessionBase._run_with_hooks  # pylint: disable=protected-access

    def run_with_hooks(self, *args, **kwargs):
        late = getattr(self, "_late_stop", False)
        result = original(self, *args, **kwargs)
        self._late_stop, self._stop_requested = self._stop_requested, late
        return result

    monkeypatch.setattr(
        monitored_session._MonitoredSessionBase,  # pylint: disable=protected-access
        "_run_with_hooks",
        calls(run_with_hooks),
    )


# -- save timing --------------------------------------------------------------


def saves_deferred_to_phase_end(monkeypatch, calls):
    """A CheckpointSaverHook's save waits until every hook finished the
    phase (what km did before saves happened in the saver's turn)."""
    pending: list[tuple[Any, Any, int]] = []
    original_save = CheckpointSaverHook._save  # pylint: disable=protected-access
    original_phase = HookDriver._phase  # pylint: disable=protected-access

    def deferred(self, session, step):
        pending.append((self, session, step))
        return False

    @contextlib.contextmanager
    def phase(self):
        with original_phase(self):
            yield
        while pending:
            hook, session, step = pending.pop(0)
            calls.count += 1
            original_save(hook, session, step)

    monkeypatch.setattr(CheckpointSaverHook, "_save", deferred)
    monkeypatch.setattr(HookDriver, "_phase", phase)


# -- variable fetch timing ----------------------------------------------------


def variables_fetched_after_the_step(monkeypatch, calls):
    """A variable fetched by a hook gives its value after the step."""
    monkeypatch.setattr(
        _fetches, "variable_values", calls(lambda *args, **kwargs: {})
    )


# -- summary step -------------------------------------------------------------


def summary_step_off_by_one(monkeypatch, calls):
    """The step's summaries carry the global step before the step."""
    monkeypatch.setattr(
        _step_compiler,
        "summary_step_after",
        calls(lambda global_step: tf.cast(global_step, tf.int64)),
    )


def hook_scalars_as_tensors(monkeypatch, calls):
    """Hook-written scalars (global_step/sec) as TF2 tensor summaries
    instead of TF1 simple_values."""

    def write(writer, tag, value, step):
        with writer.as_default():
            tf.summary.scalar(tag, value, step=int(step))

    monkeypatch.setattr(_summary_writers, "write_simple_value", calls(write))


# -- MTS default hook order ---------------------------------------------------


def default_saver_moved_last(monkeypatch, calls):
    """MTS puts its CheckpointSaverHook after the user's hooks."""
    original = training_session.MonitoredSession

    def reordered(session_creator=None, hooks=None, **kwargs):
        flat = HookList(hooks).hooks
        savers = [h for h in flat if isinstance(h, CheckpointSaverHook)]
        others = [h for h in flat if not isinstance(h, CheckpointSaverHook)]
        return original(
            session_creator=session_creator, hooks=others + savers, **kwargs
        )

    monkeypatch.setattr(training_session, "MonitoredSession", calls(reordered))


# -- recovery -----------------------------------------------------------------


def recovery_without_restore(monkeypatch, calls):
    """A recreated session keeps the variables instead of restoring the
    latest checkpoint."""
    original = ChiefSessionCreator._restore  # pylint: disable=protected-access

    def restore(self, session, path):
        if self._created_once:  # pylint: disable=protected-access
            calls.count += 1
            return None
        return original(self, session, path)

    monkeypatch.setattr(ChiefSessionCreator, "_restore", restore)


def retry_without_new_session(monkeypatch, calls):
    """The failed call is retried in the same session: no restore, no
    after_create_session."""

    def with_recovery(call, *, ensure_session, **unused):
        ensure_session()
        try:
            return call()
        except PREEMPTION_ERRORS:
            calls.count += 1
            return call()

    monkeypatch.setattr(monitored_session, "with_recovery", with_recovery)


def failed_call_not_retried(monkeypatch, calls):
    """The session is recreated but the failed call is given up (returns
    None) instead of retried."""

    def with_recovery(
        call, *, ensure_session, discard_session, should_recover, **unused
    ):
        ensure_session()
        try:
            return call()
        except PREEMPTION_ERRORS:
            if not should_recover:
                raise
            calls.count += 1
            discard_session()
            ensure_session()
            return None

    monkeypatch.setattr(monitored_session, "with_recovery", with_recovery)


def init_fn_after_restore(monkeypatch, calls):
    """Scaffold.init_fn runs although a checkpoint was restored."""
    original = ChiefSessionCreator.create_session

    def create_session(self):
        session = original(self)
        if session.restored_checkpoint:
            calls.count += 1
            self.scaffold.run_init_fn(session)
        return session

    monkeypatch.setattr(ChiefSessionCreator, "create_session", create_session)


# -- global step ---------------------------------------------------------------


def failed_step_advances_global_step(monkeypatch, calls):
    """A step that raises (end of input) still counts."""
    original = StepSession.run_step

    def run_step(self, *args, **kwargs):
        try:
            return original(self, *args, **kwargs)
        except Exception:
            calls.count += 1
            self.global_step.assign_add(1)
            self.resync_global_step()
            raise

    monkeypatch.setattr(StepSession, "run_step", run_step)


# -- feeds --------------------------------------------------------------------


def hook_feeds_dropped(monkeypatch, calls):
    """Only the caller's feed_dict reaches the step."""
    monkeypatch.setattr(
        monitored_session,
        "merged_feeds",
        calls(lambda user_feeds, hook_feeds, stepping, fetches: {}),
    )


def feed_conflicts_ignored(monkeypatch, calls):
    """The same key fed twice: the last value wins, no error."""
    from keras_monitored import _run_feeds

    ignore = calls(lambda first, second, message: None)
    monkeypatch.setattr(hook_list, "check_feed_conflicts", ignore)
    monkeypatch.setattr(_run_feeds, "check_feed_conflicts", ignore)


# -- checkpoints and loops ----------------------------------------------------


def variable_left_out_of_checkpoints(monkeypatch, calls):
    """Checkpoints leave a variable (`k`) out, and nothing complains."""
    original = _checkpointing.build_root

    def build_root(items, *args):
        calls.count += 1
        items = {key: value for key, value in items.items() if key != "k"}
        return original(items, *args)

    monkeypatch.setattr(_checkpointing, "build_root", build_root)
    monkeypatch.setattr(
        _written_variables, "unsaved_variables", lambda *args: []
    )


def loops_ignore_trigger_steps(monkeypatch, calls):
    """Multi-step loops run steps_per_loop steps whatever the hooks need."""
    monkeypatch.setattr(
        HookList, "next_trigger_step", calls(lambda self, global_step: None)
    )


MUTATIONS = {
    "hook call order: after_run reversed": (
        reverse_after_run,
        [basic.several_hooks_order],
    ),
    "stop timing: later hooks miss after_run": (
        stop_cuts_the_phase_short,
        [basic.stop_at_step_last_step],
    ),
    "stop timing: honoured a run late": (
        stop_honoured_a_run_late,
        [basic.request_stop_mid_run],
    ),
    "save timing: deferred to the end of the phase": (
        saves_deferred_to_phase_end,
        [
            defaults.default_hooks_every_n_steps,
            basic.checkpoint_saver_listener_timing,
            defaults.hook_error_after_save,
        ],
    ),
    "variable fetch: value after the step": (
        variables_fetched_after_the_step,
        [fetches.variable_fetch_before_step, fetches.results_plus_one_idiom],
    ),
    "summary step: off by one": (
        summary_step_off_by_one,
        [defaults.default_hooks_every_n_steps],
    ),
    "summaries: hook scalars not simple_value": (
        hook_scalars_as_tensors,
        [defaults.summaries_in_summary_dir],
    ),
    "MTS default hooks: saver moved last": (
        default_saver_moved_last,
        [
            defaults.all_defaults_with_checkpoint_dir,
            defaults.default_hooks_every_n_steps,
        ],
    ),
    "recovery: no restore": (
        recovery_without_restore,
        [basic.recovery_after_one_aborted_error],
    ),
    "recovery: retried without a new session": (
        retry_without_new_session,
        [
            basic.recovery_after_one_aborted_error,
            defaults.recovery_after_save_in_same_phase,
        ],
    ),
    "recovery: failed call not re-run": (
        failed_call_not_retried,
        [defaults.recovery_from_unavailable_in_before_run],
    ),
    "init_fn: run after a restore": (
        init_fn_after_restore,
        [defaults.init_fn_on_fresh_start_only],
    ),
    "global step: advanced by a failed step": (
        failed_step_advances_global_step,
        [
            basic.out_of_range_at_step_k,
            defaults.out_of_range_saves_last_completed_step,
            defaults.steps_per_loop_input_runs_out,
        ],
    ),
    "feeds: hook feeds dropped": (
        hook_feeds_dropped,
        [basic.hook_feed_dict],
    ),
    "feeds: conflicts ignored": (
        feed_conflicts_ignored,
        [basic.two_hooks_feed_conflict, basic.hook_and_user_feed_conflict],
    ),
    "checkpoints: a variable left out": (
        variable_left_out_of_checkpoints,
        [defaults.every_variable_at_every_save],
    ),
    "steps_per_loop: loops ignore trigger steps": (
        loops_ignore_trigger_steps,
        [defaults.steps_per_loop_against_single_steps],
    ),
}

CASES = [
    pytest.param(mutate, scenario, id=f"{name} / {scenario.__name__}")
    for name, (mutate, scenarios) in MUTATIONS.items()
    for scenario in scenarios
]


@pytest.mark.parametrize("mutate, scenario", CASES)
def test_mutation_is_caught(mutate, scenario, monkeypatch, tmp_path):
    calls = Calls()
    mutate(monkeypatch, calls)
    assert_caught(scenario, tmp_path, calls)
