"""Session creators: make (and after a failure, remake) the session a
`MonitoredSession` drives, restoring checkpoints the way TF1's chief and
workers did."""

from __future__ import annotations

import abc
import time
from typing import Any

import tensorflow as tf
from absl import logging

from keras_monitored import _compat, _validation, distribute
from keras_monitored import _roles as roles
from keras_monitored import _session_config as session_config
from keras_monitored._checkpoint_directory import (
    check_restorable,
    latest_checkpoint,
    restorable_checkpoint,
)
from keras_monitored._checkpointing import SessionCheckpoints
from keras_monitored._eager_guard import check_eager
from keras_monitored._ps_session import (
    ParameterServerSession,
    is_parameter_server_strategy,
)
from keras_monitored._restore import RestoreOptions
from keras_monitored._session_options import SessionOptions
from keras_monitored._worker_agreement import agreed_checkpoint
from keras_monitored._written_variables import UnsavedVariablesCheck
from keras_monitored.global_step import get_or_create_global_step
from keras_monitored.scaffold import as_scaffold
from keras_monitored.step_session import StepSession

_WAIT_POLL_SECS = 1.0
_WAIT_LOG_SECS = 30.0


class SessionCreator(abc.ABC):
    """Base class of the session factories given to `MonitoredSession`.

    Subclasses implement `create_session()`; `prepare()` runs once before the
    hooks' `begin` so the global step exists when they look it up.

    Args:
      scaffold: a `km.Scaffold` (or a TF1 Scaffold, translated).
      master: accepted for TF1 compatibility (TPU address under TPUStrategy).
      config: a `tf.compat.v1.ConfigProto`; thread settings are applied.
      strategy: the `tf.distribute.Strategy` to run under (default: the
        current one when the session is first created).
      steps_per_loop: the most steps one `run` call may execute.
      max_to_keep: checkpoints kept per directory.
      is_chief: whether this process writes checkpoints and summaries.
      options: all of the session's options at once (`SessionOptions`,
        what `MonitoredTrainingSession` passes), instead of `strategy`,
        `steps_per_loop` and `max_to_keep`.
    """

    def __init__(
        self,
        scaffold: Any = None,
        master: str = "",
        config: Any = None,
        *,
        strategy: tf.distribute.Strategy | None = None,
        steps_per_loop: int = 1,
        max_to_keep: int | None = 5,
        is_chief: bool = True,
        options: SessionOptions | None = None,
    ):
        self._scaffold = as_scaffold(scaffold)
        self._master = session_config.check_master(master)
        self._config = session_config.check_config(config)
        if options is None:
            options = SessionOptions.checked(
                strategy=strategy,
                steps_per_loop=steps_per_loop,
                max_to_keep=max_to_keep,
            )
        elif (strategy, steps_per_loop, max_to_keep) != (None, 1, 5):
            raise ValueError(
                "Give `options` or strategy/steps_per_loop/max_to_keep, not "
                f"both. Received: options={options!r}, strategy={strategy!r}, "
                f"steps_per_loop={steps_per_loop!r}, max_to_keep={max_to_keep!r}."
            )
        self._options = options
        self._is_chief = bool(is_chief)
        # Where the session's checkpoints live (set by the subclasses); with
        # one, steps that update variables it would not save are refused.
        self._checkpoint_dir: str | None = None
        self._checkpoints: SessionCheckpoints | None = None
        self._global_step: tf.Variable | None = None
        self._created_once = False
        self._dataset_iterators: dict[int, tuple[Any, Any]] = {}

    @property
    def scaffold(self) -> Any:
        return self._scaffold

    @property
    def strategy(self) -> tf.distribute.Strategy | None:
        return self._options.strategy

    @property
    def options(self) -> SessionOptions:
        """How the sessions this creator makes run."""
        return self._options

    @property
    def _strategy(self) -> tf.distribute.Strategy | None:
        return self._options.strategy

    @property
    def is_chief(self) -> bool:
        return self._is_chief

    def prepare(self) -> None:
        """Resolves the strategy and creates the global step (idempotent).

        Raises:
          RuntimeError: eager execution is off (TF1 graph mode).
        """
        if self._checkpoints is not None:
            return
        check_eager("a monitored session")
        session_config.apply_config(self._config)
        self._options = self._options.resolved()
        if not distribute.is_tpu(self._strategy):
            session_config.report_master(self._master)
        with self._strategy.scope():
            self._global_step = self._scaffold.global_step
            if self._global_step is None:
                self._global_step = get_or_create_global_step()
        self._checkpoints = SessionCheckpoints(
            self._scaffold.checkpoint_items(),
            self._global_step,
            self._options.max_to_keep,
            async_save=self._options.async_checkpoint,
            checkpoint_input=self._options.checkpoint_input,
        )
        with self._strategy.scope():
            # Created lazily by the first save otherwise -- on the chief only,
            # which under a collective strategy is a collective the other
            # workers never join.
            _ = self._checkpoints.root.save_counter

    def release_inputs(self) -> None:
        """Drops the iterators made over datasets fed as values (the
        monitored session is closed: nothing recovers with them)."""
        self._dataset_iterators.clear()

    @abc.abstractmethod
    def create_session(self) -> StepSession:
        """Creates a session handle, restored or initialised."""

    def _new_session(self) -> StepSession:
        self.prepare()
        session_class = (
            ParameterServerSession
            if is_parameter_server_strategy(self._strategy)
            else StepSession
        )
        return session_class(
            options=self._options,
            global_step=self._global_step,
            advance_global_step=self._scaffold.global_step is None,
            checkpoints=self._checkpoints,
            scaffold=self._scaffold,
            is_chief=self._is_chief,
            dataset_iterators=self._dataset_iterators,
            unsaved_check=(
                UnsavedVariablesCheck(
                    self._checkpoints.root,
                    global_step=self._global_step,
                    checkpoint_dir=self._checkpoint_dir,
                    allow=self._scaffold.allow_partial_restore,
                )
                if self._checkpoint_dir
                else None
            ),
        )

    def _restore(self, session: StepSession, path: str) -> None:
        session.restore(
            path,
            RestoreOptions(allow_partial=self._scaffold.allow_partial_restore),
        )

    def _initialize_once(self, session: StepSession) -> None:
        if not self._created_once:
            with self._strategy.scope():
                self._scaffold.run_init_fn(session)


class ChiefSessionCreator(SessionCreator):
    """Creates the chief's session: restore the latest checkpoint, else run
    `scaffold.init_fn` (first creation only; after a failure without a
    checkpoint the variables keep their values).

    Args:
      scaffold: a `km.Scaffold`.
      master: see `SessionCreator`.
      config: see `SessionCreator`.
      checkpoint_dir: restore the latest checkpoint found here.
      checkpoint_filename_with_path: restore this checkpoint instead.
      strategy: see `SessionCreator`.
      steps_per_loop: see `SessionCreator`.
      max_to_keep: see `SessionCreator`.
      options: see `SessionCreator`.

    Raises:
      ValueError: both `checkpoint_dir` and `checkpoint_filename_with_path`.

    Example:

    ```python
    creator = km.ChiefSessionCreator(scaffold=scaffold, checkpoint_dir=d)
    with km.MonitoredSession(session_creator=creator) as sess:
        ...
    ```
    """

    def __init__(
        self,
        scaffold: Any = None,
        master: str = "",
        config: Any = None,
        checkpoint_dir: str | None = None,
        checkpoint_filename_with_path: str | None = None,
        *,
        strategy: tf.distribute.Strategy | None = None,
        steps_per_loop: int = 1,
        max_to_keep: int | None = 5,
        options: SessionOptions | None = None,
    ):
        super().__init__(
            scaffold,
            master,
            config,
            strategy=strategy,
            steps_per_loop=steps_per_loop,
            max_to_keep=max_to_keep,
            is_chief=True,
            options=options,
        )
        self._checkpoint_dir = _validation.check_optional_dir(
            "checkpoint_dir", checkpoint_dir
        )
        self._checkpoint_filename_with_path = _validation.check_optional_dir(
            "checkpoint_filename_with_path", checkpoint_filename_with_path
        )
        if self._checkpoint_dir and self._checkpoint_filename_with_path:
            raise ValueError(
                _validation.tf1_message(
                    "Can not provide both checkpoint_dir and "
                    "checkpoint_filename_with_path.",
                    checkpoint_dir=checkpoint_dir,
                    checkpoint_filename_with_path=checkpoint_filename_with_path,
                )
            )

    def create_session(self) -> StepSession:
        session = self._new_session()
        path = agreed_checkpoint(
            session.agreement,
            check_restorable(
                "checkpoint_filename_with_path",
                self._checkpoint_filename_with_path,
            )
            if self._checkpoint_filename_with_path
            else restorable_checkpoint(self._checkpoint_dir),
            self._checkpoint_dir,
        )
        if path:
            self._restore(session, path)
        else:
            self._initialize_once(session)
        self._created_once = True
        return session


class WorkerSessionCreator(SessionCreator):
    """Creates a non-chief worker's session.

    Under a collective strategy (MultiWorkerMirrored) every worker restores
    the same latest checkpoint of `checkpoint_dir` and none waits. Otherwise
    (TF1-style `is_chief=False`) the worker waits up to `max_wait_secs` for the
    chief's first checkpoint in `checkpoint_dir` and restores it; without a
    `checkpoint_dir` it starts at once.

    Args:
      scaffold: a `km.Scaffold`.
      master: see `SessionCreator`.
      config: see `SessionCreator`.
      max_wait_secs: how long to wait for the chief's checkpoint.
      checkpoint_dir: where the chief writes checkpoints.
      strategy: see `SessionCreator`.
      steps_per_loop: see `SessionCreator`.
      max_to_keep: see `SessionCreator`.
      options: see `SessionCreator`.

    Raises:
      ValueError: a negative `max_wait_secs`.
    """

    def __init__(
        self,
        scaffold: Any = None,
        master: str = "",
        config: Any = None,
        max_wait_secs: float = 30 * 60,
        *,
        checkpoint_dir: str | None = None,
        strategy: tf.distribute.Strategy | None = None,
        steps_per_loop: int = 1,
        max_to_keep: int | None = 5,
        options: SessionOptions | None = None,
    ):
        super().__init__(
            scaffold,
            master,
            config,
            strategy=strategy,
            steps_per_loop=steps_per_loop,
            max_to_keep=max_to_keep,
            is_chief=False,
            options=options,
        )
        self._max_wait_secs = _validation.check_number(
            "max_wait_secs", max_wait_secs, minimum=0
        )
        self._checkpoint_dir = _validation.check_optional_dir(
            "checkpoint_dir", checkpoint_dir
        )

    def create_session(self) -> StepSession:
        session = self._new_session()
        if roles.is_collective(self._strategy):
            path = agreed_checkpoint(
                session.agreement,
                restorable_checkpoint(self._checkpoint_dir),
                self._checkpoint_dir,
            )
            if path:
                self._restore(session, path)
            else:
                self._initialize_once(session)
        elif self._checkpoint_dir:
            self._restore(session, self._wait_for_checkpoint())
        else:
            logging.info(
                "Worker session created; no checkpoint_dir to wait for."
            )
        self._created_once = True
        return session

    def _wait_for_checkpoint(self) -> str:
        start = time.monotonic()
        last_log = start
        while True:
            path = latest_checkpoint(self._checkpoint_dir)
            if path:
                # The chief's checkpoint, or the newest readable one.
                return restorable_checkpoint(self._checkpoint_dir)
            now = time.monotonic()
            if now - start >= self._max_wait_secs:
                raise tf.errors.DeadlineExceededError(
                    None,
                    None,
                    f"Session was not ready after waiting {int(self._max_wait_secs)} secs: "
                    f"no checkpoint from the chief in {self._checkpoint_dir!r}.",
                )
            if now - last_log >= _WAIT_LOG_SECS:
                logging.info(
                    "Waiting for the chief's first checkpoint in %s.",
                    self._checkpoint_dir,
                )
                last_log = now
            time.sleep(
                min(
                    _WAIT_POLL_SECS,
                    max(0.0, self._max_wait_secs - (now - start)),
                )
            )


def as_session_creator(value: Any) -> SessionCreator:
    """Returns a km creator for `value` (None, km, or a TF1 creator).

    Raises:
      TypeError: anything else.
    """
    if value is None:
        return ChiefSessionCreator()
    if isinstance(value, SessionCreator):
        return value
    if _compat.is_instance_of_tf1(value, "ChiefSessionCreator"):
        return ChiefSessionCreator(
            scaffold=_compat.private_attr(value, "_scaffold"),
            master=_compat.private_attr(value, "_master", ""),
            config=_compat.private_attr(value, "_config"),
            checkpoint_dir=_compat.private_attr(value, "_checkpoint_dir"),
            checkpoint_filename_with_path=_compat.private_attr(
                value, "_checkpoint_filename_with_path"
            ),
        )
    if _compat.is_instance_of_tf1(value, "WorkerSessionCreator"):
        return WorkerSessionCreator(
            scaffold=_compat.private_attr(value, "_scaffold"),
            master=_compat.private_attr(value, "_master", ""),
            config=_compat.private_attr(value, "_config"),
            max_wait_secs=_compat.private_attr(
                value, "_max_wait_secs", 30 * 60
            ),
        )
    raise TypeError(
        _validation.invalid(
            "session_creator",
            value,
            "a km.ChiefSessionCreator, km.WorkerSessionCreator or None",
        )
    )
