"""StopAtStepHook: request a stop when the global step reaches a limit."""

from __future__ import annotations

from typing import Any

from keras_monitored import _validation
from keras_monitored.session_run_hook import SessionRunArgs, SessionRunHook


class StopAtStepHook(SessionRunHook):
    """Requests a stop after `num_steps` more steps, or at `last_step`.

    `num_steps` counts from the global step at session creation; `last_step`
    is absolute. The computed last step is saved with checkpoints: a run
    that crashes and resumes stops at the same step it would have stopped at
    uninterrupted, while a run restarted from a checkpoint that already
    reached its last step trains `num_steps` more, as TF1 did.

    Args:
      num_steps: number of steps to run after the session is created.
      last_step: the global step after which to stop.

    Raises:
      ValueError: neither or both of `num_steps` and `last_step`, or a
        negative value.
      TypeError: a value that is not an integer.

    Example:

    ```python
    with km.MonitoredTrainingSession(
            hooks=[km.hooks.StopAtStepHook(last_step=1000)]) as sess:
        while not sess.should_stop():
            sess.run(train_step)
    ```
    """

    def __init__(
        self, num_steps: int | None = None, last_step: int | None = None
    ):
        if num_steps is None and last_step is None:
            raise ValueError(
                _validation.tf1_message(
                    "One of num_steps or last_step must be specified.",
                    num_steps=num_steps,
                    last_step=last_step,
                )
            )
        if num_steps is not None and last_step is not None:
            raise ValueError(
                _validation.tf1_message(
                    "Only one of num_steps or last_step can be specified.",
                    num_steps=num_steps,
                    last_step=last_step,
                )
            )
        self._num_steps = _validation.check_int(
            "num_steps", num_steps, minimum=0, allow_none=True
        )
        self._last_step = _validation.check_int(
            "last_step", last_step, minimum=0, allow_none=True
        )
        self._saved_last_step: int | None = None

    @property
    def last_step(self) -> int | None:
        """The global step at which the hook stops (None before creation)."""
        return self._last_step

    def after_create_session(self, session: Any, coord: Any) -> None:
        del coord
        if self._last_step is not None:
            return
        global_step = int(session.run("global_step"))
        if (
            self._saved_last_step is not None
            and global_step < self._saved_last_step
        ):
            self._last_step = self._saved_last_step
        else:
            self._last_step = global_step + self._num_steps

    def before_run(self, run_context: Any) -> SessionRunArgs:
        del run_context
        return SessionRunArgs("global_step")

    def after_run(self, run_context: Any, run_values: Any) -> None:
        if run_values.results >= self._last_step:
            run_context.request_stop()

    def next_trigger_step(self, global_step: int) -> int | None:
        """The step to stop at, so a multi-step loop ends exactly there."""
        del global_step
        return self._last_step

    def get_state(self) -> dict[str, Any] | None:
        if self._num_steps is None or self._last_step is None:
            return None
        return {"last_step": self._last_step}

    def set_state(self, state: dict[str, Any]) -> None:
        self._saved_last_step = int(state["last_step"])
