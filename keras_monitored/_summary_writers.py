"""Summary writers for hooks: one per log directory, shared by every hook
that writes there (TF1's SummaryWriterCache, for `tf.summary`); only the
chief writes; scalars hooks write themselves go out as TF1 `simple_value`s,
as TF1 wrote them, so TF1 event readers (`summary_iterator`) see them."""

from __future__ import annotations

import os
import threading
import time
from typing import Any

import tensorflow as tf
from absl import logging
from tensorboard.compat.proto import event_pb2

from keras_monitored import _compat, _validation

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


def active_writer(explicit: Any, output_dir: str | None, session: Any) -> Any:
    """The writer a summary hook uses in `session`: none on a non-chief (only
    the chief writes summaries), else the given one or `output_dir`'s."""
    if not session.is_chief:
        logging.log_first_n(
            logging.INFO,
            "Not the chief: summaries are written by the chief only.",
            1,
        )
        return None
    if explicit is None and output_dir:
        return writer_for(output_dir)
    return explicit


def check_summary_writer(value: Any) -> Any:
    """Validates a `summary_writer` argument (a TF2 `tf.summary` writer)."""
    if value is not None and not isinstance(value, tf.summary.SummaryWriter):
        raise TypeError(
            _validation.invalid(
                "summary_writer",
                value,
                "a tf.summary.SummaryWriter (tf.summary.create_file_writer) or None; "
                "TF1's FileWriter does not work eagerly",
            )
        )
    return value


def write_simple_value(
    writer: tf.summary.SummaryWriter, tag: str, value: float, step: int
) -> None:
    """Writes the scalar `value` as TF1 did: a `Summary.Value` with
    `simple_value` (TensorBoard reads it as TF2's scalars)."""
    summary = tf.compat.v1.Summary(
        value=[tf.compat.v1.Summary.Value(tag=tag, simple_value=float(value))]
    )
    with writer.as_default():
        tf.summary.experimental.write_raw_pb(
            summary.SerializeToString(), step=int(step)
        )


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
