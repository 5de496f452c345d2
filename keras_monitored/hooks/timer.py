"""When periodic hooks fire: the one steps-or-seconds trigger they all share.

`SecondOrStepTimer` keeps TF1's semantics (first call triggers, at most once
per step, `every_secs` or `every_steps`), takes the clock as an argument so
tests need no sleeps, and can say which global step it fires at next, so
multi-step loops end exactly there.
"""

from __future__ import annotations

import time
from typing import Callable

from keras_monitored import _validation

Clock = Callable[[], float]


class SecondOrStepTimer:
    """Triggers at most once every `every_secs` seconds or `every_steps` steps.

    Args:
      every_secs: fire when this many seconds passed since the last trigger.
      every_steps: fire when the global step is this far past the last
        trigger.
      clock: returns the current time in seconds (default `time.time`).
      arg_names: the names of the two intervals in the caller's signature,
        for error messages (a hook's `save_secs`, `save_steps`).

    Raises:
      ValueError: neither or both of `every_secs` and `every_steps`, or a
        value <= 0.
      TypeError: a value that is not a number.

    Example:

    ```python
    timer = SecondOrStepTimer(every_steps=100)
    if timer.should_trigger_for_step(step):
        timer.update_last_triggered_step(step)
        save()
    ```
    """

    def __init__(
        self,
        every_secs: float | None = None,
        every_steps: int | None = None,
        *,
        clock: Clock = time.time,
        arg_names: tuple[str, str] = ("every_secs", "every_steps"),
    ):
        secs_name, steps_name = arg_names
        # TF1's words; the values under the caller's names.
        received = {secs_name: every_secs, steps_name: every_steps}
        if every_secs is None and every_steps is None:
            raise ValueError(
                _validation.tf1_message(
                    "Either every_secs or every_steps should be provided.",
                    **received,
                )
            )
        if every_secs is not None and every_steps is not None:
            raise ValueError(
                _validation.tf1_message(
                    "Can not provide both every_secs and every_steps.",
                    **received,
                )
            )
        self._every_secs = _validation.check_number(
            secs_name, every_secs, strictly_positive=True, allow_none=True
        )
        self._every_steps = _validation.check_int(
            steps_name, every_steps, minimum=1, allow_none=True
        )
        self._clock = _validation.check_callable(
            "clock", clock, allow_none=False
        )
        self.reset()

    @property
    def every_secs(self) -> float | None:
        return self._every_secs

    @property
    def every_steps(self) -> int | None:
        return self._every_steps

    def reset(self) -> None:
        """Forgets the last trigger; the next check fires."""
        self._last_triggered_step: int | None = None
        self._last_triggered_time: float | None = None

    def should_trigger_for_step(self, step: int) -> bool:
        """True if the timer fires at `step` (first call: always)."""
        if self._last_triggered_step is None:
            return True
        if step == self._last_triggered_step:
            return False
        if self._every_secs is not None:
            return self._clock() >= self._last_triggered_time + self._every_secs
        return step >= self._last_triggered_step + self._every_steps

    def update_last_triggered_step(
        self, step: int
    ) -> tuple[float | None, int | None]:
        """Records a trigger at `step`.

        Returns:
          (seconds, steps) since the previous trigger; (None, None) the first
          time.
        """
        now = self._clock()
        if self._last_triggered_step is None:
            elapsed = (None, None)
        else:
            elapsed = (
                now - self._last_triggered_time,
                int(step) - self._last_triggered_step,
            )
        self._last_triggered_step = int(step)
        self._last_triggered_time = now
        return elapsed

    def last_triggered_step(self) -> int | None:
        """The step of the last trigger, or None."""
        return self._last_triggered_step

    def get_state(self) -> dict[str, int | None]:
        """What a resumed timer needs: the step of the last trigger."""
        return {"last_triggered_step": self._last_triggered_step}

    def set_state(self, state: dict[str, int | None]) -> None:
        """Resumes from `get_state()`: the last trigger counts as now."""
        step = state.get("last_triggered_step")
        if step is None:
            self.reset()
            return
        self._last_triggered_step = int(step)
        self._last_triggered_time = self._clock()

    def next_trigger_step(self, step: int) -> int | None:
        """The first global step > `step` at which a steps timer fires.

        None for a seconds timer (time cannot be predicted in steps).
        """
        if self._every_steps is None:
            return None
        if self._last_triggered_step is None:
            return int(step) + 1
        return max(int(step) + 1, self._last_triggered_step + self._every_steps)


class NeverTriggerTimer(SecondOrStepTimer):
    """A timer that never fires (for hooks that act only at the end)."""

    def __init__(self):  # pylint: disable=super-init-not-called
        self._every_secs = None
        self._every_steps = None
        self.reset()

    def should_trigger_for_step(self, step: int) -> bool:
        del step
        return False

    def update_last_triggered_step(
        self, step: int
    ) -> tuple[float | None, int | None]:
        del step
        return (None, None)

    def next_trigger_step(self, step: int) -> int | None:
        del step
        return None
