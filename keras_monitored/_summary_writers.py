"""One TensorBoard summary writer per log directory, shared by every hook
that writes there (TF1's SummaryWriterCache, for `tf.summary`)."""

from __future__ import annotations

import os
import threading
import time

import tensorflow as tf
from tensorboard.compat.proto import event_pb2

from keras_monitored import _compat

_lock = threading.Lock()
_writers: dict[str, tf.summary.SummaryWriter] = {}


def writer_for(logdir: str) -> tf.summary.SummaryWriter:
    """The shared `tf.summary` writer for `logdir` (created on first use)."""
    key = os.path.abspath(logdir)
    with _lock:
        writer = _writers.get(key)
        if writer is None:
            with tf.init_scope():
                writer = tf.summary.create_file_writer(logdir)
            _writers[key] = writer
        return writer


def flush(logdir: str | None = None) -> None:
    """Flushes the writer of `logdir`, or every writer."""
    with _lock:
        writers = (
            list(_writers.values())
            if logdir is None
            else [_writers.get(os.path.abspath(logdir))]
        )
    for writer in writers:
        if writer is not None:
            writer.flush()


def write_session_start(writer: tf.summary.SummaryWriter, step: int) -> None:
    """Writes TF1's `SessionLog(START)` event at `step` through `writer`.

    TensorBoard reads it as "a new run starts here": points with step >= `step`
    that an earlier, interrupted run left are discarded, so curves stay
    continuous across a restart from a checkpoint. It goes into the writer's
    own file, in order with the summaries, as TF1's FileWriter wrote it.
    """
    event = event_pb2.Event(step=int(step), wall_time=time.time())
    event.session_log.status = event_pb2.SessionLog.START
    _compat.write_event(writer, event.SerializeToString())
