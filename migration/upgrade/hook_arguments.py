"""Arguments of the standard hooks, Scaffold and SessionRunArgs that held
graph objects in TF1.

    tf.train.LoggingTensorHook({"loss": loss, "step": global_step}, 10)

becomes (when `loss` was a graph tensor and `global_step` the global step)

    km.hooks.LoggingTensorHook({"loss": "loss", "step": global_step}, 10)

A name bound to the global step stays: a variable is a TF2 fetch. Any
other name becomes the step output of that name (the step function must
return it; km raises a KeyError naming the fetch at the first step if it
does not). Other expressions, Saver-based scaffolds, summary ops and feeds
keyed by tensors are reported.
"""

from __future__ import annotations

import libcst as cst

from migration.upgrade import rules
from migration.upgrade.analyzer import (
    Analyzer,
    argument,
    shown,
    string_value,
)
from migration.upgrade.diagnostics import ERROR, WARNING

#: km target -> (position, keyword) of its fetch argument, and whether other
#: expressions than names are reported there (`SessionRunArgs(self._loss)`
#: is usually a variable or a name set in begin(): left alone).
_FETCH_ARGUMENTS = {
    "km.hooks.LoggingTensorHook": (0, "tensors", True),
    "km.hooks.NanTensorHook": (0, "loss_tensor", True),
    "km.hooks.FinalOpsHook": (0, "final_ops", True),
    "km.SessionRunArgs": (0, "fetches", False),
}
#: km target -> {keyword: (position, why it needs a person)}.
_GRAPH_ARGUMENTS = {
    "km.hooks.SummarySaverHook": {
        "summary_writer": (
            3,
            "a TF1 FileWriter: give output_dir; km writes TF2 event files",
        ),
        "summary_op": (
            5,
            "a TF1 summary op: omit it (km records the step's own "
            "tf.summary calls) or give step-output names to write as scalars",
        ),
    },
    "km.hooks.StepCounterHook": {
        "summary_writer": (
            3,
            "a TF1 FileWriter: give output_dir; km writes TF2 event files",
        ),
    },
}
_SCAFFOLD_KEEPS = frozenset({"init_fn"})
_SCAFFOLD_WHY = {
    "saver": "a name-based Saver: pass km.Scaffold(checkpoint=tf.train."
    "Checkpoint(model=..., optimizer=...)) and convert old checkpoints with "
    "`km-migrate checkpoint`",
    "summary_op": "a TF1 summary op: km records the step's tf.summary "
    "calls itself (drop it)",
}


class HookArgumentAnalyzer(Analyzer):
    """Fetch, saver, summary and feed arguments of TF1 hook-API calls."""

    def visit_Call(self, node: cst.Call) -> bool:
        target = self.km_target(node.func)
        if target in _FETCH_ARGUMENTS:
            position, keyword, strict = _FETCH_ARGUMENTS[target]
            arg = argument(node, position, keyword)
            if arg is not None:
                self._fetches(arg.value, strict)
        for keyword, (position, why) in _GRAPH_ARGUMENTS.get(
            target, {}
        ).items():
            arg = argument(node, position, keyword)
            if arg is not None and not _is_none(arg.value):
                self.report(arg, ERROR, f"`{keyword}=` is {why}.")
        if target == "km.Scaffold":
            self._scaffold(node)
        elif target == "km.hooks.CheckpointSaverHook":
            saver = argument(node, 3, "saver")
            if saver is not None and self.call_name(saver.value) not in (
                "train.Checkpoint",
                None,
            ):
                self.report(
                    saver, ERROR, f"`saver=` is {_SCAFFOLD_WHY['saver']}."
                )
        elif target == "km.SessionRunArgs":
            feeds = argument(node, 1, "feed_dict")
            if feeds is not None:
                self._feeds(feeds.value, "SessionRunArgs(feed_dict=...)")
        elif target == "km.hooks.FeedFnHook":
            self._feed_fn(node)
        return True

    def _fetches(self, value: cst.CSTNode, strict: bool) -> None:
        if isinstance(value, cst.Dict):
            for element in value.elements:
                if isinstance(element, cst.DictElement):
                    self._fetch(element.value, strict)
        elif isinstance(value, (cst.List, cst.Tuple)):
            for element in value.elements:
                self._fetch(element.value, strict)
        else:
            self._fetch(value, strict)

    def _fetch(self, value: cst.CSTNode, strict: bool) -> None:
        if string_value(value) is not None or self.plan.is_claimed(value):
            return
        if not strict and not isinstance(value, cst.Name):
            return
        if isinstance(value, cst.Name):
            values = self.assigned_values(value)
            if values and all(self._makes_global_step(v) for v in values):
                return  # the global step variable: a TF2 fetch as it is
            self.plan.replace(value, f'"{value.value}"')
            self.forget(value)
            self.plan.claim(value)
            self.report(
                value,
                WARNING,
                f"`{value.value}` was a graph tensor: the hook now fetches the "
                f"step output {value.value!r}. The step function must return "
                f"it ({{{value.value!r}: ...}}) or km.expose it.",
                change=True,
            )
            return
        self.report(
            value,
            ERROR,
            f"`{shown(value)}` is a graph tensor fetched by a hook: TF2 has "
            "none. Return it from the step function and fetch it by name "
            "(a str), or pass a variable or a zero-argument callable.",
        )

    def _makes_global_step(self, value: cst.CSTNode) -> bool:
        """`tf.train.get_or_create_global_step()` (or km's)."""
        return isinstance(value, cst.Call) and (
            self.call_name(value) in rules.GLOBAL_STEP_CALLS
            or self.km_target(value.func)
            in ("km.get_or_create_global_step", "km.get_global_step")
        )

    def _scaffold(self, node: cst.Call) -> None:
        for arg in node.args:
            if arg.keyword is None:
                self.report(
                    arg,
                    ERROR,
                    f"`{shown(arg.value)}` is a positional argument of TF1's "
                    "Scaffold (init_op, ...): km.Scaffold takes checkpoint=, "
                    "global_step=, init_fn= by keyword.",
                )
            elif arg.keyword.value not in _SCAFFOLD_KEEPS:
                keyword = arg.keyword.value
                why = _SCAFFOLD_WHY.get(
                    keyword,
                    "a TF1 graph op: TF2 variables initialise themselves; "
                    "code for a fresh start goes in init_fn",
                )
                self.report(arg, ERROR, f"Scaffold `{keyword}=` is {why}.")

    def _feeds(self, value: cst.CSTNode, where: str) -> None:
        if not isinstance(value, cst.Dict):
            return
        for element in value.elements:
            if isinstance(element, cst.DictElement) and (
                string_value(element.key) is None
            ):
                self.report(
                    element,
                    ERROR,
                    f"{where} is keyed by `{shown(element.key)}`, a graph "
                    "tensor (placeholder): feeds are the step function's "
                    "keyword arguments, keyed by name: {'x': value}.",
                )

    def _feed_fn(self, node: cst.Call) -> None:
        feed_fn = argument(node, 0, "feed_fn")
        if feed_fn is None:
            return
        if isinstance(feed_fn.value, cst.Lambda):
            self._feeds(feed_fn.value.body, "FeedFnHook's feed_fn result")
        self.report(
            node,
            WARNING,
            "FeedFnHook: feed_fn must return {step-function argument name: "
            "value}; TF1's placeholder keys do not exist in TF2.",
        )


def _is_none(node: cst.CSTNode) -> bool:
    return isinstance(node, cst.Name) and node.value == "None"
