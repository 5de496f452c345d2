"""ProgressBarHook: a Keras progress bar (or a rate line) for long runs."""

from __future__ import annotations

import contextlib
import sys
import time
from typing import Any, Iterable, Mapping, TextIO

import keras

from keras_monitored import _validation
from keras_monitored._fetches import tagged_fetches
from keras_monitored.hooks.timer import Clock, SecondOrStepTimer
from keras_monitored.session_run_hook import SessionRunArgs, SessionRunHook


class ProgressBarHook(SessionRunHook):
    """Shows training progress on a terminal.

    When the last step is known (`last_step`, or a `StopAtStepHook` in the
    same session) it draws Keras's progress bar over the global steps of
    this run; otherwise it prints a rate line such as
    `step: 1200 | steps/sec: 845.3 | loss: 0.031`. It is quiet when `stream`
    is not a terminal (logs and CI output stay clean). Values are fetched
    only on the steps it redraws.

    Args:
      last_step: the global step the run ends at, if known.
      tensors: a dict `tag -> fetch` or a list of fetches to show.
      every_n_secs: redraw at most this often.
      stream: where to draw (default: `sys.stdout`).
      clock: the time source (tests pass a fake clock).

    Raises:
      TypeError, ValueError: an argument of the wrong type or value.

    Example:

    ```python
    km.hooks.ProgressBarHook(tensors=["loss"])
    ```
    """

    def __init__(
        self,
        last_step: int | None = None,
        tensors: Mapping[str, Any] | Iterable[Any] | None = None,
        every_n_secs: float = 0.5,
        stream: TextIO | None = None,
        *,
        clock: Clock = time.time,
    ):
        self._last_step = _validation.check_int(
            "last_step", last_step, minimum=1, allow_none=True
        )
        self._tensors: dict[str, Any] = {}
        if tensors is not None:
            tags, fetches = tagged_fetches("tensors", tensors)
            self._tensors = {
                str(tag): fetch for tag, fetch in zip(tags, fetches)
            }
        self._timer = SecondOrStepTimer(
            every_secs=every_n_secs,
            clock=clock,
            arg_names=("every_n_secs", "every_steps"),
        )
        self._clock = clock
        if stream is not None and not callable(getattr(stream, "write", None)):
            raise TypeError(
                _validation.invalid(
                    "stream", stream, "a text stream (with write) or None"
                )
            )
        self._stream = stream
        self._bar = None
        self._start_step = 0
        self._last_global_step = 0
        self._rate_anchor: tuple[float, int] | None = None
        self._redraw = False
        self._session = None

    def _out(self) -> TextIO:
        return self._stream if self._stream is not None else sys.stdout

    def _enabled(self) -> bool:
        isatty = getattr(self._out(), "isatty", None)
        return bool(isatty and isatty())

    def after_create_session(self, session: Any, coord: Any) -> None:
        del coord
        self._session = session
        self._start_step = self._last_global_step = int(
            session.run("global_step")
        )
        self._rate_anchor = (self._clock(), self._start_step)
        self._bar = None

    def before_run(self, run_context: Any) -> SessionRunArgs | None:
        steps = run_context.num_steps
        target = self._last_global_step + steps
        self._redraw = (
            self._enabled()
            and steps > 0
            and self._timer.should_trigger_for_step(target)
        )
        if self._redraw and self._tensors:
            return SessionRunArgs(
                {"global_step": "global_step", "values": self._tensors}
            )
        return SessionRunArgs({"global_step": "global_step"})

    def after_run(self, run_context: Any, run_values: Any) -> None:
        del run_context
        global_step = int(run_values.results["global_step"])
        self._last_global_step = global_step
        if self._redraw:
            self._timer.update_last_triggered_step(global_step)
            self._draw(
                global_step, run_values.results.get("values", {}), final=False
            )

    def end(self, session: Any) -> None:
        del session
        if self._enabled() and self._bar is not None:
            self._draw(self._last_global_step, {}, final=True)

    def _target(self) -> int | None:
        if self._last_step is not None:
            return self._last_step
        if self._session is None:
            return None
        return self._session.last_step_hint()

    def _draw(
        self, global_step: int, values: Mapping[str, Any], final: bool
    ) -> None:
        target = self._target()
        pairs = [(tag, float(value)) for tag, value in values.items()]
        with contextlib.redirect_stdout(self._out()):
            if target is not None and target > self._start_step:
                if self._bar is None:
                    self._bar = keras.utils.Progbar(
                        target - self._start_step,
                        stateful_metrics=list(self._tensors),
                        unit_name="step",
                    )
                self._bar.update(
                    min(global_step, target) - self._start_step,
                    values=pairs or None,
                    finalize=final or global_step >= target,
                )
            else:
                now = self._clock()
                anchor_time, anchor_step = self._rate_anchor
                rate = (
                    (global_step - anchor_step) / (now - anchor_time)
                    if now > anchor_time
                    else 0.0
                )
                self._rate_anchor = (now, global_step)
                line = " | ".join(
                    [f"step: {global_step}", f"steps/sec: {rate:.1f}"]
                    + [f"{t}: {v:.4g}" for t, v in pairs]
                )
                self._out().write(line + "\n")
                self._out().flush()
