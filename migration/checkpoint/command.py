"""The `checkpoint` and `inspect` commands of km-migrate (argparse and
printing; the work is in `convert` and `inspection`).

TensorFlow is imported only when a command runs, so `km-migrate --help`
stays fast.
"""

from __future__ import annotations

import argparse
from typing import TextIO

EXIT_OK = 0
EXIT_NEEDS_PERSON = 1


def add_checkpoint_arguments(parser: argparse.ArgumentParser) -> None:
    """Declares `km-migrate checkpoint`'s arguments."""
    parser.add_argument(
        "tf1_checkpoint",
        metavar="TF1_CKPT",
        help="TF1 name-based checkpoint: a prefix (dir/model.ckpt-500) or a "
        "directory (its latest checkpoint).",
    )
    parser.add_argument(
        "--model",
        required=True,
        metavar="FILE.py:FUNCTION",
        help="Function (no arguments) returning the built Keras 3 model; "
        "also package.module:FUNCTION.",
    )
    parser.add_argument(
        "--out",
        required=True,
        metavar="DIR",
        help="New directory for the TF2 checkpoint (model.ckpt-<step>).",
    )
    parser.add_argument(
        "--map",
        action="append",
        default=[],
        metavar="REGEX=REPLACEMENT",
        help="Rename TF1 names before matching (re.sub, in order; repeatable).",
    )
    parser.add_argument(
        "--optimizer",
        metavar="FILE.py:FUNCTION",
        help="Convert the optimizer's slots and step count too: a function "
        "(no arguments) returning the Keras optimizer as the program "
        "builds it; also package.module:FUNCTION.",
    )
    parser.add_argument(
        "--allow-missing",
        action="store_true",
        help="Write even if some model variables get no value (they keep "
        "their initial values).",
    )


def run_checkpoint(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Runs `km-migrate checkpoint`; returns the exit code.

    Returns:
      0 when written and verified; 1 when model variables are unmatched
      (without `--allow-missing`) or verification failed (nothing written).

    Raises:
      UsageError: a bad argument or unusable input (nothing written).
    """
    del err  # errors are raised; the report goes to `out`
    # pylint: disable=import-outside-toplevel
    from migration.checkpoint import report
    from migration.checkpoint.convert import ConvertOptions, convert
    from migration.checkpoint.map_rules import MapRule

    options = ConvertOptions(
        tf1_checkpoint=args.tf1_checkpoint,
        model=args.model,
        out=args.out,
        rules=tuple(MapRule.parse(text) for text in args.map),
        optimizer=args.optimizer,
        allow_missing=args.allow_missing,
    )
    result = convert(options)
    out.write(report.conversion(result, options))
    return EXIT_OK if result.written else EXIT_NEEDS_PERSON


def add_inspect_arguments(parser: argparse.ArgumentParser) -> None:
    """Declares `km-migrate inspect`'s arguments."""
    parser.add_argument(
        "checkpoint",
        metavar="CKPT",
        help="A checkpoint prefix or a directory (its latest checkpoint), "
        "TF1 or TF2.",
    )


def run_inspect(args: argparse.Namespace, out: TextIO, err: TextIO) -> int:
    """Runs `km-migrate inspect`: prints names, shapes, dtypes and format.

    Raises:
      UsageError: nothing readable at CKPT.
    """
    del err
    from migration.checkpoint.inspection import (  # pylint: disable=import-outside-toplevel
        inspect_checkpoint,
    )

    out.write(inspect_checkpoint(args.checkpoint))
    return EXIT_OK
