"""TF1 API names: renamed to keras_monitored or absl, or reported.

`tf.train.StopAtStepHook` -> `km.hooks.StopAtStepHook`, `tf.app.flags` ->
absl `flags`, `tf.logging.info` -> absl `logging.info`; names the tables mark
as needing a person (`tf.placeholder`, `tf.train.Saver`, `tf.contrib.*`,
horovod, ...) are reported with the keras_monitored way.
"""

from __future__ import annotations

import libcst as cst
from libcst.metadata import PositionProvider

from migration.upgrade import names, rules
from migration.upgrade.analyzer import Analyzer, code_of, shown
from migration.upgrade.diagnostics import ERROR, INFO, WARNING
from migration.upgrade.plan import with_leading_lines

_ABSL_IMPORTS = {
    "flags": ("absl", "flags"),
    "logging": ("absl", "logging"),
    "app": ("absl", "app"),
}


class ApiNameAnalyzer(Analyzer):
    """Renames or reports every dotted name that refers to TF1's API."""

    def __init__(self, plan):
        super().__init__(plan)
        self._functions: list[cst.FunctionDef] = []

    def visit_FunctionDef(self, node: cst.FunctionDef) -> bool:
        self._functions.append(node)
        return True

    def leave_FunctionDef(self, original_node: cst.FunctionDef) -> None:
        self._functions.pop()

    def _in_step_function(self) -> bool:
        return any(f in self.plan.step_functions for f in self._functions)

    def visit_Import(self, node: cst.Import) -> bool:
        if any(a.evaluated_name == "tensorflow.compat.v1" for a in node.names):
            self._report_v1_import(node)
        return False

    def _report_v1_import(self, node: cst.CSTNode) -> None:
        """Said only if the import is still there after the upgrade (the
        engine checks): an import every use of which was renamed goes."""
        start = self.get_metadata(PositionProvider, node).start
        self.plan.v1_imports.append(
            (
                start.line,
                start.column + 1,
                f"`{shown(node)}`: every `tf.` name here is TF1's "
                "(tf.train.Checkpoint is TF1's CheckpointV1, tf.summary "
                "TF1's graph summaries). Once the ERROR items are fixed, "
                "`import tensorflow as tf` (names only TF1 has then need "
                "tf.compat.v1.).",
            )
        )

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        if (
            node.module is not None
            and code_of(node.module) == "tensorflow.compat"
            and not isinstance(node.names, cst.ImportStar)
            and any(alias.evaluated_name == "v1" for alias in node.names)
        ):
            self._report_v1_import(node)
        return False

    def visit_Attribute(self, node: cst.Attribute) -> bool:
        return self._visit_name(node)

    def visit_Name(self, node: cst.Name) -> bool:
        return self._visit_name(node)

    def visit_Call(self, node: cst.Call) -> bool:
        return not self.plan.is_claimed(node)

    def _visit_name(self, node: cst.Name | cst.Attribute) -> bool:
        """Handles the outermost dotted name that a rule covers; returns
        False (do not look inside) once handled."""
        if self.plan.is_claimed(node):
            return False
        canonical = self.canonical(node)
        if canonical is None or not canonical:
            return True
        if canonical in rules.KM_RENAMES:
            self._rename(node, rules.KM_RENAMES[canonical])
            module, obj, alias = rules.KM_IMPORT
            self.plan.need_import(module, obj, self.plan.aliases.km)
            return False
        if canonical == rules.APP_RUN:
            self._rename(node, "app.run")
            self._need_absl("app")
            return False
        prefix = names.longest_prefix(canonical, rules.ABSL_MODULES)
        if prefix is not None:
            return self._rename_absl(node, canonical, prefix)
        rule = names.manual_rule(canonical)
        if rule is not None and rule.fine_in_step and self._in_step_function():
            return False  # already where km wants it
        if rule is not None:
            severity, maybe = rule.severity, ""
            if rule.also_tf2 and not any(
                names.is_explicit_v1(q) for q in self.qualified(node)
            ):
                severity, maybe = WARNING, "if this is TF1's, "
            self.report(
                node,
                severity,
                f"`{shown(node)}`: {maybe}{rule.what}. keras_monitored "
                f"way: {rule.how}.",
            )
            return False
        return True

    def _rename(self, node: cst.CSTNode, target: str) -> None:
        expression = self.plan.aliases.expression(target)
        if expression == code_of(node):
            return  # `flags.DEFINE_float` where `flags` was tf.app.flags
        self.plan.replace(node, expression)
        self.report(node, INFO, f"Renamed `{shown(node)}` to `{expression}`.")
        self.forget(node)

    def _rename_absl(
        self, node: cst.CSTNode, canonical: str, prefix: str
    ) -> bool:
        module = rules.ABSL_MODULES[prefix]
        member = canonical[len(prefix) :].lstrip(".")
        if module == "logging" and member.split(".")[0] not in (
            rules.ABSL_LOGGING_MEMBERS | {""}
        ):
            self.report(
                node,
                ERROR,
                f"`{shown(node)}` has no absl.logging equivalent: use "
                "absl.logging.info/warning/error (or remove it).",
            )
            return False
        self._rename(node, f"{module}.{member}" if member else module)
        self._need_absl(module)
        return False

    def _need_absl(self, module: str) -> None:
        package, name = _ABSL_IMPORTS[module]
        alias = getattr(self.plan.aliases, module)
        self.plan.need_import(package, name, alias if alias != name else None)

    # -- statements ---------------------------------------------------------

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        if self.plan.is_claimed(node):
            return False
        removable = [s for s in node.body if self._removed_call(s)]
        alias_rebinds = [s for s in node.body if self._absl_rebind(s)]
        gone = removable + alias_rebinds
        if not gone:
            return True
        statement, siblings = self.enclosing_statement(node)
        if len(gone) == len(node.body) and statement is node:
            self.plan.remove_statement(node, siblings)
        else:
            for small in gone:
                self.plan.add(small, lambda _: cst.RemovalSentinel.REMOVE)
        for small in gone:
            self.forget(small)
        for small in removable:
            canonical = self.call_name(small.value)
            self.report(
                small,
                INFO,
                f"Removed `{shown(small)}`: {rules.REMOVED_CALLS[canonical]}.",
            )
        for small in alias_rebinds:
            self.report(
                small,
                INFO,
                f"Removed `{shown(small)}`: the absl module is imported "
                "under that name.",
            )
        return len(gone) != len(node.body)

    def _removed_call(self, small: cst.BaseSmallStatement) -> bool:
        if not isinstance(small, cst.Expr):
            return False
        return self.call_name(small.value) in rules.REMOVED_CALLS

    def _absl_rebind(self, small: cst.BaseSmallStatement) -> bool:
        """`flags = tf.app.flags`: after the rename it would read
        `flags = flags`."""
        if not isinstance(small, cst.Assign) or len(small.targets) != 1:
            return False
        target = small.targets[0].target
        if not isinstance(target, cst.Name):
            return False
        canonical = self.canonical(small.value)
        module = rules.ABSL_MODULES.get(canonical or "")
        return module is not None and target.value == getattr(
            self.plan.aliases, module
        )

    def visit_With(self, node: cst.With) -> bool:
        graphs = [item for item in node.items if self._is_as_default(item)]
        if not graphs:
            return True
        if (
            len(node.items) == 1
            and node.items[0].asname is None
            and self._makes_graph(node.items[0].item)
        ):
            self.plan.add(node, _unwrap_with)
            self.plan.claim(node.items[0].item)
            self.forget(node.items[0].item)
            self.report(
                node,
                INFO,
                f"Removed `with {shown(node.items[0].item)}:` (kept its "
                "body): keras_monitored runs eagerly, without a TF1 graph.",
            )
            return True
        self.report(
            node,
            ERROR,
            f"`with {shown(graphs[0].item)}` makes a TF1 graph or session "
            "the default: keras_monitored needs eager mode. Remove it and "
            "keep its body (objects it held have no TF2 use).",
        )
        return True

    def _is_as_default(self, item: cst.WithItem) -> bool:
        call = item.item
        return (
            isinstance(call, cst.Call)
            and isinstance(call.func, cst.Attribute)
            and call.func.attr.value == "as_default"
        )

    def _makes_graph(self, call: cst.Call) -> bool:
        receiver = call.func.value
        return (self.call_name(receiver) or "").rsplit(".", 1)[
            -1
        ] == rules.GRAPH_CONSTRUCTOR


def _unwrap_with(updated: cst.With) -> cst.FlattenSentinel:
    lines = list(updated.leading_lines)
    header = updated.body.header
    if header.comment is not None:  # `with ...:  # comment` stays, above
        lines.append(cst.EmptyLine(comment=header.comment))
    body = list(updated.body.body)
    return cst.FlattenSentinel(with_leading_lines(body, lines))
