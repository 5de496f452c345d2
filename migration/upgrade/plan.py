"""The upgrade plan: edits decided by the analyzers, applied in one pass.

Analyzers look at the original tree (with libcst metadata: qualified names,
positions, scopes) and record *actions* against original nodes; `apply`
then rewrites the tree bottom-up, handing each action the node as already
rewritten below it, so edits at different depths compose (a renamed
`tf.app.run` inside a call that also gains an argument).
"""

from __future__ import annotations

import dataclasses
from typing import Callable, Sequence, Union

import libcst as cst

from migration.upgrade.diagnostics import Diagnostic

Replacement = Union[cst.CSTNode, cst.RemovalSentinel, cst.FlattenSentinel]
Action = Callable[[cst.CSTNode], Replacement]


@dataclasses.dataclass(frozen=True)
class Aliases:
    """The names the upgraded module uses for what it imports."""

    km: str = "km"
    km_flags: str = "km_flags"
    flags: str = "flags"
    logging: str = "logging"
    app: str = "app"

    def expression(self, dotted: str) -> str:
        """`dotted` with its leading alias key (`km`, `flags`, ...) replaced
        by the alias this module uses."""
        head, _, rest = dotted.partition(".")
        head = getattr(self, head, head)
        return f"{head}.{rest}" if rest else head


@dataclasses.dataclass(frozen=True)
class ImportRequest:
    """`import module as alias` (obj None) or `from module import obj as alias`."""

    module: str
    obj: str | None
    alias: str | None


class Plan:
    """Edits and diagnostics for one module.

    Args:
      aliases: the names imported modules get in this module.
    """

    def __init__(self, aliases: Aliases):
        self.aliases = aliases
        self.diagnostics: list[Diagnostic] = []
        self.imports: list[ImportRequest] = []
        self.unused_imports: list[ImportRequest] = []
        self._actions: dict[cst.CSTNode, list[Action]] = {}
        self._claimed: set[cst.CSTNode] = set()
        #: Functions run as step functions (`sess.run(train_step)`).
        self.step_functions: set[cst.FunctionDef] = set()
        #: `import tensorflow.compat.v1 as tf` lines: (line, col, message),
        #: reported if the import survives the upgrade.
        self.v1_imports: list[tuple[int, int, str]] = []

    # -- recording ---------------------------------------------------------

    def add(self, node: cst.CSTNode, action: Action) -> None:
        """Rewrites `node` with `action(updated_node)` (after earlier actions)."""
        self._actions.setdefault(node, []).append(action)

    def replace(self, node: cst.CSTNode, code: str) -> None:
        """Replaces an expression `node` by the expression `code`."""
        replacement = cst.parse_expression(code)
        self.add(node, lambda _: replacement)

    def remove_statement(
        self, statement: cst.CSTNode, siblings: Sequence[cst.CSTNode]
    ) -> None:
        """Removes a statement, keeping the comment and blank lines above it
        (they move to the next statement of its block; blank lines only if
        that one has none of its own)."""
        self.add(statement, lambda _: cst.RemovalSentinel.REMOVE)
        following = _next_sibling(statement, siblings)
        if following is None:
            return
        lines = list(getattr(statement, "leading_lines", ()))
        if following.leading_lines:
            lines = [line for line in lines if line.comment is not None]
        if lines:
            self.add(following, _prepend_lines(lines))

    def claim(self, node: cst.CSTNode) -> None:
        """Marks `node` (and what lies under it) as handled: other analyzers
        leave it alone."""
        self._claimed.add(node)

    def is_claimed(self, node: cst.CSTNode) -> bool:
        return node in self._claimed

    def need_import(
        self, module: str, obj: str | None = None, alias: str | None = None
    ) -> None:
        request = ImportRequest(module, obj, alias)
        if request not in self.imports:
            self.imports.append(request)

    def drop_import_if_unused(
        self, module: str, obj: str | None, alias: str | None
    ) -> None:
        request = ImportRequest(module, obj, alias)
        if request not in self.unused_imports:
            self.unused_imports.append(request)

    def report(
        self,
        line: int,
        column: int,
        severity: str,
        message: str,
        change: bool = False,
    ) -> None:
        diagnostic = Diagnostic(line, column, severity, message, change)
        if diagnostic not in self.diagnostics:
            self.diagnostics.append(diagnostic)

    # -- applying ----------------------------------------------------------

    @property
    def changes(self) -> int:
        return len(self._actions)

    def apply(self, module: cst.Module) -> cst.Module:
        """The module with every recorded action applied."""
        return module.visit(_ApplyActions(self._actions))


def _next_sibling(
    node: cst.CSTNode, siblings: Sequence[cst.CSTNode]
) -> cst.CSTNode | None:
    for index, sibling in enumerate(siblings):
        if sibling is node:
            return siblings[index + 1] if index + 1 < len(siblings) else None
    return None


def _prepend_lines(lines: list[cst.EmptyLine]) -> Action:
    def prepend(node: cst.CSTNode) -> Replacement:
        if isinstance(node, cst.FlattenSentinel):
            return cst.FlattenSentinel(with_leading_lines(node.nodes, lines))
        return node.with_changes(leading_lines=[*lines, *node.leading_lines])

    return prepend


def with_leading_lines(
    statements: Sequence[cst.CSTNode], lines: Sequence[cst.EmptyLine]
) -> list[cst.CSTNode]:
    """`statements` with `lines` put before the first one."""
    statements = list(statements)
    if statements and lines:
        first = statements[0]
        statements[0] = first.with_changes(
            leading_lines=[*lines, *first.leading_lines]
        )
    return statements


class _ApplyActions(cst.CSTTransformer):
    """Runs each node's actions as libcst leaves it (children first)."""

    def __init__(self, actions: dict[cst.CSTNode, list[Action]]):
        super().__init__()
        self._actions = actions

    def on_leave(self, original_node, updated_node):
        updated = super().on_leave(original_node, updated_node)
        for action in self._actions.get(original_node, ()):
            if not isinstance(updated, cst.CSTNode):
                break
            updated = action(updated)
        if isinstance(updated, cst.IndentedBlock) and not updated.body:
            # Every statement of the block was removed: Python needs one.
            updated = updated.with_changes(
                body=[cst.SimpleStatementLine([cst.Pass()])]
            )
        return updated
