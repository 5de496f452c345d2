"""`km-migrate upgrade PATH... (--out DIR | --in-place) [--report FILE]`.

Reads and upgrades every file first, then writes: all of them, or none
when a file does not parse (it is reported and left untouched). The report lists every change and
every construct that needs a person as `path:line:col: SEVERITY: message`,
then the counts, and never claims success it did not achieve.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import shutil
from typing import TextIO

from migration import files
from migration.errors import ParseError, UsageError
from migration.upgrade.diagnostics import WARNING, Diagnostic
from migration.upgrade.engine import upgrade_text

_SKIPPED_DIRS = frozenset({"__pycache__", ".git", ".hg", ".svn", ".tox"})


@dataclasses.dataclass
class _FileResult:
    source: str  # the path as found
    relative: str  # where it goes under --out
    text: str | None = None
    new_text: str | None = None
    diagnostics: list[Diagnostic] = dataclasses.field(default_factory=list)
    failure: str | None = None  # the report line's end: why it was left

    @property
    def changed(self) -> bool:
        return self.new_text is not None and self.new_text != self.text


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "paths",
        nargs="+",
        metavar="PATH",
        help="Python files or directories (their .py files, recursively).",
    )
    where = parser.add_mutually_exclusive_group(required=True)
    where.add_argument(
        "--out",
        metavar="DIR",
        help="write the upgraded tree here (other files of a directory are "
        "copied)",
    )
    where.add_argument(
        "--in-place",
        action="store_true",
        help="rewrite the files, keeping each original as FILE.bak",
    )
    parser.add_argument(
        "--report", metavar="FILE", help="also write the report here"
    )


def run(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Upgrades `args.paths`; returns 0 (done), 1 (a person must act) or 2
    (a file could not be read or parsed)."""
    del err
    sources = _collect(args.paths)
    if args.out is not None:
        files.check_writable_dir(args.out, "--out")
        _refuse_overwriting_inputs(args.out, sources)
    if args.report is not None:
        _check_report_path(args.report)
    results = [_upgrade(result) for result in sources]
    if any(r.failure for r in results):
        written, backups = [], {}  # all or nothing: fix, then run again
    else:
        written, backups = _write(results, args)
    report = _report(results, written, backups, args)
    out.write(report)
    if args.report is not None:
        files.atomic_write(args.report, report)
    if any(r.failure for r in results):
        return 2
    if any(d.needs_person for r in results for d in r.diagnostics):
        return 1
    return 0


def _collect(paths: list[str]) -> list[_FileResult]:
    """The files to upgrade, and where each goes under --out: a single
    directory's contents go straight into --out (`upgrade trainer/ --out
    trainer_tf2/` gives `trainer_tf2/model.py`); with several paths, each
    keeps its own name."""
    sources = []
    single_dir = len(paths) == 1 and os.path.isdir(paths[0])
    for path in paths:
        if os.path.isfile(path):
            sources.append(_FileResult(path, os.path.basename(path)))
        elif os.path.isdir(path):
            base = "" if single_dir else os.path.basename(os.path.abspath(path))
            for root, dirs, names in os.walk(path):
                dirs[:] = sorted(d for d in dirs if d not in _SKIPPED_DIRS)
                for name in sorted(names):
                    full = os.path.join(root, name)
                    relative = os.path.normpath(
                        os.path.join(base, os.path.relpath(full, path))
                    )
                    sources.append(_FileResult(full, relative))
        else:
            raise UsageError(f"`PATH` {path!r} does not exist.")
    return sources


def _refuse_overwriting_inputs(out: str, sources: list[_FileResult]) -> None:
    for result in sources:
        destination = os.path.abspath(os.path.join(out, result.relative))
        if destination == os.path.abspath(result.source):
            raise UsageError(
                f"`--out` {out!r} would overwrite the input {result.source!r}: "
                "choose another directory, or use --in-place (keeps a backup)."
            )


def _check_report_path(path: str) -> None:
    parent = os.path.dirname(os.path.abspath(path))
    if os.path.isdir(path) or not os.path.isdir(parent):
        raise UsageError(
            f"`--report` {path!r} is not a file in an existing directory."
        )
    files.check_writable_dir(parent, "--report")


def _upgrade(result: _FileResult) -> _FileResult:
    if not result.source.endswith(".py"):
        return result  # copied as it is under --out
    try:
        with open(result.source, encoding="utf-8") as handle:
            result.text = handle.read()
    except (OSError, UnicodeDecodeError) as error:
        result.failure = f" ERROR: cannot be read ({error}); left untouched"
        return result
    try:
        result.new_text, result.diagnostics = upgrade_text(result.text)
    except ParseError as error:
        result.failure = (
            f"{error.line}:{error.column + 1}: ERROR: does not parse "
            f"({error}); left untouched"
        )
    return result


def _write(
    results: list[_FileResult], args: argparse.Namespace
) -> tuple[list[str], dict[str, str]]:
    written, backups = [], {}
    for result in results:
        if result.failure:
            continue
        if args.in_place:
            if result.changed:
                backups[result.source] = files.backup(result.source)
                files.atomic_write(result.source, result.new_text)
                written.append(result.source)
            continue
        destination = os.path.join(args.out, result.relative)
        os.makedirs(
            os.path.dirname(os.path.abspath(destination)), exist_ok=True
        )
        if result.new_text is None:
            shutil.copy2(result.source, destination)
        else:
            files.atomic_write(destination, result.new_text)
            written.append(destination)
    return written, backups


def _report(
    results: list[_FileResult],
    written: list[str],
    backups: dict[str, str],
    args: argparse.Namespace,
) -> str:
    lines = []
    for result in results:
        for diagnostic in result.diagnostics:
            lines.append(diagnostic.format(result.source))
        if result.failure:
            lines.append(f"{result.source}:{result.failure}")
    python_files = [r for r in results if r.text is not None or r.failure]
    diagnostics = [d for r in results for d in r.diagnostics]
    manual = sum(d.needs_person for d in diagnostics)
    to_check = sum(d.severity == WARNING for d in diagnostics)
    changes = sum(d.change for d in diagnostics)
    failed = [r.source for r in results if r.failure]
    lines.append("")
    lines.append(
        f"km-migrate upgrade: {len(python_files)} Python files, "
        f"{sum(r.changed for r in results)} changed, {changes} changes, "
        f"{manual} items need a person (ERROR), {to_check} to check "
        f"(WARNING), {len(failed)} not upgraded."
    )
    if args.in_place and backups:
        lines.append(
            "Originals kept: "
            + ", ".join(f"{s} -> {b}" for s, b in sorted(backups.items()))
        )
    elif args.out is not None and written:
        lines.append(f"Written under {args.out}.")
    if failed:
        lines.append(
            "Not upgraded (left untouched): "
            + ", ".join(failed)
            + ". Nothing was written: fix it and run again."
        )
    if manual:
        lines.append(
            f"Not finished: {manual} ERROR items above need a person; the "
            "upgraded code does not do what the TF1 program did until they "
            "are fixed."
        )
    elif not failed:
        lines.append(
            "Every construct found was converted; review the WARNING items."
            if to_check
            else "Every construct found was converted."
        )
    return "\n".join(lines) + "\n"
