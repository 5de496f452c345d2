"""Recording the `tf.summary` calls a step function makes, on chosen steps.

In TF2 a `tf.summary.scalar` inside a `tf.function` writes through the
default writer and `record_if` condition captured when the function is
traced. A session therefore traces its step inside one writer and a record
condition that reads variables at run time: a hook that wants the summaries
of a step sets its target variable to that step's global step, and only that
step writes. Summaries are written with step = the global step after the
step, TF1's SummarySaverHook convention (first summary at step 1).
"""

from __future__ import annotations

import contextlib
from typing import Any, Iterator

import tensorflow as tf

from keras_monitored import summary_writers


class StepSummaryRecorder:
    """The writer and record conditions a session traces its steps with.

    Args:
      destination: a log directory, or a `tf.summary.SummaryWriter`.
    """

    def __init__(self, destination: Any):
        self.destination = destination
        if isinstance(destination, str):
            self.writer = summary_writers.writer_for(destination)
        else:
            self.writer = destination
        self._targets: list[tf.Variable] = []
        self._traced = False

    def add_target(self) -> tf.Variable:
        """A new target variable: set it to a global step to record that step.

        Raises:
          RuntimeError: the step function was already compiled.
        """
        if self._traced:
            raise RuntimeError(
                "A summary hook was registered after the step function was "
                "compiled; register it before the first run."
            )
        with tf.init_scope():
            target = tf.Variable(
                -1, dtype=tf.int64, trainable=False, name="summary_target_step"
            )
        self._targets.append(target)
        return target

    @contextlib.contextmanager
    def recording(self, summary_step: tf.Tensor) -> Iterator[None]:
        """While tracing: summaries go to the writer at `summary_step`, if it
        is some target's step."""
        self._traced = True
        hits = [
            tf.equal(summary_step, target.read_value())
            for target in self._targets
        ]
        condition = (
            tf.reduce_any(tf.stack(hits)) if hits else tf.constant(False)
        )
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
