"""Strategy helpers: the TPU strategy behind a TF1 `master` / `--tpu`
address, a strategy's place in a multi-worker job, and waiting (in Python,
interruptible, with a timeout) for a multi-worker job's other tasks."""

from __future__ import annotations

from typing import Any

import tensorflow as tf

from keras_monitored import _validation
from keras_monitored._peer_wait import (
    DEFAULT_PEER_TIMEOUT_SECS,
    PeerWaitInterruptedError,
    PeerWaitTimeoutError,
    wait_for_peers,
)

__all__ = [
    "DEFAULT_PEER_TIMEOUT_SECS",
    "PeerWaitInterruptedError",
    "PeerWaitTimeoutError",
    "is_tpu",
    "tpu_strategy",
    "wait_for_peers",
]


def tpu_strategy(
    tpu: str = "", zone: str | None = None, project: str | None = None
) -> tf.distribute.TPUStrategy:
    """Connects to a TPU and returns a `TPUStrategy` for it.

    TF1 programs named the TPU through `master` (`grpc://10.0.0.2:8470`) or a
    `--tpu` flag (a TPU name). This resolves it with `TPUClusterResolver`,
    connects, initialises the TPU system and builds the strategy; the session
    then runs exactly as under any other strategy (steps per replica inside
    one `tf.function`, `steps_per_loop` host loops).

    Args:
      tpu: the TPU's gRPC address or name ('' = the local / environment TPU).
      zone: the TPU's GCE zone, if named.
      project: the TPU's GCP project, if named.

    Returns:
      A `tf.distribute.TPUStrategy`.

    Raises:
      TypeError: `tpu` is not a string.
      ValueError: TensorFlow finds no TPU there.
    """
    if not isinstance(tpu, str):
        raise TypeError(
            _validation.invalid("tpu", tpu, "a TPU name or grpc:// address")
        )
    resolver = tf.distribute.cluster_resolver.TPUClusterResolver(
        tpu=tpu, zone=zone, project=project
    )
    tf.config.experimental_connect_to_cluster(resolver)
    tf.tpu.experimental.initialize_tpu_system(resolver)
    return tf.distribute.TPUStrategy(resolver)


def is_tpu(strategy: Any) -> bool:
    """True for a TPU strategy (which consumes a TF1 `master` address)."""
    return isinstance(
        strategy,
        (tf.distribute.TPUStrategy, tf.distribute.experimental.TPUStrategy),
    )
