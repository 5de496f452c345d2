"""The upgrade engine: `upgrade_text(text) -> (new_text, diagnostics)`.

The rewrite preserves formatting and comments (libcst). Analyzers, one per
concern, look at the original tree and record edits in a `Plan`; the plan
is applied in one pass, then the imports the new code needs are added and
imports nothing uses any more (a renamed `from tensorflow... import X`)
are removed. The engine holds no names of its own: they are in `rules`.
"""

from __future__ import annotations

import libcst as cst
from libcst.codemod import CodemodContext
from libcst.codemod.visitors import AddImportsVisitor, RemoveImportsVisitor
from libcst.metadata import (
    MetadataWrapper,
    ParentNodeProvider,
    QualifiedNameProvider,
    ScopeProvider,
)

from migration.errors import ParseError
from migration.upgrade.absl_program import AbslProgramAnalyzer
from migration.upgrade.analyzer import code_of
from migration.upgrade.api_names import ApiNameAnalyzer
from migration.upgrade.diagnostics import WARNING, Diagnostic
from migration.upgrade.graph_fetches import GraphFetchAnalyzer
from migration.upgrade.hook_arguments import HookArgumentAnalyzer
from migration.upgrade.plan import Aliases, Plan
from migration.upgrade.sessions import SessionAnalyzer

#: In this order: an analyzer that claims a node takes it from later ones.
ANALYZERS = (
    GraphFetchAnalyzer,
    HookArgumentAnalyzer,
    SessionAnalyzer,
    AbslProgramAnalyzer,
    ApiNameAnalyzer,
)

#: The alias each import gets, the module it must name to be reused as it
#: is, and the alias used when the module already binds it to another thing.
_ALIASES = {
    "km": ("keras_monitored", "keras_monitored"),
    "km_flags": ("keras_monitored.flags", "keras_monitored_flags"),
    "flags": ("absl.flags", "absl_flags"),
    "logging": ("absl.logging", "absl_logging"),
    "app": ("absl.app", "absl_app"),
}


def upgrade_text(text: str) -> tuple[str, list[Diagnostic]]:
    """Upgrades TF1 monitored-session source to keras_monitored.

    Args:
      text: the source of one Python module.

    Returns:
      The new source (equal to `text` when nothing applies) and the
      diagnostics, sorted by position: INFO for changes made, WARNING for
      changes to check, ERROR for constructs a person must convert.

    Raises:
      ParseError: `text` is not valid Python.
    """
    try:
        module = cst.parse_module(text)
    except cst.ParserSyntaxError as error:
        raise _parse_error(text, error) from None
    wrapper = MetadataWrapper(module)
    plan = Plan(_choose_aliases(wrapper))
    for analyzer in ANALYZERS:
        wrapper.visit(analyzer(plan))
    if not plan.changes:
        if plan.v1_imports:
            for line, column, message in plan.v1_imports:
                plan.report(line, column, WARNING, message)
        return text, sorted(plan.diagnostics)
    upgraded = plan.apply(wrapper.module)
    upgraded = _fix_imports(upgraded, plan)
    if _imports_tf1_api(upgraded):
        for line, column, message in plan.v1_imports:
            plan.report(line, column, WARNING, message)
    new_text = upgraded.code
    if not text.startswith("\n"):
        new_text = new_text.lstrip("\n")  # a removed first import
    try:
        compile(new_text, "<upgraded>", "exec")
    except SyntaxError as error:  # an engine bug: never hand it out
        raise AssertionError(
            f"km-migrate produced invalid Python ({error}); please report "
            "this file."
        ) from error
    return new_text, sorted(plan.diagnostics)


def _imports_tf1_api(module: cst.Module) -> bool:
    """True if the module still imports `tensorflow.compat.v1` as a name."""
    for statement in module.body:
        if not isinstance(statement, cst.SimpleStatementLine):
            continue
        for small in statement.body:
            if isinstance(small, cst.Import) and any(
                a.evaluated_name == "tensorflow.compat.v1" for a in small.names
            ):
                return True
            if (
                isinstance(small, cst.ImportFrom)
                and small.module is not None
                and code_of(small.module) == "tensorflow.compat"
            ):
                return True
    return False


def _parse_error(text: str, error: cst.ParserSyntaxError) -> ParseError:
    """Where Python itself places the error (libcst places it where its
    parser gave up, often a line later)."""
    try:
        compile(text, "<source>", "exec")
    except SyntaxError as syntax_error:
        return ParseError(
            f"not valid Python: {syntax_error.msg}",
            syntax_error.lineno or 1,
            max((syntax_error.offset or 1) - 1, 0),
        )
    return ParseError(  # valid Python that libcst cannot read
        f"libcst cannot parse it: {error.message}",
        error.editor_line,
        error.editor_column - 1,
    )


def _fix_imports(module: cst.Module, plan: Plan) -> cst.Module:
    context = CodemodContext()
    for request in plan.imports:
        if request.obj is None:
            AddImportsVisitor.add_needed_import(
                context, request.module, asname=request.alias
            )
        else:
            AddImportsVisitor.add_needed_import(
                context, request.module, request.obj, asname=request.alias
            )
    module = AddImportsVisitor(context).transform_module(module)
    if plan.unused_imports:
        context = CodemodContext()
        for request in plan.unused_imports:
            RemoveImportsVisitor.remove_unused_import(
                context, request.module, request.obj, request.alias
            )
        module = RemoveImportsVisitor(context).transform_module(module)
    return module


def _choose_aliases(wrapper: MetadataWrapper) -> Aliases:
    """The names imports get: `km`, `flags`, ... unless the module already
    binds that name to something else (then `keras_monitored`,
    `absl_flags`, ...)."""
    scope = wrapper.resolve(ScopeProvider)[wrapper.module]
    qualified = wrapper.resolve(QualifiedNameProvider)
    parents = wrapper.resolve(ParentNodeProvider)
    fallbacks = {}
    for alias, (module, fallback) in _ALIASES.items():
        for assignment in scope.assignments[alias]:
            node = getattr(assignment, "node", None)
            if isinstance(node, (cst.Import, cst.ImportFrom)):
                reusable = _imported_module(node, alias) == module
            else:
                reusable = _rebinds_tf_module(node, qualified, parents)
            if not reusable:
                fallbacks[alias] = fallback
    return Aliases(**fallbacks)


def _imported_module(node: cst.Import | cst.ImportFrom, alias: str) -> str:
    """The dotted module an import statement binds to `alias`."""
    if isinstance(node, cst.Import):
        for name in node.names:
            if (name.evaluated_alias or name.evaluated_name) == alias:
                return name.evaluated_name
    elif node.module is not None and not isinstance(node.names, cst.ImportStar):
        base = code_of(node.module)
        for name in node.names:
            if (name.evaluated_alias or name.evaluated_name) == alias:
                return f"{base}.{name.evaluated_name}"
    return ""


def _rebinds_tf_module(node, qualified, parents) -> bool:
    """True for `flags = tf.app.flags` (the upgrade removes it)."""
    target = parents.get(node)
    assign = parents.get(target) if target is not None else None
    if not isinstance(assign, cst.Assign):
        return False
    names = qualified.get(assign.value, ())
    names = names() if callable(names) else names  # resolved lazily
    return any(q.name.startswith("tensorflow") for q in names)
