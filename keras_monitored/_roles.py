"""Chief or worker: the role of this process, from the strategy or TF_CONFIG."""

from __future__ import annotations

import json
import os

import tensorflow as tf


def task_from_tf_config() -> tuple[str | None, int | None, dict]:
    """(task type, task id, cluster) from the TF_CONFIG environment variable,
    read by TF's own `TFConfigClusterResolver` (None, None, {} without it).

    Raises:
      ValueError: TF_CONFIG is set but is not a JSON object (the message
        names the variable and shows its value).
    """
    raw = os.environ.get("TF_CONFIG")
    if not raw:
        return None, None, {}
    try:
        if not isinstance(json.loads(raw), dict):
            raise ValueError("not a JSON object")
        resolver = tf.distribute.cluster_resolver.TFConfigClusterResolver()
        task_type, task_id = resolver.task_type, resolver.task_id
        cluster = resolver.cluster_spec().as_dict()
    except (ValueError, TypeError, AttributeError) as error:
        raise ValueError(
            f"Invalid value for the environment variable TF_CONFIG. Received: "
            f"TF_CONFIG={raw!r} ({error}). Expected JSON like "
            '\'{"cluster": {"worker": ["host0:port", "host1:port"]}, '
            '"task": {"type": "worker", "index": 0}}\'.'
        ) from error
    return task_type, task_id, cluster


def cluster_tasks() -> int:
    """How many chief and worker tasks TF_CONFIG's cluster has (0 without
    TF_CONFIG).

    Raises:
      ValueError: see `task_from_tf_config`.
    """
    _, _, cluster = task_from_tf_config()
    return len(cluster.get("chief", [])) + len(cluster.get("worker", []))


def _task_of(
    strategy: tf.distribute.Strategy | None,
) -> tuple[str | None, int | None, dict]:
    resolver = (
        getattr(strategy, "cluster_resolver", None)
        if strategy is not None
        else None
    )
    task_type = getattr(resolver, "task_type", None)
    if resolver is not None and task_type is not None:
        cluster = (
            resolver.cluster_spec().as_dict() if resolver.cluster_spec() else {}
        )
        return task_type, resolver.task_id, cluster
    return task_from_tf_config()


def is_chief_task(
    task_type: str | None, task_id: int | None, cluster: dict
) -> bool:
    """TF's rule: the `chief` task, or `worker` 0 when there is no chief."""
    if task_type is None:
        return True
    if task_type == "chief":
        return True
    if task_type == "worker" and not cluster.get("chief"):
        return (task_id or 0) == 0
    return False


def resolve_is_chief(
    is_chief: bool | None, strategy: tf.distribute.Strategy | None = None
) -> bool:
    """The role to use: `is_chief` when given, else derived from the cluster.

    Args:
      is_chief: an explicit role, or None.
      strategy: the strategy whose cluster resolver to ask first.

    Returns:
      True for the chief (also when there is no cluster at all).
    """
    if is_chief is not None:
        return bool(is_chief)
    return is_chief_task(*_task_of(strategy))


def task_identity(
    strategy: tf.distribute.Strategy | None = None,
) -> tuple[str, int]:
    """(task type, task id) of this process; ("chief", 0) without a cluster."""
    task_type, task_id, _ = _task_of(strategy)
    return (task_type or "chief"), (task_id or 0)


def is_collective(strategy: tf.distribute.Strategy | None) -> bool:
    """True for strategies whose every worker takes part in each save."""
    if strategy is None:
        return False
    return isinstance(strategy, tf.distribute.MultiWorkerMirroredStrategy) or (
        type(strategy).__name__.startswith("CollectiveAllReduceStrategy")
    )
