"""The base of every upgrade analyzer: metadata lookups and reporting."""

from __future__ import annotations

import libcst as cst
from libcst.metadata import (
    ParentNodeProvider,
    PositionProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from migration.upgrade import names, rules
from migration.upgrade.diagnostics import INFO
from migration.upgrade.plan import Plan

_EMPTY_MODULE = cst.Module([])
_KM_TARGETS = frozenset(rules.KM_RENAMES.values())


def code_of(node: cst.CSTNode) -> str:
    """The source text of `node`."""
    return _EMPTY_MODULE.code_for_node(node)


def shown(node: cst.CSTNode, limit: int = 80) -> str:
    """`node`'s source for a report line: one line, at most `limit` chars."""
    text = " ".join(code_of(node).split())
    return text if len(text) <= limit else text[: limit - 3] + "..."


def string_value(node: cst.CSTNode | None) -> str | None:
    """The value of a plain string literal, or None."""
    if isinstance(node, cst.SimpleString):
        value = node.evaluated_value
        return value if isinstance(value, str) else None
    return None


def _names_in(node: cst.CSTNode) -> list[cst.Name]:
    """The base names of the dotted names in `node` (`tf` of `tf.a.b`)."""
    found = []

    class _Collect(cst.CSTVisitor):
        def visit_Attribute(self, attribute: cst.Attribute) -> bool:
            attribute.value.visit(self)
            return False

        def visit_Name(self, name: cst.Name) -> None:
            found.append(name)

    node.visit(_Collect())
    return found


def _is_dotted(node: cst.CSTNode) -> bool:
    """True for `a`, `a.b`, `a.b.c`: names and attributes of names."""
    while isinstance(node, cst.Attribute):
        node = node.value
    return isinstance(node, cst.Name)


def argument(
    call: cst.Call, position: int | None, keyword: str
) -> cst.Arg | None:
    """The argument of `call` given at `position` or as `keyword=`."""
    for arg in call.args:
        if arg.keyword is not None and arg.keyword.value == keyword:
            return arg
    if position is None:
        return None
    positional = [a for a in call.args if a.keyword is None and not a.star]
    return positional[position] if position < len(positional) else None


class Analyzer(cst.CSTVisitor):
    """Looks at the original tree and records edits in a `Plan`.

    Args:
      plan: where edits and diagnostics go.
    """

    METADATA_DEPENDENCIES = (
        QualifiedNameProvider,
        PositionProvider,
        ScopeProvider,
        ParentNodeProvider,
    )

    def __init__(self, plan: Plan):
        super().__init__()
        self.plan = plan

    def canonical(self, node: cst.CSTNode) -> str | None:
        """The canonical TF1 name a dotted name refers to (see `names`), or
        None. A module alias made by assignment (`flags = tf.app.flags`)
        is followed."""
        if not _is_dotted(node):
            return None
        qualified = self.get_metadata(QualifiedNameProvider, node, set())
        canonical = names.first_canonical(q.name for q in qualified)
        if canonical is not None:
            return canonical
        base = node
        while isinstance(base, cst.Attribute):
            base = base.value
        aliased = self._module_alias(base)
        if aliased is None:
            return None
        return aliased + code_of(node)[len(base.value) :]

    def km_target(self, node: cst.CSTNode) -> str | None:
        """The keras_monitored name (`km.Scaffold`, `km.hooks.X`) a dotted
        name stands for: a TF1 name km replaces, or km's own (code already
        upgraded is checked as the TF1 code was)."""
        canonical = self.canonical(node)
        if canonical in rules.KM_RENAMES:
            return rules.KM_RENAMES[canonical]
        if not _is_dotted(node):
            return None
        for qualified in self.qualified(node):
            if qualified.startswith("keras_monitored."):
                rest = qualified[len("keras_monitored.") :]
                rest = (
                    rest[len("hooks.") :] if rest.startswith("hooks.") else rest
                )
                for target in (f"km.{rest}", f"km.hooks.{rest}"):
                    if target in _KM_TARGETS:
                        return target
        return None

    def _module_alias(self, name: cst.Name) -> str | None:
        """The TF1 module an assignment `name = tf.app.flags` made `name`."""
        values = self.assigned_values(name)
        if not values or len(values) != 1:
            return None
        value = values[0]
        if not _is_dotted(value) or value is name:
            return None
        qualified = self.get_metadata(QualifiedNameProvider, value, set())
        canonical = names.first_canonical(q.name for q in qualified)
        return canonical if canonical in rules.ABSL_MODULES else None

    def qualified(self, node: cst.CSTNode) -> set[str]:
        """The qualified names `node` may refer to."""
        return {
            q.name
            for q in self.get_metadata(QualifiedNameProvider, node, set())
        }

    def call_name(self, node: cst.CSTNode) -> str | None:
        """The canonical TF1 name of the function `node` calls, if a call."""
        if isinstance(node, cst.Call):
            return self.canonical(node.func)
        return None

    def forget(self, node: cst.CSTNode) -> None:
        """Node is replaced or removed: imports only it used go (libcst's
        RemoveImportsVisitor keeps any import still used elsewhere)."""
        for name in _names_in(node):
            for qualified in self.qualified(name):
                module, _, obj = qualified.rpartition(".")
                alias = name.value if name.value != (obj or qualified) else None
                if module:  # from module import obj [as alias]
                    self.plan.drop_import_if_unused(module, obj, alias)
                self.plan.drop_import_if_unused(qualified, None, alias)

    def report(
        self,
        node: cst.CSTNode,
        severity: str,
        message: str,
        change: bool | None = None,
    ) -> None:
        """Reports at `node`; `change` defaults to True for INFO."""
        start = self.get_metadata(PositionProvider, node).start
        self.plan.report(
            start.line,
            start.column + 1,
            severity,
            message,
            severity == INFO if change is None else change,
        )

    def parent(self, node: cst.CSTNode) -> cst.CSTNode | None:
        return self.get_metadata(ParentNodeProvider, node, None)

    def enclosing_statement(self, node: cst.CSTNode):
        """The statement holding `node`, and the block body it lies in."""
        child = node
        parent = self.parent(child)
        while parent is not None:
            if isinstance(child, cst.BaseStatement) and isinstance(
                parent, (cst.Module, cst.IndentedBlock)
            ):
                return child, parent.body
            child, parent = parent, self.parent(parent)
        return None, ()

    def assigned_values(self, name: cst.Name) -> list[cst.CSTNode] | None:
        """What the assignments of `name` visible here assign, or None when
        some assignment is not a plain `name = value` (a parameter, a
        loop variable, an import)."""
        scope = self.get_metadata(ScopeProvider, name, None)
        if scope is None:
            return None
        values = []
        for assignment in scope[name.value]:
            node = getattr(assignment, "node", None)
            parent = self.parent(node) if node is not None else None
            target = self.parent(parent) if parent is not None else None
            if isinstance(parent, cst.AssignTarget) and isinstance(
                target, cst.Assign
            ):
                values.append(target.value)
            elif isinstance(node, (cst.FunctionDef, cst.Lambda)):
                values.append(node)
            else:
                return None
        return values
