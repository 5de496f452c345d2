"""km-migrate: the command line (a thin layer over the engines).

    km-migrate upgrade PATH... (--out DIR | --in-place) [--report FILE]
    km-migrate checkpoint TF1_CKPT --model FILE.py:FUNCTION --out DIR ...
    km-migrate inspect CKPT

Exit codes: 0 done; 1 done, but a person must act (manual items in the
upgrade report, unmatched variables in a conversion); 2 a bad command line or
unusable input (nothing was written).
"""

from __future__ import annotations

import argparse
import contextlib
import importlib
import sys
from typing import Sequence, TextIO

from migration.errors import UsageError

EXIT_OK = 0
EXIT_NEEDS_PERSON = 1
EXIT_USAGE = 2


#: command -> (module, its add-arguments function, its run function, help).
#: A command's module is imported only when that command runs: `checkpoint`
#: and `inspect` load TensorFlow, `upgrade` does not.
_COMMANDS = {
    "upgrade": (
        "migration.upgrade.command",
        "add_arguments",
        "run",
        "Rewrite TF1 monitored-session code to keras_monitored.",
    ),
    "checkpoint": (
        "migration.checkpoint.command",
        "add_checkpoint_arguments",
        "run_checkpoint",
        "Convert a TF1 name-based checkpoint for a Keras 3 model.",
    ),
    "inspect": (
        "migration.checkpoint.command",
        "add_inspect_arguments",
        "run_inspect",
        "List the variables of a checkpoint (TF1 or TF2).",
    ),
}


def _selected_command(argv: Sequence[str]) -> str | None:
    """The command named on the command line (its first non-option word)."""
    for word in argv:
        if not word.startswith("-"):
            return word if word in _COMMANDS else None
    return None


def build_parser(command: str | None = None) -> argparse.ArgumentParser:
    """The km-migrate parser; the arguments of `command` are added to its
    sub-parser (the others list only their names and help)."""
    parser = argparse.ArgumentParser(
        prog="km-migrate",
        description="Move TF1 MonitoredTrainingSession programs and their "
        "checkpoints to keras_monitored.",
    )
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")
    commands.required = True
    for name, (module_name, add_name, run_name, help_text) in _COMMANDS.items():
        sub = commands.add_parser(name, help=help_text, description=help_text)
        if name == command:
            module = importlib.import_module(module_name)
            getattr(module, add_name)(sub)
            sub.set_defaults(run=getattr(module, run_name))
    return parser


def main(
    argv: Sequence[str] | None = None,
    out: TextIO | None = None,
    err: TextIO | None = None,
) -> int:
    """Runs km-migrate; returns the exit code.

    Args:
      argv: the arguments after the program name (default: `sys.argv[1:]`).
      out: where reports go (default: stdout).
      err: where errors go (default: stderr).
    """
    out = sys.stdout if out is None else out
    err = sys.stderr if err is None else err
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(_selected_command(argv))
    try:
        # argparse writes usage errors to sys.stderr and --help to
        # sys.stdout: send them where the caller asked.
        with contextlib.redirect_stderr(err), contextlib.redirect_stdout(out):
            args = parser.parse_args(argv)
    except SystemExit as exit_:  # argparse already printed the usage error
        return EXIT_USAGE if exit_.code else EXIT_OK
    try:
        return args.run(args, out, err)
    except UsageError as error:
        print(f"km-migrate {args.command}: error: {error}", file=err)
        return EXIT_USAGE
