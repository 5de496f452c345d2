"""SessionOptions: the settings a monitored session is built with, in one
frozen object (as Orbit keeps its options), checked once.

The public constructors keep TF1's signatures and km's keyword-only
additions (`strategy`, `steps_per_loop`, `max_to_keep`); inside, the session
creator, the session and the checkpoint writers read them from here.
"""

from __future__ import annotations

import dataclasses
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
    """

    strategy: tf.distribute.Strategy | None = None
    steps_per_loop: int = 1
    max_to_keep: int | None = 5

    @classmethod
    def checked(
        cls,
        *,
        strategy: Any = None,
        steps_per_loop: Any = 1,
        max_to_keep: Any = 5,
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
        )

    def resolved(self) -> "SessionOptions":
        """These options with the strategy decided (the current one if
        none was given)."""
        if self.strategy is not None:
            return self
        return dataclasses.replace(self, strategy=tf.distribute.get_strategy())
