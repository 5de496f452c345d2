"""The session under ParameterServerStrategy: steps scheduled on workers.

TF1's parameter-server jobs ran one training loop per worker against
variables on the `ps` tasks. TF2 runs one loop, on the coordinator (the
`chief` task), and `tf.distribute.coordinator.ClusterCoordinator` schedules
each step function on whichever worker is free. This session puts the
monitored session there:

- `run` schedules the step (or a `steps_per_loop` loop) and returns at once;
  its outputs are a `RemoteValue`, fetched only when a hook (or the caller)
  reads them, so a run without triggers does not wait for its step.
- A `tf.data.Dataset` fed to `run` becomes a per-worker dataset
  (`create_per_worker_dataset`), iterated on the worker running the step.
- The global step lives on the parameter servers and counts completed
  steps; hooks see the number of steps scheduled so far, which the variable
  reaches once the work is joined. A save, a stop and `close` join the
  scheduled work first, so checkpoints hold every step they are numbered
  with.
- A lost worker is the coordinator's business (it reschedules the step
  elsewhere); a lost parameter server loses the variables, which this
  process cannot re-create: `ParameterServerLostError` says to restart the
  chief, which resumes from the last checkpoint (TF2's documented recovery).
"""

from __future__ import annotations

import collections.abc
import logging as pylogging
from typing import Any, Mapping

import numpy as np
import tensorflow as tf
from absl import logging

from keras_monitored import _fetches as fetches_lib
from keras_monitored._step_compiler import is_graph_iterator
from keras_monitored.step_session import (
    StepFn,
    StepSession,
    check_one_step_per_host_feed,
)


class _DropJoinNotices(pylogging.Filter):
    """What TF logs on every save of a parameter-server job, which is not
    news: the coordinator's "Waiting for all global closures to be
    finished." (INFO, every join) and a retracing warning for the saver
    (TF's MultiDeviceSaver defines a new tf.function per save when the
    variables span tasks). A save logs one line."""

    def filter(self, record: pylogging.LogRecord) -> bool:
        message = str(record.msg)
        return not (
            message.startswith("Waiting for all global closures")
            or (
                "triggered tf.function retracing" in message
                and "tf_function_save" in message
            )
        )


for _logger in (pylogging.getLogger("tensorflow"), logging.get_absl_logger()):
    _logger.addFilter(_DropJoinNotices())


class ParameterServerLostError(tf.errors.UnavailableError):
    """A parameter server of a ParameterServerStrategy job was lost.

    Its variables are gone, and TF2 cannot re-create them in a running
    coordinator: restart the chief (the coordinator task) once the parameter
    server is back; it resumes from the last checkpoint. Deliberately not
    retried in-process by the monitored session's recovery.
    """

    restart_required = True

    def __init__(self, cause: Exception):
        super().__init__(
            getattr(cause, "node_def", None),
            getattr(cause, "op", None),
            "A parameter server of this ParameterServerStrategy job is "
            f"unavailable ({type(cause).__name__}: {cause}). Its "
            "variables are lost and cannot be re-created in this process: "
            "restart the chief once the parameter server is back; it "
            "resumes from the last checkpoint in checkpoint_dir.",
        )
        self.cause = cause


def is_parameter_server_strategy(strategy: Any) -> bool:
    return isinstance(
        strategy,
        (
            tf.distribute.ParameterServerStrategy,
            tf.distribute.experimental.ParameterServerStrategy,
        ),
    )


def coordinator_for(
    strategy: tf.distribute.Strategy,
) -> tf.distribute.coordinator.ClusterCoordinator:
    """The strategy's ClusterCoordinator (TF keeps one per strategy)."""
    return tf.distribute.coordinator.ClusterCoordinator(strategy)


class RemoteStepOutputs(fetches_lib.StepOutputs):
    """The outputs of a scheduled step, fetched on first use.

    Args:
      remote: the `RemoteValue` of the step's (outputs, exposed) pair.
      on_error: turns an error of the fetch into the one to raise.
    """

    def __init__(self, remote: Any, on_error: Any):
        self._remote = remote
        self._on_error = on_error
        self._fetched = False
        self._cache = {}
        self._named = {}
        self._outputs = None

    def _fetch(self) -> None:
        if self._fetched:
            return
        try:
            outputs, exposed = self._remote.fetch()
        except Exception as error:  # pylint: disable=broad-except
            raise self._on_error(error) from error
        self._fetched = True
        fetches_lib.StepOutputs.__init__(self, outputs, exposed)

    @property
    def outputs(self) -> Any:
        self._fetch()
        return self._outputs

    @outputs.setter
    def outputs(self, value: Any) -> None:
        self._outputs = value

    def names(self) -> list[str]:
        self._fetch()
        return super().names()

    def __contains__(self, name: str) -> bool:
        self._fetch()
        return super().__contains__(name)

    def value(self, name: str) -> Any:
        self._fetch()
        return super().value(name)

    def numpy_outputs(self) -> "PendingOutputs":
        """What `run` returns: the outputs, fetched when first read."""
        return PendingOutputs(self)


class PendingOutputs(collections.abc.Mapping):
    """The outputs of a scheduled step as `run` returns them, fetched from
    the worker when first read (so a loop that does not read them never
    waits for its steps).

    A step returning a dict reads as that dict (`outputs["loss"]`,
    `outputs.get("loss")`); `fetch()` gives any step's outputs as numpy.
    """

    def __init__(self, outputs: RemoteStepOutputs):
        self._outputs = outputs

    def fetch(self) -> Any:
        """The step's outputs as numpy (waits for the step)."""
        return fetches_lib.StepOutputs.numpy_outputs(self._outputs)

    def _dict(self) -> Mapping[str, Any]:
        values = self.fetch()
        if not isinstance(values, Mapping):
            raise TypeError(
                "The step did not return a dict, so its outputs are not a "
                "mapping: call .fetch() on what run returned (under "
                "ParameterServerStrategy, run returns pending outputs)."
            )
        return values

    def __getitem__(self, key: str) -> Any:
        return self._dict()[key]

    def __iter__(self):
        return iter(self._dict())

    def __len__(self) -> int:
        return len(self._dict())

    def __repr__(self) -> str:
        state = "fetched" if self._outputs._fetched else "pending"  # pylint: disable=protected-access
        return f"<PendingOutputs of a scheduled step ({state})>"


class _JoiningWriter:
    """A checkpoint writer that joins the scheduled steps before it saves,
    so a checkpoint numbered N holds every step up to N."""

    def __init__(self, writer: Any, session: "ParameterServerSession"):
        self._writer = writer
        self._session = session

    def save(self, step: int) -> str:
        """Joins, then saves under the global step the checkpoint holds (the
        steps scheduled, or fewer if some failed)."""
        del step
        self._session.join()
        return self._writer.save(int(self._session.global_step_value()))

    def __getattr__(self, name: str) -> Any:
        return getattr(self._writer, name)


class ParameterServerSession(StepSession):
    """A StepSession whose steps `ClusterCoordinator` schedules on workers.

    Takes StepSession's arguments. Checkpoints and summaries are the
    coordinator's (the chief's).

    Raises:
      ValueError: `checkpoint_input` (per-worker iterators live on the
        workers and cannot be saved).
    """

    def __init__(self, **kwargs: Any):
        super().__init__(**kwargs)
        if self._checkpoints is not None and self._checkpoints.inputs.enabled:
            raise ValueError(
                "checkpoint_input=True cannot work under "
                "ParameterServerStrategy: each worker iterates its own copy "
                "of the dataset, and TF cannot save those iterators. Drop "
                "checkpoint_input (a restarted job starts its datasets over)."
            )
        self._coordinator = coordinator_for(self._strategy)
        self._scheduled: int | None = None

    # -- running -------------------------------------------------------------

    def run_step(
        self, step_fn: StepFn, feeds: Mapping[str, Any], num_steps: int = 1
    ) -> fetches_lib.StepOutputs:
        """Schedules `num_steps` steps of `step_fn` on a worker; returns
        their outputs, fetched when first read."""
        self._check_open()
        if self._scheduled is None:
            self._scheduled = self._read_variable()
        prepared, host_fed = self._prepare_feeds(step_fn, feeds)
        check_one_step_per_host_feed(host_fed, num_steps)
        single, loop = self._compiled_for(step_fn)
        # No summary recorder here (record_step_summaries records nothing).
        function, args = self._step_call(single, loop, prepared, num_steps)
        if self._unsaved_check is not None and not self._unsaved_check.checked(
            single
        ):
            with self._strategy.scope():
                self._unsaved_check.check_once(
                    single, function, self._traceable(args)
                )
        try:
            remote = self._coordinator.schedule(
                _outputs_only(function), args=args
            )
        except Exception as error:  # pylint: disable=broad-except
            # An earlier step's error surfaced here: recount from the
            # variable.
            self._scheduled = None
            self._host_step = None
            raise self._failure(error) from error
        self._scheduled += num_steps
        self._host_step = self._scheduled
        self._step_after = None
        self._last_outputs = RemoteStepOutputs(remote, self._failure)
        return self._last_outputs

    def global_step_value(self) -> np.int64:
        """The steps scheduled so far (what the global step variable holds
        once they are joined)."""
        if self._scheduled is None:
            self._scheduled = self._read_variable()
        return np.int64(self._scheduled)

    def resync_global_step(self) -> None:
        self._scheduled = None
        super().resync_global_step()

    def join(self) -> None:
        """Waits for every scheduled step.

        Raises:
          ParameterServerLostError: a parameter server was lost.
          Exception: the first error a scheduled step raised.
        """
        try:
            self._coordinator.join()
        except Exception as error:  # pylint: disable=broad-except
            # Failed steps did not count: the variable says what did.
            self._scheduled = None
            self._host_step = None
            raise self._failure(error) from error
        if self._scheduled is not None:
            done = self._read_variable()
            if done != self._scheduled:
                logging.warning(
                    "ParameterServerStrategy: %d steps were scheduled, the "
                    "global step counts %d completed.",
                    self._scheduled,
                    done,
                )
                self._scheduled = done

    def checkpoint_writer(
        self,
        directory: str,
        basename: str = "model.ckpt",
        items: Mapping[str, Any] | None = None,
    ) -> Any:
        return _JoiningWriter(
            super().checkpoint_writer(directory, basename, items), self
        )

    def record_step_summaries(self, destination: Any) -> Any:
        """Under ParameterServerStrategy the step runs on the workers, which
        cannot reach the chief's summary writer: the step's own tf.summary
        calls are not recorded (said once). Hooks' summaries (from fetched
        values) are written as usual."""
        del destination
        logging.log_first_n(
            logging.WARNING,
            "ParameterServerStrategy: tf.summary calls inside the step are "
            "not recorded (the step runs on a worker; the summary writer is "
            "the chief's). Return the values from the step and give "
            "SummarySaverHook summary_op=[their names].",
            1,
        )
        return _NoTarget()

    def close(self) -> None:
        """Joins the scheduled steps, then closes."""
        if not self.closed:
            try:
                self.join()
            finally:
                super().close()

    # -- internals -------------------------------------------------------------

    def _read_variable(self) -> int:
        try:
            return int(self._global_step.numpy())
        except Exception as error:  # pylint: disable=broad-except
            raise self._failure(error) from error

    def _iterator_for(self, dataset: Any) -> Any:
        """A per-worker iterator over a dataset fed as a value (made once)."""
        entry = self._dataset_iterators.get(id(dataset))
        if entry is None:
            if isinstance(dataset, tf.distribute.DistributedDataset):
                raise ValueError(
                    "Under ParameterServerStrategy, feed the tf.data.Dataset "
                    "itself (km makes it a per-worker dataset), not "
                    "strategy.experimental_distribute_dataset(...)."
                )
            per_worker = self._coordinator.create_per_worker_dataset(dataset)
            entry = (dataset, iter(per_worker))
            self._dataset_iterators[id(dataset)] = entry
        return entry[1]

    def _traceable(self, args: tuple) -> tuple:
        """`args` with every per-worker iterator replaced by an iterator
        over the same dataset made here: the same trace, for checks that
        read the step's graph on the coordinator."""
        local = {
            id(per_worker): dataset
            for dataset, per_worker in self._dataset_iterators.values()
        }

        def replace(value: Any) -> Any:
            dataset = local.get(id(value))
            return value if dataset is None else iter(dataset)

        return tf.nest.map_structure(replace, args)

    def _prepare_feeds(
        self, step_fn: StepFn, feeds: Mapping[str, Any]
    ) -> tuple[dict[str, Any], bool]:
        for name, value in feeds.items():
            if is_graph_iterator(value) and not _is_per_worker(value):
                raise ValueError(
                    f"feed_dict[{name!r}] is an iterator made on the "
                    "coordinator; under ParameterServerStrategy the step runs "
                    "on the workers and cannot read it. Feed the "
                    "tf.data.Dataset itself: km iterates a per-worker copy "
                    "of it on each worker."
                )
        return super()._prepare_feeds(step_fn, feeds)

    def _failure(self, error: Exception) -> Exception:
        """The error to raise for `error` (a lost parameter server gets its
        own, which recovery does not retry)."""
        if isinstance(error, ParameterServerLostError):
            return error
        if _is_ps_failure(error):
            return ParameterServerLostError(error)
        return error


class _NoTarget:
    """A summary target that records nothing."""

    def assign(self, value: Any) -> None:
        del value


def _is_ps_failure(error: Exception) -> bool:
    """A parameter server's failure, as TF's coordinator tells it: an
    Unavailable or Aborted error that names a /job:ps task (reported by
    gRPC from it, or from reading one of its variables). A step's own error
    -- a bad index, the end of the data -- is not one."""
    return isinstance(
        error, (tf.errors.UnavailableError, tf.errors.AbortedError)
    ) and "/job:ps" in str(error)


def _is_per_worker(value: Any) -> bool:
    return type(value).__name__.startswith("PerWorker")


def _outputs_only(function: Any) -> Any:
    """The compiled step as the coordinator schedules it: it returns the
    (outputs, exposed) pair (the step-after counter stays on the worker)."""
    cached = getattr(function, "_km_scheduled", None)
    if cached is not None:
        return cached

    @tf.function
    def scheduled(*args):
        outputs, exposed, _ = function(*args)
        return outputs, exposed

    try:
        function._km_scheduled = scheduled  # pylint: disable=protected-access
    except AttributeError:
        pass
    return scheduled
