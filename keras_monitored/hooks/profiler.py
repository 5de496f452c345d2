"""ProfilerHook: capture a TensorFlow profile every N steps or seconds."""

from __future__ import annotations

import os
import time
from typing import Any

import tensorflow as tf
from absl import logging

from keras_monitored import _validation
from keras_monitored.hooks.timer import Clock, SecondOrStepTimer
from keras_monitored.session_run_hook import SessionRunArgs, SessionRunHook

PROFILE_SUBDIR = os.path.join("plugins", "profile")


class ProfilerHook(SessionRunHook):
    """Profiles one step every N steps or seconds with the TF2 profiler.

    TF1 wrote Chrome traces (`timeline-<step>.json`) from RunMetadata, which
    TF2 no longer produces. This hook runs `tf.profiler.experimental` around
    the chosen step instead; each capture lands in
    `<output_dir>/plugins/profile/<time>_step_<global step>/`, which
    TensorBoard's Profile tab reads. As in TF1 the first step is never
    profiled (the timer starts there), and inside multi-step loops the
    profiled call runs exactly the chosen step.

    Args:
      save_steps: profile every N global steps.
      save_secs: profile every N seconds.
      output_dir: the log directory (default: the current directory).
      show_dataflow: accepted for TF1 compatibility (no TF2 meaning).
      show_memory: accepted for TF1 compatibility (no TF2 meaning).
      clock: the time source (tests pass a fake clock).

    Raises:
      ValueError: neither or both of `save_steps` and `save_secs`.
      TypeError: an argument of the wrong type.

    Example:

    ```python
    km.hooks.ProfilerHook(save_steps=1000, output_dir="/tmp/run")
    ```
    """

    def __init__(
        self,
        save_steps: int | None = None,
        save_secs: float | None = None,
        output_dir: str = "",
        show_dataflow: bool = True,
        show_memory: bool = False,
        *,
        clock: Clock = time.time,
    ):
        self._timer = SecondOrStepTimer(
            every_secs=save_secs,
            every_steps=save_steps,
            clock=clock,
            arg_names=("save_secs", "save_steps"),
        )
        if not isinstance(output_dir, str):
            raise TypeError(
                _validation.invalid(
                    "output_dir",
                    output_dir,
                    "a directory path ('' for the current directory)",
                )
            )
        self._output_dir = output_dir or os.getcwd()
        self._show_dataflow = _validation.check_bool(
            "show_dataflow", show_dataflow
        )
        self._show_memory = _validation.check_bool("show_memory", show_memory)
        self._primed = False
        self._last_global_step = 0
        self._profiling = False
        self.profiled_steps: list[int] = []

    def begin(self) -> None:
        self._primed = False

    def after_create_session(self, session: Any, coord: Any) -> None:
        del coord
        self._last_global_step = int(session.run("global_step"))

    def before_run(self, run_context: Any) -> SessionRunArgs:
        steps = run_context.num_steps
        target = self._last_global_step + steps
        if (
            self._primed
            and steps > 0
            and self._timer.should_trigger_for_step(target)
        ):
            self._start()
        return SessionRunArgs("global_step")

    def after_run(self, run_context: Any, run_values: Any) -> None:
        del run_context
        global_step = int(run_values.results)
        if not self._primed:
            # TF1 starts the timer at the first step, which is never traced.
            self._timer.update_last_triggered_step(self._last_global_step)
            self._primed = True
        if self._profiling:
            self._timer.update_last_triggered_step(global_step)
            self._stop(global_step)
        self._last_global_step = global_step

    def end(self, session: Any) -> None:
        del session
        if self._profiling:
            self._stop(self._last_global_step)

    def next_trigger_step(self, global_step: int) -> int | None:
        """One step before a capture too, so the captured call runs one step."""
        if not self._primed:
            return int(global_step) + 1
        target = self._timer.next_trigger_step(global_step)
        if target is None:
            return None
        return target - 1 if target - 1 > global_step else target

    def _start(self) -> None:
        try:
            tf.profiler.experimental.start(self._output_dir)
        except (
            tf.errors.AlreadyExistsError,
            tf.errors.UnavailableError,
            RuntimeError,
        ) as error:
            logging.warning(
                "ProfilerHook: could not start the profiler: %s", error
            )
            return
        self._runs_before = _profile_runs(self._output_dir)
        self._profiling = True

    def _stop(self, global_step: int) -> None:
        self._profiling = False
        tf.profiler.experimental.stop()
        new_runs = sorted(_profile_runs(self._output_dir) - self._runs_before)
        if not new_runs:
            logging.warning(
                "ProfilerHook: the profiler wrote nothing for step %d.",
                global_step,
            )
            return
        source = os.path.join(self._output_dir, PROFILE_SUBDIR, new_runs[-1])
        destination = f"{source}_step_{global_step}"
        tf.io.gfile.rename(source, destination)
        self.profiled_steps.append(global_step)
        logging.info(
            "Saved profile for step %d into '%s'.", global_step, destination
        )


def _profile_runs(output_dir: str) -> set[str]:
    root = os.path.join(output_dir, PROFILE_SUBDIR)
    if not tf.io.gfile.isdir(root):
        return set()
    return {name.rstrip("/") for name in tf.io.gfile.listdir(root)}
