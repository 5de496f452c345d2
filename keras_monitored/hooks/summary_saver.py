"""SummarySaverHook: write the step's `tf.summary` calls (or named outputs)
to TensorBoard every N steps or seconds."""

from __future__ import annotations

import time
from typing import Any, Sequence

import numpy as np
import tensorflow as tf

from keras_monitored import _summary_writers as summary_writers
from keras_monitored import _validation
from keras_monitored._fetches import check_fetches
from keras_monitored.hooks.timer import Clock, SecondOrStepTimer
from keras_monitored.scaffold import as_scaffold
from keras_monitored.session_run_hook import SessionRunArgs, SessionRunHook


class SummarySaverHook(SessionRunHook):
    """Saves summaries on the first step and every N steps or seconds.

    Without `summary_op` (TF1 needed a `scaffold` or a `summary_op`; in TF2
    neither is required) the `tf.summary.*` calls made inside the step
    function are recorded on those steps only: the session traces the step
    under a default writer and a `tf.summary.record_if` condition that this
    hook switches on for the chosen steps. With `summary_op` — step-output
    names, or names published with `km.expose` — those values are written as
    scalars (TF1 `simple_value`s, as TF1 wrote them; histograms when not
    scalar). Summaries carry the global step
    after the step, TF1's convention (first at step 1); the first step also
    writes TF1's `SessionLog(START)`, so TensorBoard drops points an earlier,
    interrupted run left past the restored step.

    Args:
      save_steps: save every N global steps.
      save_secs: save every N seconds.
      output_dir: TensorBoard log directory.
      summary_writer: a `tf.summary.SummaryWriter` to use instead.
      scaffold: accepted for TF1 compatibility (the step's summaries are
        recorded, as without it).
      summary_op: an output name or a list of them to write as scalars.
      clock: the time source (tests pass a fake clock).

    Raises:
      ValueError: both `scaffold` and `summary_op`; neither or both of
        `save_steps` and `save_secs`.
      TypeError: an argument of the wrong type.

    Example:

    ```python
    def step(batch):
        loss = ...
        tf.summary.scalar("loss", loss)   # recorded every 100 steps
        return {"loss": loss}

    hook = km.hooks.SummarySaverHook(save_steps=100, output_dir="/tmp/run")
    ```
    """

    def __init__(
        self,
        save_steps: int | None = None,
        save_secs: float | None = None,
        output_dir: str | None = None,
        summary_writer: Any = None,
        scaffold: Any = None,
        summary_op: str | Sequence[str] | None = None,
        *,
        clock: Clock = time.time,
    ):
        if scaffold is not None and summary_op is not None:
            raise ValueError(
                _validation.tf1_message(
                    "Exactly one of scaffold or summary_op must be provided.",
                    "In TF2 neither is needed: without summary_op the step's "
                    "tf.summary calls are recorded.",
                    scaffold=scaffold,
                    summary_op=summary_op,
                )
            )
        self._timer = SecondOrStepTimer(
            every_secs=save_secs,
            every_steps=save_steps,
            clock=clock,
            arg_names=("save_secs", "save_steps"),
        )
        self._output_dir = _validation.check_optional_dir(
            "output_dir", output_dir
        )
        self._explicit_writer = summary_writers.check_summary_writer(
            summary_writer
        )
        self._summary_writer = None
        self._scaffold = as_scaffold(scaffold) if scaffold is not None else None
        self._summary_names = _summary_names(summary_op)
        self._target: tf.Variable | None = None
        self._first = True
        self._last_global_step = 0
        self._request = False

    def begin(self) -> None:
        self._first = True

    def after_create_session(self, session: Any, coord: Any) -> None:
        del coord
        self._summary_writer = summary_writers.active_writer(
            self._explicit_writer, self._output_dir, session
        )
        self._last_global_step = int(session.run("global_step"))
        # Every new session (also one recreated after a failure) compiles
        # its steps afresh, so each needs the record condition again.
        if self._summary_names is None and self._summary_writer is not None:
            self._target = session.record_step_summaries(
                self._output_dir or self._summary_writer
            )

    def before_run(self, run_context: Any) -> SessionRunArgs:
        steps = run_context.num_steps
        target_step = self._last_global_step + steps
        self._request = steps > 0 and (
            self._first or self._timer.should_trigger_for_step(target_step)
        )
        if self._first and steps > 0 and self._summary_writer is not None:
            # TF1's SessionLog(START), before the step's own summaries (they
            # are written while it runs): TensorBoard drops points an
            # earlier, interrupted run left at this step or later, and keeps
            # this run's first one.
            summary_writers.write_session_start(
                self._summary_writer, target_step
            )
        if self._request and self._target is not None:
            self._target.assign(target_step)
        if self._request and self._summary_names:
            return SessionRunArgs(
                {"global_step": "global_step", "summary": self._summary_names}
            )
        return SessionRunArgs({"global_step": "global_step"})

    def after_run(self, run_context: Any, run_values: Any) -> None:
        del run_context
        global_step = int(run_values.results["global_step"])
        if self._summary_writer is not None:
            if self._request:
                self._timer.update_last_triggered_step(global_step)
                if "summary" in run_values.results:
                    self._write_named(
                        run_values.results["summary"], global_step
                    )
        if self._request:
            self._first = False
        self._last_global_step = global_step

    def end(self, session: Any) -> None:
        del session
        if self._summary_writer is not None:
            self._summary_writer.flush()

    def next_trigger_step(self, global_step: int) -> int | None:
        if self._first:
            return int(global_step) + 1
        return self._timer.next_trigger_step(global_step)

    def _write_named(self, values: dict, global_step: int) -> None:
        for name, value in zip(self._summary_names, values):
            value = np.asarray(value)
            if value.ndim == 0:
                summary_writers.write_simple_value(
                    self._summary_writer, name, value, global_step
                )
            else:
                with self._summary_writer.as_default():
                    tf.summary.histogram(name, value, step=global_step)


def _summary_names(summary_op: Any) -> list[str] | None:
    if summary_op is None:
        return None
    names = [summary_op] if isinstance(summary_op, str) else summary_op
    if isinstance(names, (bytes,)) or not hasattr(names, "__iter__"):
        raise TypeError(
            _validation.invalid(
                "summary_op",
                summary_op,
                "an output name or a list of output names",
            )
        )
    names = list(names)
    check_fetches("summary_op", names)
    for name in names:
        if not isinstance(name, str):
            raise TypeError(
                _validation.invalid(
                    "summary_op",
                    summary_op,
                    "output names (str); return the value from the step function to name it",
                )
            )
    return names
