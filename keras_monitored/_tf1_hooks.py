"""Translation of TF1 standard hook instances into their km equivalents.

A program that builds `tf.compat.v1.train.StopAtStepHook(last_step=1000)`
keeps working: wherever km accepts a hook it reads that object's settings and
runs a km hook with the same settings. Only the exact TF1 classes are
translated; user subclasses run as they are.
"""

from __future__ import annotations

import os
from typing import Any, Callable

from keras_monitored import _compat

_Translator = Callable[[Any], Any]
_TRANSLATORS: dict[str, _Translator] = {}


def _translator(tf1_name: str) -> Callable[[_Translator], _Translator]:
    def register(function: _Translator) -> _Translator:
        _TRANSLATORS[tf1_name] = function
        return function

    return register


def translate(hook: Any) -> Any:
    """Returns the km hook for a TF1 standard hook, else `hook` unchanged."""
    for tf1_name, function in _TRANSLATORS.items():
        if _compat.is_exact_tf1(hook, tf1_name):
            return function(hook)
    return hook


@_translator("StopAtStepHook")
def _stop_at_step(hook: Any) -> Any:
    from keras_monitored.hooks.stop_at_step import StopAtStepHook

    return StopAtStepHook(
        num_steps=_compat.private_attr(hook, "_num_steps"),
        last_step=_compat.private_attr(hook, "_last_step"),
    )


@_translator("CheckpointSaverHook")
def _checkpoint_saver(hook: Any) -> Any:
    from keras_monitored.hooks.checkpoint_saver import CheckpointSaverHook

    every_secs, every_steps = _compat.tf1_timer_settings(_compat.private_attr(hook, "_timer"))
    save_path = _compat.private_attr(hook, "_save_path")
    return CheckpointSaverHook(
        checkpoint_dir=_compat.private_attr(hook, "_checkpoint_dir"),
        save_secs=every_secs,
        save_steps=every_steps,
        saver=_compat.private_attr(hook, "_saver"),
        checkpoint_basename=os.path.basename(save_path),
        scaffold=_compat.private_attr(hook, "_scaffold"),
        listeners=_compat.private_attr(hook, "_listeners"),
        save_graph_def=bool(_compat.private_attr(hook, "_save_graph_def", True)),
    )
