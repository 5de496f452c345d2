"""AsyncCheckpointWriter: checkpoints written in the background
(`async_checkpoint=True`), with the keys, files and guarantees of a
synchronous save.

A save blocks only while it takes what a synchronous save would write (TF's
own serializer: the same keys and object graph), on the main thread: the
hooks' state and every value (on a CPU a variable is read, not copied: TF
copies its buffer before the next update writes to it; on an accelerator it
is copied to the host). A thread then writes the files with TF's own saver,
and only once they are complete does a `tf.train.CheckpointManager` name
them in the `checkpoint` state file and delete checkpoints beyond
`max_to_keep`: a crash mid-write leaves the previous checkpoint the latest.

Why not TF's own `CheckpointOptions(enable_async=True)`: in TF 2.21 its
helper copies every saveable object to the host inside a `tf.function`
(`AsyncCheckpointHelper._copy_to_cpu`), and a Keras 3 variable's
`_copy_trackable_to_cpu` creates a new `tf.Variable` on each call: fine on
the helper's first, eager copy, refused from the second save on ("tf.function
only supports singleton tf.Variables created on the first call"). Handing
the helper the `tf.Variable` inside each Keras variable avoids that, but the
helper still fixes its variable list at its first save (variables made
later, such as optimizer slots after MTS's step-0 save, are read by its
thread whenever it writes), serializes Python state (the hooks' state,
dataset iterators) in its thread at write time, not at the save, and saves
a private `save_counter` that stays 0.

One save is written at a time: a save waits for the one in flight. A write
that fails is logged at once and raised in the main thread by the next
`save`, `pending` or `wait`. Writers join a session's
`tf.train.Coordinator` (`join_with`), so closing the session, also on an
error, and recovering from one, wait for the write in flight.
"""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from typing import Any

import tensorflow as tf
from absl import logging

from keras_monitored import _compat
from keras_monitored._hook_state import PendingHookState
from keras_monitored._input_checkpoint import unsaveable_input_hint


@dataclasses.dataclass
class _Write:
    """One save being written: its step, path prefix and thread."""

    step: int
    path: str
    thread: threading.Thread | None = None
    said_waiting: bool = False


class AsyncCheckpointWriter:
    """Saves one root into one directory as `<basename>-<global step>`,
    writing the files in the background.

    The interface of `CheckpointWriter`; `save` returns once the values
    are taken, `pending()` tells whether the files are complete yet, and
    `wait()` blocks until they are.

    Args:
      root: the `tf.train.Checkpoint` to save.
      directory: where the files go.
      max_to_keep: how many checkpoints to keep (older ones are deleted once
        a newer one is complete).
      basename: the file prefix before `-<step>`.
      pending_state: completes the hooks' state of each checkpoint once its
        files are complete.

    Example:

    ```python
    writer = AsyncCheckpointWriter(tf.train.Checkpoint(model=m), "/tmp/run",
                                   max_to_keep=5, basename="model.ckpt")
    writer.save(100)  # returns while the files are written
    writer.wait()     # model.ckpt-100 is complete and the latest
    ```
    """

    def __init__(
        self,
        root: tf.train.Checkpoint,
        directory: str,
        max_to_keep: int | None,
        basename: str,
        pending_state: PendingHookState | None = None,
    ):
        self.root = root
        self.directory = directory
        self.basename = basename
        self._pending_state = pending_state
        self._snapshots = Snapshots(root)
        # Names complete checkpoints in the state file and applies
        # max_to_keep, exactly as for a synchronous save.
        self._manager = _compat.recording_manager(
            directory, max_to_keep, basename
        )
        self._lock = threading.Lock()
        self._write: _Write | None = None
        self._failure: tuple[_Write, BaseException] | None = None
        self._coordinators: list[Any] = []

    @property
    def save_path(self) -> str:
        """`directory/basename`, as TF1's CheckpointSaverHook reported it."""
        return os.path.join(self.directory, self.basename)

    @property
    def destination(self) -> str:
        """Where saves go, for the log."""
        return f"{self.save_path} (written in the background)"

    def save(self, step: int) -> str:
        """Takes the checkpoint for `step` now and writes it in the
        background; returns its path prefix (complete once `pending()` no
        longer names `step`).

        The save in flight, if any, is waited for first.

        Raises:
          RuntimeError: an earlier background write failed.
          ValueError: the root holds objects that cannot be snapshot.
        """
        self.wait()
        step = int(step)
        path = f"{self.save_path}-{step}"
        # As CheckpointManager.save does before a synchronous write.
        self.root.save_counter.assign_add(1)
        try:
            snapshot = self._snapshots.take()
        except ValueError as error:
            raise ValueError(
                f"async_checkpoint=True cannot save {self.save_path}: {error} "
                "Their values cannot be taken ahead of the write; use "
                "async_checkpoint=False."
            ) from error
        except tf.errors.OpError as error:
            hint = unsaveable_input_hint(error)
            if not hint:
                raise
            raise RuntimeError(
                f"Saving {path} failed: {type(error).__name__}: "
                f"{error.message} {hint}"
            ) from error
        if self._pending_state is not None:
            self._pending_state.saved(path, written=False)
        write = _Write(step, path)
        write.thread = threading.Thread(
            target=self._run,
            args=(write, snapshot),
            name=f"keras_monitored checkpoint {path}",
            # Not a daemon: the interpreter finishes the write on exit.
            daemon=False,
        )
        with self._lock:
            self._write = write
        write.thread.start()
        logging.vlog(
            1,
            "Writing checkpoint for step %d to %s in the background.",
            step,
            path,
        )
        return path

    def latest(self) -> str | None:
        """The newest complete checkpoint this writer knows of."""
        return self._manager.latest_checkpoint

    def pending(self) -> int | None:
        """The step whose files are still being written, or None.

        Raises:
          RuntimeError: a background write failed (raised once).
        """
        write = self._write
        busy = write is not None and write.thread.is_alive()
        self._raise_failure()
        return write.step if busy else None

    def wait(self) -> None:
        """Blocks until every save's files are complete.

        Raises:
          RuntimeError: a background write failed (raised once).
        """
        self._join("Waiting for checkpoint %s (global step %d) to be written.")
        self._raise_failure()

    def join_with(self, coordinator: Any) -> None:
        """Makes `coordinator.join()` (a session's close or recovery, also
        after an error) wait for the write in flight.

        Args:
          coordinator: the session's `tf.train.Coordinator` (None: nothing).
        """
        if coordinator is None or any(
            c is coordinator for c in self._coordinators
        ):
            return
        self._coordinators = [
            c for c in self._coordinators if not c.should_stop()
        ] + [coordinator]
        watcher = threading.Thread(
            target=self._join_on_stop,
            args=(coordinator,),
            name=f"keras_monitored checkpoint writer of {self.directory}",
            daemon=True,
        )
        coordinator.register_thread(watcher)
        watcher.start()

    # -- internals ---------------------------------------------------------

    def _join_on_stop(self, coordinator: Any) -> None:
        coordinator.wait_for_stop()
        # A failure stays for the next save or wait to raise; the write
        # thread has logged it already.
        self._join(
            "Waiting for checkpoint %s (global step %d) to be written "
            "before the session is released."
        )

    def _join(self, message: str) -> None:
        write = self._write
        if write is None or not write.thread.is_alive():
            return
        with self._lock:
            say, write.said_waiting = not write.said_waiting, True
        if say:
            logging.info(message, write.path, write.step)
        write.thread.join()

    def _run(self, write: _Write, snapshot: Any) -> None:
        """The write thread: the files, their completed hook state, then the
        state file and retention."""
        step, path = write.step, write.path
        # Hand the GIL back at once: the main thread, returning from
        # `start()`, would otherwise wait for this one's Python work.
        time.sleep(0)
        try:
            tf.io.gfile.makedirs(self.directory)
            _compat.write_checkpoint_tensors(snapshot, path)
            if self._pending_state is not None:
                self._pending_state.written(path)
            kept = set(self._manager.checkpoints)
            self._manager.save(checkpoint_number=step)
            if self._pending_state is not None:
                self._pending_state.removed(
                    kept - set(self._manager.checkpoints)
                )
        except Exception as error:  # noqa: BLE001  # pylint: disable=broad-except
            logging.error(
                "Writing checkpoint %s (global step %d) into %s failed: %s",
                path,
                step,
                self.directory,
                error,
            )
            if self._pending_state is not None:
                self._pending_state.failed(path)
            with self._lock:
                self._failure = (write, error)
            return
        logging.vlog(1, "Saved checkpoint for step %d to %s.", step, path)

    def _raise_failure(self) -> None:
        with self._lock:
            failure, self._failure = self._failure, None
        if failure is None:
            return
        write, error = failure
        raise RuntimeError(
            f"Writing checkpoint {write.path} (global step {write.step}) in "
            f"the background failed: {type(error).__name__}: {error}. Check "
            f"that checkpoint_dir={self.directory!r} is a writable directory; "
            f"the latest complete checkpoint is {self.latest()!r}."
        ) from error


class Snapshots:
    """Takes what a synchronous save of `root` would write, as of now.

    TF's serializer walks the object graph and rebuilds its proto on each
    save (about 2 ms for a small Keras model; a synchronous save pays it
    too). While the objects and their references stay the same, only the
    values change: when every saved object is a variable or a
    `PythonState` (the hooks' state), the walk's result is kept, keyed on a
    cheaper walk of the references, and each save reads the variables and
    serializes the Python state again. Other objects (dataset iterators,
    ...) are walked on every save.
    """

    def __init__(self, root: tf.train.Checkpoint):
        self._root = root
        self._graph: Any = None
        self._gathered: Any = None

    def take(self) -> Any:
        """`{object: {checkpoint key: host tensor}}` for TF's saver.

        Raises:
          ValueError: objects that write themselves (registered savers).
        """
        graph = _compat.checkpoint_graph(self._root)
        if graph is None or graph != self._graph:
            self._gathered = _compat.gather_checkpoint(self._root)
            ids = set(graph[0]) if graph is not None else set()
            reusable = all(
                obj is None or (id(obj) in ids and _kind(obj, values))
                for obj, values in self._gathered.items()
            )
            self._graph = graph if reusable else None
            fresh = True
        else:
            fresh = False
        snapshot = type(self._gathered)()  # TF's identity-keyed dict
        for obj, values in self._gathered.items():
            kind = _kind(obj, values)
            if kind == "variable":  # one read (TF's own read takes 3 ops)
                values = dict.fromkeys(values, _compat.as_tf_variable(obj))
            elif kind == "python_state" and not fresh:
                text = tf.constant(obj.serialize(), dtype=tf.string)
                values = dict.fromkeys(values, text)
            snapshot[obj] = _on_host(values)
        return snapshot

    def write(self, file_prefix: str) -> None:
        """Takes the values and writes them at once (a scratch save)."""
        _compat.write_checkpoint_tensors(self.take(), file_prefix)


def _kind(obj: Any, values: dict) -> str | None:
    """How a saved object's values are taken again: "variable",
    "python_state", "nothing" (none saved), or None (only by walking the
    graph again)."""
    if not values:
        return "nothing"
    if len(values) != 1 or isinstance(next(iter(values.values())), dict):
        return None  # several values, or slices of a partitioned variable
    if isinstance(_compat.as_tf_variable(obj), tf.Variable):
        return "variable"
    if isinstance(obj, tf.train.experimental.PythonState):
        return "python_state"
    return None


def _on_host(value: Any) -> Any:
    """Concrete tensors on the host CPU for a checkpoint value: a variable
    (read now), a tensor (one on a CPU is kept as it is: TF never writes
    into a tensor's buffer), a `{name: value}` dict. None (an uninitialized
    variable, whose value a save skips) is left out.

    Raises:
      ValueError: a value that is no tensor (TF's lazy reads of objects
        other than variables).
    """
    if isinstance(value, dict):
        converted = {k: _on_host(v) for k, v in value.items()}
        return {k: v for k, v in converted.items() if v is not None}
    if isinstance(value, tf.Variable):
        try:  # value(): one op (read_value() adds an identity)
            if isinstance(value, tf.distribute.DistributedValues):
                value = value.read_value()  # aggregated, as a save reads it
            else:
                value = value.value()
        except tf.errors.FailedPreconditionError:
            return None  # uninitialized
    if value is None:
        return None
    if not tf.is_tensor(value):
        raise ValueError(f"{value!r} is no tensor or variable.")
    device = tf.DeviceSpec.from_string(value.device or "/cpu:0")
    if device.device_type in (None, "CPU"):
        return value
    host = device.replace(device_type="CPU", device_index=0)
    with tf.device(host.to_string()):
        return tf.identity(value)
