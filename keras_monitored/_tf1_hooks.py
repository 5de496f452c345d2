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
    """Returns the km hook for a TF1 standard hook, else `hook` unchanged.

    Raises:
      TypeError: the TF1 hook holds something TF2 cannot run (a graph tensor,
        a name-based Saver), or it is a user subclass of a TF1 standard hook;
        the message says what to do instead.
      ValueError: the TF1 hook holds a value km's hook refuses (a negative
        step count).
    """
    for tf1_name, function in _TRANSLATORS.items():
        if _compat.is_exact_tf1(hook, tf1_name):
            try:
                return function(hook)
            except (TypeError, ValueError) as error:
                # The same error type km's own hook raises for the value.
                raise type(error)(
                    f"The TF1 tf.compat.v1.train.{tf1_name} cannot run in TF2 as "
                    f"configured: {error}"
                ) from error
        if _compat.is_instance_of_tf1(hook, tf1_name):
            raise TypeError(
                f"{type(hook).__name__} subclasses tf.compat.v1.train.{tf1_name}, "
                "whose graph-mode internals cannot run in TF2. Subclass "
                f"km.hooks.{tf1_name} instead: it has the same constructor and "
                "methods. (Subclasses of tf.compat.v1.train.SessionRunHook itself "
                "run unchanged.)"
            )
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

    every_secs, every_steps = _compat.tf1_timer_settings(
        _compat.private_attr(hook, "_timer")
    )
    save_path = _compat.private_attr(hook, "_save_path")
    return CheckpointSaverHook(
        checkpoint_dir=_compat.private_attr(hook, "_checkpoint_dir"),
        save_secs=every_secs,
        save_steps=every_steps,
        saver=_compat.private_attr(hook, "_saver"),
        checkpoint_basename=os.path.basename(save_path),
        scaffold=_compat.private_attr(hook, "_scaffold"),
        listeners=_compat.private_attr(hook, "_listeners"),
        save_graph_def=bool(
            _compat.private_attr(hook, "_save_graph_def", True)
        ),
    )


def _timer_kwargs(hook: Any, secs_name: str, steps_name: str) -> dict[str, Any]:
    every_secs, every_steps = _compat.tf1_timer_settings(
        _compat.private_attr(hook, "_timer")
    )
    return {secs_name: every_secs, steps_name: every_steps}


@_translator("LoggingTensorHook")
def _logging_tensor(hook: Any) -> Any:
    from keras_monitored.hooks.logging_tensor import LoggingTensorHook

    tensors = _compat.private_attr(hook, "_tensors")
    tag_order = list(_compat.private_attr(hook, "_tag_order"))
    built_from_list = all(
        tag is value or (isinstance(value, str) and tag == value)
        for tag, value in tensors.items()
    )
    if built_from_list and tag_order != sorted(tensors, key=str):
        fetches: Any = tag_order  # built from a list: keep its order
    else:
        fetches = dict(tensors)
    timer = _compat.private_attr(hook, "_timer")
    every_secs, every_steps = _compat.tf1_timer_settings(timer)
    return LoggingTensorHook(
        fetches,
        every_n_iter=every_steps,
        every_n_secs=every_secs,
        at_end=bool(_compat.private_attr(hook, "_log_at_end", False)),
        formatter=_compat.private_attr(hook, "_formatter"),
    )


@_translator("NanTensorHook")
def _nan_tensor(hook: Any) -> Any:
    from keras_monitored.hooks.nan_tensor import NanTensorHook

    return NanTensorHook(
        _compat.private_attr(hook, "_loss_tensor"),
        fail_on_nan_loss=bool(
            _compat.private_attr(hook, "_fail_on_nan_loss", True)
        ),
    )


@_translator("StepCounterHook")
def _step_counter(hook: Any) -> Any:
    from keras_monitored.hooks.step_counter import StepCounterHook

    return StepCounterHook(
        **_timer_kwargs(hook, "every_n_secs", "every_n_steps"),
        output_dir=_compat.private_attr(hook, "_output_dir"),
        summary_writer=_compat.private_attr(hook, "_summary_writer"),
    )


@_translator("SummarySaverHook")
def _summary_saver(hook: Any) -> Any:
    from keras_monitored.hooks.summary_saver import SummarySaverHook

    return SummarySaverHook(
        **_timer_kwargs(hook, "save_secs", "save_steps"),
        output_dir=_compat.private_attr(hook, "_output_dir"),
        summary_writer=_compat.private_attr(hook, "_summary_writer"),
        scaffold=_compat.private_attr(hook, "_scaffold"),
        summary_op=_compat.private_attr(hook, "_summary_op"),
    )


@_translator("FinalOpsHook")
def _final_ops(hook: Any) -> Any:
    from keras_monitored.hooks.final_ops import FinalOpsHook

    return FinalOpsHook(
        _compat.private_attr(hook, "_final_ops"),
        _compat.private_attr(hook, "_final_ops_feed_dict"),
        on_values=lambda values: _compat.set_private_attr(
            hook, "_final_ops_values", values
        ),
    )


@_translator("FeedFnHook")
def _feed_fn(hook: Any) -> Any:
    from keras_monitored.hooks.feed_fn import FeedFnHook

    return FeedFnHook(hook.feed_fn)


@_translator("GlobalStepWaiterHook")
def _global_step_waiter(hook: Any) -> Any:
    from keras_monitored.hooks.global_step_waiter import GlobalStepWaiterHook

    return GlobalStepWaiterHook(_compat.private_attr(hook, "_wait_until_step"))


@_translator("ProfilerHook")
def _profiler(hook: Any) -> Any:
    from keras_monitored.hooks.profiler import ProfilerHook

    output_file = _compat.private_attr(hook, "_output_file", "timeline-{}.json")
    return ProfilerHook(
        **_timer_kwargs(hook, "save_secs", "save_steps"),
        output_dir=os.path.dirname(output_file),
        show_dataflow=bool(_compat.private_attr(hook, "_show_dataflow", True)),
        show_memory=bool(_compat.private_attr(hook, "_show_memory", False)),
    )
