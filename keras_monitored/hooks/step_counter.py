"""StepCounterHook: global steps per second, logged and written to
TensorBoard as `global_step/sec`."""

from __future__ import annotations

import time
from typing import Any

from absl import logging

from keras_monitored import _summary_writers as summary_writers
from keras_monitored import _validation
from keras_monitored.hooks.timer import Clock, SecondOrStepTimer
from keras_monitored.session_run_hook import SessionRunArgs, SessionRunHook

SUMMARY_TAG = "global_step/sec"


class StepCounterHook(SessionRunHook):
    """Measures global steps per second every N steps or seconds.

    The rate is global-step based, so a run that executes several steps (a
    multi-step loop) is counted correctly. The value is logged as
    `global_step/sec: <rate>` and written as the scalar `global_step/sec` at
    the current global step (TF1's tag, as a TF1 `simple_value`: TF1 event
    readers see it). Nothing is reported at the first
    trigger, which only starts the clock.

    Args:
      every_n_steps: report every N global steps.
      every_n_secs: report every N seconds.
      output_dir: TensorBoard log directory (a shared writer per directory).
      summary_writer: a `tf.summary.SummaryWriter` to use instead.
      clock: the time source (tests pass a fake clock).

    Raises:
      ValueError: not exactly one of `every_n_steps` and `every_n_secs`.
      TypeError: an argument of the wrong type.

    Example:

    ```python
    km.hooks.StepCounterHook(every_n_steps=100, output_dir="/tmp/run")
    ```
    """

    def __init__(
        self,
        every_n_steps: int | None = 100,
        every_n_secs: float | None = None,
        output_dir: str | None = None,
        summary_writer: Any = None,
        *,
        clock: Clock = time.time,
    ):
        if (every_n_steps is None) == (every_n_secs is None):
            raise ValueError(
                _validation.tf1_message(
                    "exactly one of every_n_steps and every_n_secs should be "
                    "provided.",
                    every_n_steps=every_n_steps,
                    every_n_secs=every_n_secs,
                )
            )
        self._timer = SecondOrStepTimer(
            every_steps=every_n_steps,
            every_secs=every_n_secs,
            clock=clock,
            arg_names=("every_n_secs", "every_n_steps"),
        )
        self._output_dir = _validation.check_optional_dir(
            "output_dir", output_dir
        )
        self._explicit_writer = summary_writers.check_summary_writer(
            summary_writer
        )
        self._summary_writer = None
        self._last_global_step: int | None = None

    def after_create_session(self, session: Any, coord: Any) -> None:
        del coord
        self._summary_writer = summary_writers.active_writer(
            self._explicit_writer, self._output_dir, session
        )

    def before_run(self, run_context: Any) -> SessionRunArgs:
        del run_context
        return SessionRunArgs("global_step")

    def after_run(self, run_context: Any, run_values: Any) -> None:
        del run_context
        global_step = int(run_values.results)
        if self._timer.should_trigger_for_step(global_step):
            elapsed_secs, elapsed_steps = (
                self._timer.update_last_triggered_step(global_step)
            )
            if elapsed_secs is not None:
                self._log_and_record(elapsed_steps, elapsed_secs, global_step)
        if global_step == self._last_global_step:
            logging.log_first_n(
                logging.WARNING,
                "It seems that global step has not been increased. Current value "
                "(could be stable): %s vs previous value: %s. A step function "
                "given as `km.Scaffold(global_step=...)` must advance that "
                "variable itself.",
                5,
                global_step,
                self._last_global_step,
            )
        self._last_global_step = global_step

    def end(self, session: Any) -> None:
        del session
        if self._summary_writer is not None:
            self._summary_writer.flush()

    def next_trigger_step(self, global_step: int) -> int | None:
        return self._timer.next_trigger_step(global_step)

    def _log_and_record(
        self, elapsed_steps: int, elapsed_secs: float, global_step: int
    ) -> None:
        steps_per_sec = (
            elapsed_steps / elapsed_secs if elapsed_secs > 0 else float("inf")
        )
        if self._summary_writer is not None:
            summary_writers.write_simple_value(
                self._summary_writer, SUMMARY_TAG, steps_per_sec, global_step
            )
        logging.info("%s: %g", SUMMARY_TAG, steps_per_sec)
