"""The feeds of one run: the caller's `feed_dict` and the hooks', merged
with TF1's conflict errors, and what multi-step loops allow."""

from __future__ import annotations

from typing import Any

from absl import logging

from keras_monitored import _validation
from keras_monitored.hook_list import check_feed_conflicts
from keras_monitored.session_handle import reject_feeds_for_reads
from keras_monitored.step_session import is_host_iterator


def merged_feeds(
    user_feeds: dict | None, hook_feeds: dict, stepping: bool, fetches: Any
) -> dict:
    """The keyword arguments of the step: the hooks' feeds, then the
    caller's.

    Raises:
      TypeError: `feed_dict` is not a dict, or given with read-only fetches.
      RuntimeError: a hook and the caller feed the same key (TF1's error).
    """
    if user_feeds is not None and not isinstance(user_feeds, dict):
        raise TypeError(
            _validation.invalid(
                "feed_dict",
                user_feeds,
                "a dict of step-function keyword arguments or None",
            )
        )
    if not stepping:
        reject_feeds_for_reads(fetches, user_feeds)
        return {}
    if not hook_feeds:
        return dict(user_feeds or {})
    if not user_feeds:
        return dict(hook_feeds)
    check_feed_conflicts(
        user_feeds,
        hook_feeds,
        "Same tensor is fed by a SessionRunHook and user.",
    )
    merged = dict(hook_feeds)
    merged.update(user_feeds)
    return merged


def check_loop_feeds(
    hook_feeds: dict, num_steps: int, feeding_hooks: list[Any]
) -> None:
    """Hook feeds hold for every step of a multi-step loop: a Python
    iterator (advanced once per call) cannot feed one; other values are
    fed to every step, which is said once.

    Raises:
      ValueError: a hook feeds a Python iterator into a multi-step call.
    """
    feeders = ", ".join(type(h).__name__ for h in feeding_hooks)
    host_fed = sorted(k for k, v in hook_feeds.items() if is_host_iterator(v))
    if host_fed:
        raise ValueError(
            f"{feeders} feeds {host_fed} a Python iterator, which is advanced "
            f"once per run call, but this call runs {num_steps} steps "
            "(steps_per_loop). Give the hook `next_trigger_step(global_step)` "
            "returning global_step + 1, or feed a tf.data iterator."
        )
    logging.log_first_n(
        logging.WARNING,
        "%s feeds %s; with steps_per_loop every step of a loop gets the "
        "same value. A hook that must feed each step should define "
        "next_trigger_step(global_step) -> global_step + 1.",
        1,
        feeders,
        sorted(map(str, hook_feeds)),
    )
