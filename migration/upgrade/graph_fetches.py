"""Graph tensors that hooks fetch, rewritten to the fetch forms of TF2.

TF1 hooks looked tensors up in the graph, usually in `begin()`:

    self._loss = tf.get_default_graph().get_tensor_by_name("loss:0")

TF2 has no graph: the hook fetches the step output by name, and km resolves
the TF1 tensor name `"loss:0"` to the output `"loss"`:

    self._loss = "loss:0"

`tf.train.get_global_step()` stays a variable fetch (renamed to
`km.get_global_step()`), whose value is the one before the step, as TF1's
graph read gave. Ops a hook builds in `begin()` or `__init__` (an assign, a
computed tensor) cannot be converted: TF2 would compute them once, and the
hook would fetch that constant forever; they are reported.
"""

from __future__ import annotations

import libcst as cst

from migration.upgrade import names, rules
from migration.upgrade.analyzer import Analyzer, argument, code_of, string_value
from migration.upgrade.diagnostics import ERROR, INFO

#: Classes whose subclasses are hooks (canonical names).
_HOOK_BASES = frozenset(
    name
    for name, target in rules.KM_RENAMES.items()
    if target.startswith("km.hooks.") or target == "km.SessionRunHook"
)
_SETUP_METHODS = ("__init__", "begin", "after_create_session")
_GRAPH_LOOKUPS = ("get_operation_by_name", "as_graph_element")


class GraphFetchAnalyzer(Analyzer):
    """`get_tensor_by_name` lookups, and graph ops built by hook classes."""

    def __init__(self, plan):
        super().__init__(plan)
        self._hook_classes: list[cst.ClassDef] = []
        self._methods: list[str] = []

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        is_hook = any(
            self.canonical(base.value) in _HOOK_BASES
            or any(
                q.startswith("keras_monitored.")
                for q in self.qualified(base.value)
            )
            for base in node.bases
        )
        self._hook_classes.append(node if is_hook else None)
        return True

    def leave_ClassDef(self, original_node: cst.ClassDef) -> None:
        self._hook_classes.pop()

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self._methods.append(node.name.value)
        return True

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._methods.pop()

    def visit_Call(self, node: cst.Call) -> bool:
        func = node.func
        if not isinstance(func, cst.Attribute):
            return True
        if func.attr.value == "get_tensor_by_name" and self._is_graph(
            func.value
        ):
            self._tensor_by_name(node)
            return False
        if func.attr.value in _GRAPH_LOOKUPS and self._is_graph(func.value):
            self.plan.claim(node)
            self.report(
                node,
                ERROR,
                f"`{code_of(node)}` looks up a graph op: TF2 has none to run "
                "from a hook. Do that work in the step function (return what "
                "the hook needs and fetch it by name), or eagerly in after_run.",
            )
            return False
        return True

    def visit_Assign(self, node: cst.Assign) -> bool:
        """`self.x = tf.some_op(...)` in a hook's `begin`/`__init__`."""
        if not self._in_hook_setup():
            return True
        value = node.value
        canonical = self.call_name(value)
        if (
            canonical is None
            or canonical in rules.GLOBAL_STEP_CALLS
            or not names.is_graph_building(canonical)
            or names.manual_rule(canonical) is not None
        ):
            return True
        targets = ", ".join(code_of(t.target) for t in node.targets)
        self.report(
            value,
            ERROR,
            f"{self._methods[-1]}() builds `{code_of(value)}` for "
            f"`{targets}`: TF2 computes it once, now, and a hook fetching it "
            "would see that constant forever. Compute it in the step "
            "function (return it, or km.expose(name, value)) and fetch it by "
            "name, or fetch a zero-argument callable: "
            "SessionRunArgs([lambda: ...]).",
        )
        return True

    # -- helpers --------------------------------------------------------------

    def _in_hook_setup(self) -> bool:
        return (
            bool(self._hook_classes)
            and self._hook_classes[-1] is not None
            and bool(self._methods)
            and self._methods[-1] in _SETUP_METHODS
        )

    def _is_graph(self, receiver: cst.CSTNode) -> bool:
        """True for `tf.get_default_graph()`, `x.graph`, or a name bound to
        `tf.get_default_graph()`."""
        if self.call_name(receiver) == "get_default_graph":
            return True
        if isinstance(receiver, cst.Attribute):
            return receiver.attr.value == "graph"
        if isinstance(receiver, cst.Name):
            values = self.assigned_values(receiver)
            return bool(values) and all(
                self.call_name(v) == "get_default_graph" for v in values
            )
        return False

    def _tensor_by_name(self, node: cst.Call) -> None:
        self.plan.claim(node)
        name_arg = argument(node, 0, "name")
        tensor_name = string_value(name_arg.value) if name_arg else None
        if tensor_name is None:
            self.report(
                node,
                ERROR,
                f"`{code_of(node)}` looks a graph tensor up by a computed "
                "name: fetch the step output by name instead (a str such as "
                "'loss'; km resolves TF1's 'loss:0' to the output 'loss').",
            )
            return
        self.plan.replace(node, code_of(name_arg.value))
        self.forget(node)
        output = tensor_name.split(":")[0]
        self.report(
            node,
            INFO,
            f"`{code_of(node)}` -> {code_of(name_arg.value)}: the hook now "
            f"fetches the step output {output!r} by name; the step function "
            f"must return it ({{{output!r}: ...}}) or km.expose it.",
        )
