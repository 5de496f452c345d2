"""The program around the training loop: TF1 flag definitions that
keras_monitored defines itself, and `tf.app.run` -> absl's `app.run`.

    flags.DEFINE_string("checkpoint_dir", "/tmp/run", "...")
    flags.DEFINE_integer("max_steps", 1000, "...")

becomes

    km_flags.define_flags()
    flags.FLAGS.set_default("checkpoint_dir", "/tmp/run")
    flags.FLAGS.set_default("max_steps", 1000)

where the flag means what km's does (its DEFINE_* kind, and a default
within km's bounds). `tf.app.run()` called `main` of `__main__` and ignored
flags it did not know; absl's `app.run(main)` needs `main` and rejects
unknown flags, so a program that also parses argparse flags gets TF1's
tolerant parsing back.
"""

from __future__ import annotations

from typing import Any

import libcst as cst

from migration.upgrade import rules
from migration.upgrade.analyzer import (
    Analyzer,
    argument,
    code_of,
    string_value,
)
from migration.upgrade.diagnostics import ERROR, INFO, WARNING

_DEFINE_PREFIXES = ("flags.DEFINE_", "app.flags.DEFINE_")
_TOLERANT_PARSER = "lambda argv: {flags}.FLAGS(argv, known_only=True)"


class AbslProgramAnalyzer(Analyzer):
    """Flag definitions km owns, and the program's entry point."""

    def __init__(self, plan):
        super().__init__(plan)
        self._define_flags_placed = False
        self._kept: list[str] = []
        self._has_main = False
        self._uses_argparse = False

    def visit_Module(self, node: cst.Module) -> bool:
        self._has_main = any(
            isinstance(s, cst.FunctionDef) and s.name.value == "main"
            for s in node.body
        )
        return True

    def visit_Import(self, node: cst.Import) -> bool:
        if any(
            alias.name.value == "argparse"
            for alias in node.names
            if isinstance(alias.name, cst.Name)
        ):
            self._uses_argparse = True
        return False

    def visit_ImportFrom(self, node: cst.ImportFrom) -> bool:
        if (
            isinstance(node.module, cst.Name)
            and node.module.value == "argparse"
        ):
            self._uses_argparse = True
        return False

    # -- flag definitions -----------------------------------------------------

    def visit_SimpleStatementLine(self, node: cst.SimpleStatementLine) -> bool:
        if len(node.body) != 1 or not isinstance(node.body[0], cst.Expr):
            return True
        call = node.body[0].value
        kind = self._define_kind(call)
        if kind is None or not isinstance(self.parent(node), cst.Module):
            return True
        name_arg = argument(call, 0, "name")
        default_arg = argument(call, 1, "default")
        flag = string_value(name_arg.value) if name_arg else None
        if flag not in rules.KM_FLAGS or default_arg is None:
            return True
        kinds, lower_bound = rules.KM_FLAGS[flag]
        reason = _incompatible(kind, kinds, default_arg.value, lower_bound)
        if reason:
            self._kept.append(flag)
            self.report(
                node,
                WARNING,
                f"--{flag} is also a keras_monitored flag, but {reason}: kept "
                "as it is, and left out of km's (km_flags.define_flags("
                f'exclude=("{flag}",))); km_flags.session_from_flags then '
                "treats it as unset.",
            )
            return True
        self._replace_definition(node, flag, default_arg.value)
        return False

    def _define_kind(self, call: cst.CSTNode) -> str | None:
        if not isinstance(call, cst.Call):
            return None
        canonical = self.canonical(call.func)
        if canonical is None and any(
            q.startswith("absl.flags.DEFINE_")
            for q in self.qualified(call.func)
        ):
            canonical = "flags." + call.func.attr.value
        if canonical and canonical.startswith(_DEFINE_PREFIXES):
            return canonical.rsplit(".", 1)[-1]
        return None

    def _replace_definition(
        self, node: cst.SimpleStatementLine, flag: str, default: cst.CSTNode
    ) -> None:
        aliases = self.plan.aliases
        place_define_flags = not self._define_flags_placed
        self._define_flags_placed = True
        set_default = None
        if not (isinstance(default, cst.Name) and default.value == "None"):
            set_default = cst.parse_statement(
                f'{aliases.flags}.FLAGS.set_default("{flag}", '
                f"{code_of(default)})\n"
            )

        def replace(updated: cst.SimpleStatementLine) -> Any:
            statements = []
            if place_define_flags:
                # Built now, once every definition was seen: flags of km's
                # names that the program keeps are left out of km's.
                statements.append(self._define_flags_statement())
            if set_default is not None:
                # The definition's own comment stays with its default.
                statements.append(
                    set_default.with_changes(
                        trailing_whitespace=updated.trailing_whitespace
                    )
                )
            if not statements:
                return cst.RemovalSentinel.REMOVE
            statements[0] = statements[0].with_changes(
                leading_lines=updated.leading_lines
            )
            return cst.FlattenSentinel(statements)

        self.plan.claim(node)
        self.forget(node)
        self.plan.add(node, replace)
        module, obj, alias = rules.KM_FLAGS_IMPORT
        self.plan.need_import(module, obj, aliases.km_flags)
        self.plan.need_import(
            "absl", "flags", aliases.flags if aliases.flags != "flags" else None
        )
        self.report(
            node,
            INFO,
            f"--{flag} is keras_monitored's flag: defined by "
            f"{aliases.km_flags}.define_flags() (default kept with set_default).",
        )

    def _define_flags_statement(self) -> cst.SimpleStatementLine:
        names = [f'"{name}"' for name in self._kept]
        excluded = names[0] + "," if len(names) == 1 else ", ".join(names)
        argument_text = f"exclude=({excluded})" if names else ""
        return cst.parse_statement(
            f"{self.plan.aliases.km_flags}.define_flags({argument_text})\n"
        )

    # -- the entry point ------------------------------------------------------

    def visit_Call(self, node: cst.Call) -> bool:
        tf1_run = self.canonical(node.func) == rules.APP_RUN
        if not tf1_run and "absl.app.run" not in self.qualified(node.func):
            return True
        main = argument(node, 0, "main")
        additions = []
        if main is None:
            if not self._has_main:
                self.report(
                    node,
                    ERROR,
                    "`tf.app.run()` called `main` of the __main__ module; "
                    "absl's app.run needs it: app.run(<your main function>).",
                )
                return True
            additions.append(cst.Arg(cst.Name("main")))
            self.report(
                node,
                INFO,
                "absl's app.run needs the main function: app.run(main).",
            )
        if (
            tf1_run
            and self._uses_argparse
            and argument(node, None, "flags_parser") is None
        ):
            parser = _TOLERANT_PARSER.format(flags=self.plan.aliases.flags)
            additions.append(
                cst.Arg(
                    cst.parse_expression(parser),
                    keyword=cst.Name("flags_parser"),
                    equal=cst.AssignEqual(
                        cst.SimpleWhitespace(""), cst.SimpleWhitespace("")
                    ),
                )
            )
            flags = self.plan.aliases.flags
            self.plan.need_import(
                "absl", "flags", flags if flags != "flags" else None
            )
            self.report(
                node,
                INFO,
                "This program also parses argparse flags: absl's app.run "
                "would reject them, so flags_parser keeps TF1's tolerant "
                "parsing (unknown flags are left for argparse).",
            )
        if additions:
            self.plan.add(node, lambda updated: _add_args(updated, additions))
        return True


def _add_args(call: cst.Call, additions: list[cst.Arg]) -> cst.Call:
    """`call` with `additions`: positional ones first, keywords last; the
    call's own arguments keep their formatting."""
    existing = list(call.args)
    own = {id(arg) for arg in existing}
    ordered = [
        *[a for a in additions if a.keyword is None],
        *existing,
        *[a for a in additions if a.keyword is not None],
    ]
    separated = []
    for index, arg in enumerate(ordered):
        if index == len(ordered) - 1:
            separated.append(
                arg
                if id(arg) in own
                else arg.with_changes(comma=cst.MaybeSentinel.DEFAULT)
            )
        elif isinstance(arg.comma, cst.Comma):
            separated.append(arg)
        else:
            separated.append(
                arg.with_changes(
                    comma=cst.Comma(whitespace_after=cst.SimpleWhitespace(" "))
                )
            )
    return call.with_changes(args=separated)


def _incompatible(
    kind: str,
    kinds: frozenset[str],
    default: cst.CSTNode,
    lower_bound: int | None,
) -> str | None:
    """Why a TF1 flag definition does not mean what km's flag does, or None."""
    if kind not in kinds:
        return f"it is a {kind} flag and km's is " + " or ".join(
            sorted(k.replace("DEFINE_", "") for k in kinds)
        )
    value = _int_literal(default)
    if lower_bound is not None and value is not None and value < lower_bound:
        return f"its default {value} is below km's lower bound {lower_bound}"
    return None


def _int_literal(node: cst.CSTNode) -> int | None:
    if isinstance(node, cst.Integer):
        return int(node.evaluated_value)
    if (
        isinstance(node, cst.UnaryOperation)
        and isinstance(node.operator, cst.Minus)
        and isinstance(node.expression, cst.Integer)
    ):
        return -int(node.expression.evaluated_value)
    return None
