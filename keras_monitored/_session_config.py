"""TF1 `master` and `config` (ConfigProto) arguments, honoured where TF2 has a
meaning for them and otherwise reported once."""

from __future__ import annotations

from typing import Any

import tensorflow as tf
from absl import logging

from keras_monitored import _validation

_warned: set[str] = set()


def _warn_once(key: str, message: str, *args: Any) -> None:
    if key in _warned:
        return
    _warned.add(key)
    logging.warning(message, *args)


def check_master(master: Any) -> str:
    """Validates `master` (a string; '' means local)."""
    if master is None:
        return ""
    if not isinstance(master, str):
        raise TypeError(
            _validation.invalid(
                "master", master, "a string (e.g. '' or 'grpc://host:port')"
            )
        )
    return master


def check_config(config: Any) -> Any:
    """Validates `config` (None or a `tf.compat.v1.ConfigProto`)."""
    if config is None:
        return None
    if not isinstance(config, tf.compat.v1.ConfigProto):
        raise TypeError(
            _validation.invalid(
                "config", config, "a tf.compat.v1.ConfigProto or None"
            )
        )
    return config


def _apply_gpu_options(config: Any) -> set[str]:
    """`gpu_options.allow_growth` and `visible_device_list`, and
    `device_count={'GPU': 0}`, through `tf.config`; returns the field names
    handled (`gpu_options.<field>`, `device_count`)."""
    handled = set()
    gpus = tf.config.list_physical_devices("GPU")
    options = config.gpu_options
    try:
        if options.visible_device_list:
            indices = [int(i) for i in options.visible_device_list.split(",")]
            tf.config.set_visible_devices(
                [gpus[i] for i in indices if i < len(gpus)], "GPU"
            )
            handled.add("gpu_options.visible_device_list")
        if dict(config.device_count).get("GPU") == 0:
            tf.config.set_visible_devices([], "GPU")
            handled.add("device_count")
        if options.allow_growth:
            for gpu in gpus:
                tf.config.experimental.set_memory_growth(gpu, True)
            handled.add("gpu_options.allow_growth")
    except (RuntimeError, ValueError) as error:
        _warn_once(
            "gpu_options",
            "config.gpu_options not applied: %s (GPU settings take effect "
            "only before TensorFlow's runtime starts: build the session "
            "first thing in the program, or call tf.config yourself).",
            error,
        )
    return handled


def apply_config(config: Any) -> None:
    """Applies the parts of a ConfigProto that TF2 still has.

    Thread-pool sizes, soft placement, device-placement logging, and
    `gpu_options.allow_growth` / `visible_device_list` / `device_count=
    {'GPU': 0}` map to `tf.config`; such settings only take effect before
    TensorFlow's runtime starts, so a late setting is reported instead.
    Anything else in the proto is reported once, by name, as having no TF2
    equivalent.
    """
    if config is None:
        return
    handled = {
        "intra_op_parallelism_threads",
        "inter_op_parallelism_threads",
        "allow_soft_placement",
        "log_device_placement",
    } | _apply_gpu_options(config)
    for field, setter in (
        (
            "intra_op_parallelism_threads",
            tf.config.threading.set_intra_op_parallelism_threads,
        ),
        (
            "inter_op_parallelism_threads",
            tf.config.threading.set_inter_op_parallelism_threads,
        ),
    ):
        value = getattr(config, field)
        if value:
            try:
                setter(value)
            except RuntimeError as error:
                _warn_once(
                    field, "config.%s=%d not applied: %s", field, value, error
                )
    if config.allow_soft_placement:
        tf.config.set_soft_device_placement(True)
    if config.log_device_placement:
        tf.debugging.set_log_device_placement(True)
    fields = [
        f"gpu_options.{field.name}"
        for field, _ in config.gpu_options.ListFields()
    ] + [
        field.name
        for field, _ in config.ListFields()
        if field.name != "gpu_options"
    ]
    unhandled = sorted(name for name in fields if name not in handled)
    if unhandled:
        _warn_once(
            "config:" + ",".join(unhandled),
            "ConfigProto fields %s have no TF2 equivalent and are ignored.",
            unhandled,
        )


def report_master(master: str) -> None:
    """Reports a non-empty `master` that no TPU strategy consumed."""
    if master:
        _warn_once(
            "master:" + master,
            "master=%r has no meaning in TF2 outside TPUStrategy; ignored. For a "
            "TPU pass strategy=km.distribute.tpu_strategy(master); for several "
            "machines use a tf.distribute strategy (TF_CONFIG).",
            master,
        )
