"""Recording the `tf.summary` calls a step function makes, on chosen steps.

In TF2 a `tf.summary.scalar` inside a `tf.function` writes through the
default writer and `record_if` condition captured when the function is
traced. A session therefore traces its step inside one writer and a record
condition evaluated at run time: a hook that wants the summaries of a step
sets its target to that step's global step, and only that step writes. Summaries are written with step = the global step after the
step, TF1's SummarySaverHook convention (first summary at step 1).
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import tensorflow as tf

from keras_monitored import _summary_writers as summary_writers


class SummaryTarget:
    """Where one hook says which step's summaries it wants written."""

    def __init__(self, targets: list[int], index: int):
        self._targets = targets
        self._index = index

    def assign(self, step: int) -> None:
        """Records the step (the global step after it) to write; -1: none."""
        self._targets[self._index] = int(step)


class StepSummaryRecorder:
    """The writer and record condition a session traces its steps with.

    The steps to record are passed to every call of the compiled step as a
    small tensor (one entry per hook): no variable is created, so nothing
    differs between the workers of a collective strategy.

    Args:
      destination: a log directory, or a `tf.summary.SummaryWriter`.
    """

    def __init__(self, destination: Any):
        self.destination = destination
        if isinstance(destination, str):
            self.writer = summary_writers.writer_for(destination)
        else:
            self.writer = destination
        self.targets: list[int] = []
        self._traced = False
        self._tensor_key: tuple[int, ...] | None = None
        self._tensor: tf.Tensor | None = None

    def add_target(self) -> SummaryTarget:
        """A new target for one hook (initially: record nothing).

        Raises:
          RuntimeError: the step function was already compiled.
        """
        if self._traced:
            raise RuntimeError(
                "A summary hook was registered after the step function was "
                "compiled; register it before the first run."
            )
        self.targets.append(-1)
        return SummaryTarget(self.targets, len(self.targets) - 1)

    def targets_tensor(self) -> tf.Tensor:
        """The steps to record, as the compiled step's input (made again
        only when a target changed: most steps change none)."""
        key = tuple(self.targets)
        if key != self._tensor_key:
            self._tensor_key = key
            self._tensor = tf.constant(key, tf.int64, shape=[len(key)])
        return self._tensor

    @contextlib.contextmanager
    def recording(
        self, summary_step: tf.Tensor, targets: tf.Tensor
    ) -> Iterator[None]:
        """While tracing: summaries go to the writer at `summary_step`, if it
        is one of `targets`."""
        self._traced = True
        condition = tf.reduce_any(tf.equal(summary_step, targets))
        with (
            self.writer.as_default(step=summary_step),
            tf.summary.record_if(condition),
        ):
            yield

    def writes_to(self, destination: Any) -> bool:
        """True if `destination` (directory or writer) is this recorder's."""
        if isinstance(destination, str):
            return summary_writers.writer_for(destination) is self.writer
        return destination is self.writer


def summary_step_after(global_step: Any) -> tf.Tensor:
    """The global step a step will have reached when it is done (int64)."""
    return tf.cast(tf.convert_to_tensor(global_step), tf.int64) + 1
