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
from migration.upgrade.analyzer import (
    Analyzer,
    argument,
    code_of,
    shown,
    string_value,
)
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
        self._hook_class_names: set[str] = set()

    def visit_Module(self, node: cst.Module) -> bool:
        """First, the module's hook classes (to check what their
        constructors are given, wherever they are called)."""
        analyzer = self

        class _HookClasses(cst.CSTVisitor):
            def visit_ClassDef(self, cls: cst.ClassDef) -> None:
                if analyzer._is_hook_class(cls):
                    analyzer._hook_class_names.add(cls.name.value)

        node.visit(_HookClasses())
        return True

    def _is_hook_class(self, node: cst.ClassDef) -> bool:
        return any(
            self.canonical(base.value) in _HOOK_BASES
            or any(
                q.startswith("keras_monitored.")
                for q in self.qualified(base.value)
            )
            for base in node.bases
        )

    def visit_ClassDef(self, node: cst.ClassDef) -> bool:
        self._hook_classes.append(node if self._is_hook_class(node) else None)
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
        if isinstance(func, cst.Name) and func.value in self._hook_class_names:
            self._hook_constructor(node)
            return True
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
                f"`{shown(node)}` looks up a graph op: TF2 has none to run "
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
            f"{self._methods[-1]}() builds `{shown(value)}` for "
            f"`{targets}`: TF2 computes it once, now, and a hook fetching it "
            "would see that constant forever. Compute it in the step "
            "function (return it, or km.expose(name, value)) and fetch it by "
            "name, or fetch a zero-argument callable: "
            "SessionRunArgs([lambda: ...]).",
        )
        return True

    def _hook_constructor(self, node: cst.Call) -> None:
        """A graph tensor given to one of the module's own hooks: the hook
        will fetch it, and TF2 has no graph to fetch it from."""
        for arg in node.args:
            value = arg.value
            if not isinstance(value, cst.Name):
                continue
            built = [
                v
                for v in self.assigned_values(value) or ()
                if names.is_graph_building(self.call_name(v) or "")
            ]
            if built:
                self.report(
                    value,
                    ERROR,
                    f"`{value.value}` (`{shown(built[0])}`) is a graph tensor "
                    f"given to the hook `{shown(node.func)}`: TF2 has none to "
                    "fetch. Return it from the step function and give the hook "
                    f"its name ({value.value!r}) to fetch instead.",
                )

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
                f"`{shown(node)}` looks a graph tensor up by a computed "
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
            f"`{shown(node)}` -> {shown(name_arg.value)}: the hook now "
            f"fetches the step output {output!r} by name; the step function "
            f"must return it ({{{output!r}: ...}}) or km.expose it.",
        )
