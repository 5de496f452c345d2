"""SessionHandle: the implementation shared by the sessions hooks receive.

It implements `HookSession` (the interface hooks see: `run(fetches)` reads
fetches of the last completed step, checkpoint writers, the role) and what
the hook driver and the session need besides: the global step, restores,
the outputs of the last step. `StepSession` (a monitored session) and
`FitSession` (the `model.fit` adapter) are handles.
"""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np
import tensorflow as tf

from keras_monitored import _compat, _validation
from keras_monitored import _fetches as fetches_lib
from keras_monitored import _roles as roles
from keras_monitored._checkpointing import (
    DEFAULT_BASENAME,
    CheckpointWriter,
    SessionCheckpoints,
)
from keras_monitored._restore import RestoreOptions, RestoreRecord
from keras_monitored._worker_agreement import WorkerAgreement
from keras_monitored.hook_session import HookSession


class SessionHandle(HookSession):
    """Reads fetches and serves hooks for one session.

    Args:
      strategy: the `tf.distribute.Strategy` the session runs under.
      global_step: the global step variable.
      checkpoints: what this session saves and restores.
      scaffold: the scaffold the session was created from (or None).
      is_chief: whether this process writes checkpoints and summaries.
    """

    def __init__(
        self,
        *,
        strategy: tf.distribute.Strategy,
        global_step: Any,
        checkpoints: SessionCheckpoints,
        scaffold: Any = None,
        is_chief: bool = True,
    ):
        self._strategy = strategy
        self._global_step = global_step
        self._checkpoints = checkpoints
        self._scaffold = scaffold
        self._is_chief = is_chief
        self._last_outputs: fetches_lib.StepOutputs | None = None
        self._host_step: int | None = None
        self._closed = False
        self._hooks: Any = None
        self._agreement = WorkerAgreement(strategy, is_chief)
        self._restored_checkpoint: str | None = None
        self._restored_step: int | None = None
        self.restored_hook_state: dict[str, Any] | None = None
        self._restore_record: RestoreRecord | None = None

    @property
    def strategy(self) -> tf.distribute.Strategy:
        return self._strategy

    @property
    def scaffold(self) -> Any:
        return self._scaffold

    @property
    def is_chief(self) -> bool:
        return self._is_chief

    @property
    def restored_checkpoint(self) -> str | None:
        return self._restored_checkpoint

    @property
    def restored_step(self) -> int | None:
        return self._restored_step

    @property
    def global_step(self) -> Any:
        """The global step variable."""
        return self._global_step

    @property
    def last_outputs(self) -> fetches_lib.StepOutputs | None:
        """Outputs of the last completed step, or None."""
        return self._last_outputs

    @property
    def checkpoints(self) -> SessionCheckpoints:
        return self._checkpoints

    @property
    def closed(self) -> bool:
        return self._closed

    def global_step_value(self) -> np.int64:
        """The global step now, as TF1's `session.run(global_step)` gave it
        (read once, then cached until the next step)."""
        if self._host_step is None:
            self._host_step = _compat.read_scalar(self._global_step)
        return np.int64(self._host_step)

    def resync_global_step(self) -> None:
        """Forgets the cached global step (read it again next time)."""
        self._host_step = None

    def run(
        self,
        fetches: Any,
        feed_dict: Mapping[str, Any] | None = None,
        options: Any = None,
        run_metadata: Any = None,
    ) -> Any:
        """Reads fetches (TF1's `session.run` as hooks used it).

        Raises:
          TypeError: a step function or a feed_dict; this handle only reads.
        """
        del options, run_metadata
        self._check_open()
        if callable(fetches) and not isinstance(
            fetches, (tf.Variable, tf.Tensor)
        ):
            raise TypeError(
                f"This session handle cannot run the step function {fetches_lib.describe(fetches)}; "
                "it only reads fetches. Wrap a callable to read in a list: run([fn])."
            )
        reject_feeds_for_reads(fetches, feed_dict)
        return self.read(fetches)

    def read(self, fetches: Any) -> Any:
        """Evaluates fetches against the last completed step."""
        self._check_open()
        return fetches_lib.resolve(
            fetches, self._last_outputs, self.global_step_value
        )

    def restore(self, path: str, options: RestoreOptions) -> dict[str, Any]:
        """Restores checkpoint `path` (inside the strategy's scope).

        What the restore gave values to is verified once, after the first
        step (`verify_restore`): variables built by that step get their
        values only then.

        Args:
          path: the checkpoint's path prefix.
          options: strictness and the fixes messages suggest.

        Returns:
          The hooks' saved states.

        Raises:
          ValueError: the restore would leave variables without a value.
        """
        with self._strategy.scope():
            record = self._checkpoints.restore(path, options)
        self.resync_global_step()
        self._restored_checkpoint = path
        self._restored_step = int(self.global_step_value())
        self.restored_hook_state = record.hook_state
        self._restore_record = record
        return record.hook_state

    def verify_restore(self) -> None:
        """Verifies the last restore, once: call after the first completed
        step, before hooks see it (so nothing saves a partial restore).

        Raises:
          ValueError: variables the restore left without a value.
        """
        record, self._restore_record = self._restore_record, None
        if record is not None:
            record.verify()

    def checkpoint_writer(
        self,
        directory: str,
        basename: str = DEFAULT_BASENAME,
        items: Mapping[str, Any] | None = None,
    ) -> CheckpointWriter:
        """A writer that saves this session's checkpoint (or `items`) into
        `directory`."""
        if not self._is_chief:
            # Only the chief writes checkpoints. Under a collective strategy
            # every worker still takes part in each save (into scratch).
            task_type, task_id = roles.task_identity(self._strategy)
            return self._checkpoints.scratch_writer(
                directory, basename, f"{task_type}_{task_id}", items
            )
        return self._checkpoints.writer(directory, basename, items)

    @property
    def is_collective(self) -> bool:
        """True under a strategy whose workers must act in lockstep
        (MultiWorkerMirrored): every worker saves, decisions are shared."""
        return roles.is_collective(self._strategy)

    @property
    def agreement(self) -> WorkerAgreement:
        """Decisions shared with the other workers (collective strategies)."""
        return self._agreement

    def agree_with_chief(self, decision: bool) -> bool:
        """The chief's value of `decision`, on every worker.

        Under a collective strategy, a decision that can differ between
        workers (a seconds timer fired) must be taken once, or some workers
        would wait forever in a save the others skip. TF1 forced steps-based
        checkpoints instead. Outside collective strategies: `decision`.
        """
        return self._agreement.chief_decision(decision)

    def record_step_summaries(self, destination: Any) -> Any:
        """Records the step's own `tf.summary` calls (see `StepSession`).

        Raises:
          ValueError: this session does not compile the step itself.
        """
        raise ValueError(
            "This session does not compile the step, so it cannot record the "
            "step's own tf.summary calls. Give SummarySaverHook `summary_op` "
            "(names of step outputs / logs to write) instead."
        )

    def attach_hooks(self, hooks: Any) -> None:
        """Lets the session answer questions about its hooks (last_step_hint)."""
        self._hooks = hooks

    def last_step_hint(self) -> int | None:
        """The earliest `last_step` a hook will stop at, if any is known."""
        # `last_step` is StopAtStepHook's (TF1 hooks have it too); other
        # hooks have no such attribute.
        steps = [getattr(h, "last_step", None) for h in (self._hooks or [])]
        steps = [int(s) for s in steps if s is not None]
        return min(steps) if steps else None

    def close(self) -> None:
        """Later runs raise RuntimeError."""
        self._closed = True

    def _check_open(self) -> None:
        if self._closed:
            raise RuntimeError("Run called on a closed session.")


def reject_feeds_for_reads(
    fetches: Any, feed_dict: Mapping[str, Any] | None
) -> None:
    """Raises TypeError for a feed_dict given with fetches that only read."""
    if feed_dict:
        raise TypeError(
            _validation.invalid(
                "feed_dict",
                feed_dict,
                "None: a feed_dict applies only when `fetches` is a step "
                f"function, and fetches={fetches_lib.describe(fetches)} "
                "only reads",
            )
        )
