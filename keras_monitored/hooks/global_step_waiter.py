"""GlobalStepWaiterHook: hold a worker back until training reached a step."""

from __future__ import annotations

import time
from typing import Any, Callable

from absl import logging

from keras_monitored import _validation
from keras_monitored._checkpoint_directory import (
    checkpoint_step,
    latest_checkpoint,
)
from keras_monitored.session_run_hook import SessionRunHook


class GlobalStepWaiterHook(SessionRunHook):
    """Blocks the first run until the global step reaches `wait_until_step`.

    TF1 used it to stagger workers that shared a parameter-server global
    step. In TF2 a worker's own global step only moves when it trains, so
    give `checkpoint_dir` to wait for the *chief's* progress: the wait ends
    when the session's global step or the chief's latest checkpoint step
    reaches `wait_until_step`. Without `checkpoint_dir` (and under collective
    strategies, whose workers run in lockstep) nothing could end the wait, so
    the hook logs a warning and lets the worker start.

    Args:
      wait_until_step: the step to wait for (<= 0: no wait).
      checkpoint_dir: the chief's checkpoint directory to watch.
      poll_secs: seconds between checks (TF1: 0.5).
      sleep: the sleep function (tests pass a fake one).

    Raises:
      TypeError: `wait_until_step` is not an integer.

    Example:

    ```python
    km.hooks.GlobalStepWaiterHook(task_index * 1000, checkpoint_dir=ckpt_dir)
    ```
    """

    def __init__(
        self,
        wait_until_step: int,
        *,
        checkpoint_dir: str | None = None,
        poll_secs: float = 0.5,
        sleep: Callable[[float], None] = time.sleep,
    ):
        self._wait_until_step = _validation.check_int(
            "wait_until_step", wait_until_step
        )
        self._checkpoint_dir = _validation.check_optional_dir(
            "checkpoint_dir", checkpoint_dir
        )
        self._poll_secs = _validation.check_number(
            "poll_secs", poll_secs, minimum=0
        )
        self._sleep = _validation.check_callable(
            "sleep", sleep, allow_none=False
        )
        self._worker_is_started = False

    def begin(self) -> None:
        self._worker_is_started = False

    def before_run(self, run_context: Any) -> None:
        if self._worker_is_started:
            return None
        if self._wait_until_step <= 0:
            self._worker_is_started = True
            return None
        session = run_context.session
        if session.is_collective or not self._checkpoint_dir:
            # Nothing could move the step while we wait: under a collective
            # strategy every worker trains in lockstep, and a TF2 worker has no
            # shared global step to watch unless given the chief's directory.
            if int(session.run("global_step")) < self._wait_until_step:
                logging.warning(
                    "GlobalStepWaiterHook(%d): nothing can advance the global "
                    "step while this worker waits, so it starts now. Pass "
                    "checkpoint_dir= (the chief's) to wait for the chief.",
                    self._wait_until_step,
                )
            self._worker_is_started = True
            return None
        logging.info(
            "Waiting for global step %d before starting training.",
            self._wait_until_step,
        )
        last_logged_step = 0
        while True:
            current = self._current_step(run_context.session)
            if current >= self._wait_until_step:
                self._worker_is_started = True
                return None
            if current - last_logged_step > 1000:
                logging.info(
                    "Waiting for global step %d before starting training. Current step is %d.",
                    self._wait_until_step,
                    current,
                )
                last_logged_step = current
            self._sleep(self._poll_secs)

    def _current_step(self, session: Any) -> int:
        current = int(session.run("global_step"))
        chief = checkpoint_step(latest_checkpoint(self._checkpoint_dir))
        if chief is not None:
            current = max(current, chief)
        return current
