"""Decisions every worker of a collective strategy must take together.

Under MultiWorkerMirroredStrategy every worker runs the same collectives in
the same order, or all of them wait forever. A decision that can differ
between workers -- a seconds timer fired on this machine's clock, a hook that
runs only on the chief asked to stop, the chief's hooks want a shorter loop,
which checkpoint the chief found -- is therefore taken once, with one small
all-reduce that every worker joins. Outside collective strategies nothing is
exchanged.
"""

from __future__ import annotations

from typing import Callable

import tensorflow as tf

from keras_monitored import _roles as roles
from keras_monitored._checkpoint_directory import (
    checkpoint_at_step,
    checkpoint_step,
)


class WorkerAgreement:
    """Shares per-run decisions between the workers of one strategy.

    Args:
      strategy: the session's strategy.
      is_chief: whether this process is the chief.
    """

    def __init__(self, strategy: tf.distribute.Strategy, is_chief: bool):
        self._strategy = strategy
        self._is_chief = is_chief
        self._collective = roles.is_collective(strategy)
        self._sum: Callable[..., tf.Tensor] | None = None

    @property
    def collective(self) -> bool:
        """True if decisions are exchanged (a collective strategy)."""
        return self._collective

    def chief_value(self, value: int) -> int:
        """The chief's `value`, on every worker."""
        if not self._collective:
            return int(value)
        return self._all_reduce(value, chief_only=True)

    def chief_decision(self, decision: bool) -> bool:
        """The chief's `decision`, on every worker."""
        return bool(self.chief_value(1 if decision else 0))

    def any_worker(self, flag: bool) -> bool:
        """True on every worker if it is True on any worker."""
        if not self._collective:
            return bool(flag)
        return self._all_reduce(1 if flag else 0, chief_only=False) > 0

    def any_worker_of(self, *flags: bool) -> tuple[bool, ...]:
        """`any_worker` for several flags in one exchange.

        Every replica adds its flags as digits in base (replicas + 1), so the
        sum of each digit cannot carry into the next.
        """
        if not self._collective:
            return tuple(bool(flag) for flag in flags)
        base = self._strategy.num_replicas_in_sync + 1
        value = sum(base**index for index, flag in enumerate(flags) if flag)
        total = self._all_reduce(value, chief_only=False)
        return tuple(
            bool((total // base**index) % base) for index in range(len(flags))
        )

    def _all_reduce(self, value: int, chief_only: bool) -> int:
        """Sums `value` over the replicas of every worker; with `chief_only`
        only global replica 0 (on the chief) contributes."""
        if self._sum is None:
            strategy = self._strategy

            @tf.function
            def all_reduce(local, from_first_only):
                def replica_fn():
                    context = tf.distribute.get_replica_context()
                    first = tf.equal(context.replica_id_in_sync_group, 0)
                    mine = tf.where(
                        tf.logical_or(first, tf.logical_not(from_first_only)),
                        local,
                        tf.zeros_like(local),
                    )
                    return context.all_reduce(tf.distribute.ReduceOp.SUM, mine)

                result = strategy.run(replica_fn)
                return strategy.experimental_local_results(result)[0]

            self._sum = all_reduce
        return int(
            self._sum(
                tf.constant(int(value), tf.int64), tf.constant(chief_only)
            ).numpy()
        )


def agreed_checkpoint(
    agreement: WorkerAgreement, path: str | None, directory: str | None
) -> str | None:
    """The checkpoint to restore: `path`, or under a collective strategy the
    one the chief found (a worker that looked at another moment could see
    another one, and then run other collectives than the chief).

    Raises:
      tf.errors.NotFoundError: the chief's checkpoint is not in this worker's
        view of `directory` (not shared storage?).
    """
    if not agreement.collective:
        return path
    local = checkpoint_step(path)
    # Shifted by one: "no checkpoint" travels as 0.
    step = agreement.chief_value(0 if local is None else local + 1) - 1
    if step < 0:
        return None
    if local == step:
        return path
    agreed = checkpoint_at_step(directory, step)
    if agreed is None:
        raise tf.errors.NotFoundError(
            None,
            None,
            f"The chief restores the checkpoint of step {step}, which this "
            f"worker cannot find in {directory!r}: checkpoint_dir must be "
            "storage every worker shares.",
        )
    return agreed
