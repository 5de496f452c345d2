"""Input positions in session checkpoints (`checkpoint_input=True`).

Each `tf.data` iterator fed to `run` is saved with the checkpoint under its
feed name (`keras_monitored_input/<feed>`), so a restarted program's fresh
iterator resumes at the element after the last one the checkpointed steps
consumed, prefetch buffers and shuffle state included.

An iterator is attached to the checkpoint when it is first fed. A restore
that came before (the session restores when it is created, before any
feed) is applied to it then: TF restores dependencies added after a restore
as they appear. A checkpoint without a position for the feed (written
without `checkpoint_input`, or before the feed existed) is said with a
warning: that iterator starts at its beginning.

`tf.distribute` iterators cannot be saved (TF 2.21 does not track them);
for them the number of elements consumed is saved instead, and a restarted
program's iterator skips that many, in one compiled loop, before its first
step. That is exact when the pipeline is deterministic (the same files,
order and shuffle seeds), and is logged. A recovery inside one process
(the session re-created after a preemption error) rewinds saved iterators
to the checkpoint, with the variables; a distributed iterator cannot be
rewound, so it goes on from where it is (and its count with it).
"""

from __future__ import annotations

from typing import Any, Mapping

import tensorflow as tf
from absl import logging

INPUT_STATE_KEY = "keras_monitored_input"

_ATTRIBUTES = "/.ATTRIBUTES/"


class _ConsumedCount(tf.train.experimental.PythonState):
    """How many elements a distributed iterator has given the session.

    `live` is what this process consumed (counting from the restored value
    once it was skipped); `restored` is what the last restore held, None
    when none held one.
    """

    def __init__(self):
        self.live = 0
        self.restored: int | None = None

    def serialize(self) -> str:
        return str(self.live)

    def deserialize(self, string_value: Any) -> None:
        if isinstance(string_value, bytes):
            string_value = string_value.decode("utf-8")
        self.restored = int(string_value)


def unsaveable_input_hint(error: BaseException) -> str:
    """What to do when a save failed on an input pipeline TF cannot
    checkpoint (`Dataset.from_generator`, `py_function`), else ''."""
    if "SerializeIterator" not in str(error):
        return ""
    return (
        "An input pipeline that checkpoint_input=True saves cannot be saved: "
        "TF's iterator checkpointing does not support Dataset.from_generator, "
        "py_function or other Python ops. Pass checkpoint_input=False "
        "(--nocheckpoint_input), or build that input from sources TF can "
        "save (files, tensors)."
    )


def _is_distributed(iterator: Any) -> bool:
    return isinstance(iterator, tf.distribute.DistributedIterator)


def is_checkpointable_input(value: Any) -> bool:
    """True for the feeds `checkpoint_input` saves: `tf.data` iterators,
    distributed ones included."""
    return isinstance(
        value, (tf.data.Iterator, tf.distribute.DistributedIterator)
    )


class InputCheckpoint:
    """The positions of fed iterators, as one child of the checkpoint root.

    Args:
      enabled: `checkpoint_input`; when False nothing is tracked and the
        root has no input child.
    """

    def __init__(self, enabled: bool):
        self.enabled = bool(enabled)
        # Tracks whatever is set on it, under any identifier (feed names).
        self.container = (
            tf.__internal__.tracking.AutoTrackable() if enabled else None
        )
        self._iterators: dict[str, Any] = {}
        self._counts: dict[str, _ConsumedCount] = {}
        self._restored_path: str | None = None
        self._restored_keys: frozenset[str] = frozenset()

    def restored_from(self, path: str, reader: Any) -> None:
        """Notes the checkpoint restored into the root (`reader` reads it):
        iterators fed from now on take their positions from it."""
        prefix = INPUT_STATE_KEY + "/"
        keys = frozenset(
            name[len(prefix) :].split(_ATTRIBUTES, 1)[0]
            for name in reader.get_variable_to_shape_map()
            if name.startswith(prefix) and _ATTRIBUTES in name
        )
        if not self.enabled:
            if keys:
                logging.warning(
                    "Checkpoint %s holds the input positions of the feeds %s "
                    "(saved with checkpoint_input=True), but this session "
                    "runs without checkpoint_input: those inputs start at "
                    "their beginning. Pass checkpoint_input=True "
                    "(--checkpoint_input) to resume them.",
                    path,
                    sorted(keys),
                )
            return
        self._restored_path = path
        self._restored_keys = keys

    def track(self, feeds: Mapping[str, Any]) -> None:
        """Attaches the iterators among `feeds` not yet attached under their
        keys (an iterator restored before is positioned now).

        Raises:
          tf.errors.OpError: skipping a distributed iterator's consumed
            elements ran out of data.
        """
        if not self.enabled:
            return
        for key, value in feeds.items():
            if not is_checkpointable_input(value):
                continue
            if self._iterators.get(key) is value:
                continue
            self._attach(key, value)

    def consumed(self, feeds: Mapping[str, Any], steps: int) -> None:
        """Counts `steps` elements taken from each distributed feed."""
        if not self._counts:
            return
        for key, value in feeds.items():
            count = self._counts.get(key)
            if count is not None and self._iterators.get(key) is value:
                count.live += steps

    def _attach(self, key: str, iterator: Any) -> None:
        replaced = key in self._iterators
        self._iterators[key] = iterator
        self._counts.pop(key, None)
        if _is_distributed(iterator):
            count = _ConsumedCount()
            self._counts[key] = count
            setattr(self.container, key, count)  # a deferred restore fills it
            self._report_restore(key, replaced)
            if count.restored and not replaced:
                _skip(iterator, count.restored, key)
                count.live = count.restored
            return
        setattr(self.container, key, iterator)  # a deferred restore moves it
        self._report_restore(key, replaced)

    def _report_restore(self, key: str, replaced: bool) -> None:
        if replaced:
            logging.info(
                "A new iterator is fed as %r: its position is saved from now "
                "on (it starts at its beginning).",
                key,
            )
        elif self._restored_path and key not in self._restored_keys:
            logging.warning(
                "checkpoint_input: checkpoint %s holds no input position for "
                "the feed %r (it was written without checkpoint_input, or "
                "before that feed existed); that iterator starts at its "
                "beginning.",
                self._restored_path,
                key,
            )


def _skip(iterator: Any, count: int, key: str) -> None:
    """Advances a distributed iterator by `count` elements in one compiled
    loop (it cannot be saved; its consumed count was)."""
    logging.warning(
        "checkpoint_input: the feed %r is a tf.distribute iterator, which TF "
        "cannot checkpoint; skipping the %d elements the restored checkpoint "
        "had consumed (exact for a deterministic input pipeline).",
        key,
        count,
    )

    @tf.function(autograph=False)
    def skip(n):
        return tf.while_loop(
            lambda i: i < n,
            lambda i: _advanced(iterator, i),
            [tf.constant(0, tf.int64)],
        )

    skip(tf.constant(count, tf.int64))


def _advanced(iterator: Any, index: tf.Tensor) -> tf.Tensor:
    element = iterator.get_next()
    with tf.control_dependencies(
        tf.nest.flatten(element, expand_composites=True)
    ):
        return index + 1
