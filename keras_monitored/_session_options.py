"""SessionOptions: the settings a monitored session is built with, in one
frozen object (as Orbit keeps its options), checked once.

The public constructors keep TF1's signatures and km's keyword-only
additions (`strategy`, `steps_per_loop`, `max_to_keep`); inside, the session
creator, the session and the checkpoint writers read them from here.
"""

from __future__ import annotations

import dataclasses
import signal
from typing import Any

import tensorflow as tf

from keras_monitored import _validation


@dataclasses.dataclass(frozen=True)
class SessionOptions:
    """How a monitored session runs.

    Attributes:
      strategy: the `tf.distribute.Strategy` steps run under (None: the
        current one when the session is first created).
      steps_per_loop: the most steps one `run` call may execute.
      max_to_keep: checkpoints kept per directory (None: all).
      async_checkpoint: write checkpoints in the background.
      checkpoint_input: save `tf.data` iterators fed to `run` with each
        checkpoint, under their feed names.
      preemption_signals: signals that preempt the session (finish the step,
        save, stop); `()` handles none.
    """

    strategy: tf.distribute.Strategy | None = None
    steps_per_loop: int = 1
    max_to_keep: int | None = 5
    async_checkpoint: bool = False
    checkpoint_input: bool = False
    preemption_signals: tuple[signal.Signals, ...] = ()

    @classmethod
    def checked(
        cls,
        *,
        strategy: Any = None,
        steps_per_loop: Any = 1,
        max_to_keep: Any = 5,
        async_checkpoint: Any = False,
        checkpoint_input: Any = False,
        preemption_signals: Any = (),
    ) -> "SessionOptions":
        """Options from user arguments.

        Raises:
          TypeError, ValueError: an argument of the wrong type or value,
            named in the message.
        """
        if strategy is not None and not isinstance(
            strategy, tf.distribute.Strategy
        ):
            raise TypeError(
                _validation.invalid(
                    "strategy", strategy, "a tf.distribute.Strategy or None"
                )
            )
        return cls(
            strategy=strategy,
            steps_per_loop=_validation.check_int(
                "steps_per_loop", steps_per_loop, minimum=1
            ),
            max_to_keep=_validation.check_int(
                "max_to_keep", max_to_keep, minimum=1, allow_none=True
            ),
            async_checkpoint=_validation.check_bool(
                "async_checkpoint", async_checkpoint
            ),
            checkpoint_input=_validation.check_bool(
                "checkpoint_input", checkpoint_input
            ),
            preemption_signals=check_signals(
                "preemption_signals", preemption_signals
            ),
        )

    def resolved(self) -> "SessionOptions":
        """These options with the strategy decided (the current one if
        none was given)."""
        if self.strategy is not None:
            return self
        return dataclasses.replace(self, strategy=tf.distribute.get_strategy())


def check_signals(name: str, value: Any) -> tuple[signal.Signals, ...]:
    """Validates a tuple of signals (`signal.SIGTERM`, or their numbers).

    Raises:
      TypeError: not a tuple or list of signals.
      ValueError: a number that is no signal, or one Python cannot handle
        (SIGKILL, SIGSTOP).
    """
    if isinstance(value, (signal.Signals, int)) or not isinstance(
        value, (tuple, list)
    ):
        raise TypeError(
            _validation.invalid(
                name, value, "a tuple of signals, e.g. (signal.SIGTERM,), or ()"
            )
        )
    signals = []
    for item in value:
        if isinstance(item, bool) or not isinstance(item, int):
            raise TypeError(
                _validation.invalid(name, value, "a tuple of signals")
            )
        try:
            number = signal.Signals(item)
        except ValueError:
            raise ValueError(
                _validation.invalid(
                    name, value, f"signals; {item} is no signal number"
                )
            ) from None
        if number in (signal.SIGKILL, signal.SIGSTOP):
            raise ValueError(
                _validation.invalid(
                    name,
                    value,
                    f"signals a process can handle ({number.name} cannot be "
                    "caught)",
                )
            )
        signals.append(number)
    return tuple(dict.fromkeys(signals))
