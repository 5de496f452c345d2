"""The text km-migrate prints: the conversion table and the inspect listing."""

from __future__ import annotations

import collections
from collections.abc import Sequence

from migration.checkpoint.plan import MODEL, STATUSES, Row


def table(headers: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    """Left-aligned columns, two spaces apart; the last one is not padded."""
    widths = [len(h) for h in headers]
    for row in rows:
        for column, cell in enumerate(row[:-1]):
            widths[column] = max(widths[column], len(cell))
    lines = []
    for row in [headers, *rows]:
        cells = [cell.ljust(width) for cell, width in zip(row[:-1], widths)]
        lines.append("  ".join([*cells, row[-1]]).rstrip())
    return lines


def _usage(out: str, with_optimizer: bool) -> list[str]:
    items = (
        "model=model, optimizer=optimizer" if with_optimizer else "model=model"
    )
    return [
        "Use it (build `model` and `optimizer` as --model/--optimizer do):",
        f"  checkpoint = tf.train.Checkpoint({items})",
        "  with km.MonitoredTrainingSession(",
        f"      checkpoint_dir={out!r},",
        "      scaffold=km.Scaffold(checkpoint=checkpoint)) as sess:",
        "    ...  # resumes at the TF1 global step",
        "or, weights only:",
        "  tf.train.Checkpoint(model=model).restore(",
        f"      tf.train.latest_checkpoint({out!r}))",
    ]


def conversion(result, options) -> str:
    """The `km-migrate checkpoint` report.

    Args:
      result: a `convert.ConvertResult`.
      options: the `convert.ConvertOptions` it ran with.
    """
    plan = result.plan
    rows: list[Row] = plan.rows
    lines = [
        f"TF1 checkpoint: {result.tf1_prefix}",
        f"model: {options.model}"
        + (f"   optimizer: {options.optimizer}" if options.optimizer else ""),
        "",
    ]
    lines += table(
        ("STATUS", "TF1 NAME", "TF2 PATH", "SHAPE", "NOTE"),
        [(r.status, r.tf1_name, r.tf2_path, r.shape, r.note) for r in rows],
    )
    counts = collections.Counter(row.status for row in rows)
    model_total = sum(1 for a in plan.assignments if a.target == MODEL) + len(
        plan.unmatched
    )
    converted = model_total - len(plan.unmatched)
    lines += [
        "",
        "counts: " + ", ".join(f"{s} {counts.get(s, 0)}" for s in STATUSES),
        f"model variables: {converted} of {model_total} converted",
    ]
    lines += [f"warning: {warning}" for warning in plan.warnings]
    if plan.unmatched and not options.allow_missing:
        lines += [
            "",
            f"{len(plan.unmatched)} model variable(s) get no value from the "
            "TF1 checkpoint: " + ", ".join(plan.unmatched) + ".",
            (
                "Nothing was written. Add --map REGEX=REPLACEMENT rules, or pass "
                "--allow-missing to keep their initial values."
            ),
        ]
        return "\n".join(lines) + "\n"
    if plan.unmatched:
        lines.append(
            f"--allow-missing: {len(plan.unmatched)} model variable(s) keep "
            "their initial values: " + ", ".join(plan.unmatched) + "."
        )
    if result.failures:
        lines += ["", "verification FAILED (nothing was written):"]
        lines += [f"  {failure}" for failure in result.failures]
        return "\n".join(lines) + "\n"
    lines += [
        f"verified {result.verified} values (read back into a fresh model"
        + (" and optimizer" if options.optimizer else "")
        + ": equal to the TF1 values after the transforms noted)",
        f"wrote {result.written} (global step {plan.global_step})",
        "",
    ]
    lines += _usage(options.out, bool(options.optimizer))
    return "\n".join(lines) + "\n"


def listing(checkpoint) -> str:
    """The `km-migrate inspect` listing of a `reader.Checkpoint`."""
    lines = [
        f"checkpoint: {checkpoint.prefix}",
        f"format: {checkpoint.format_name}",
        "",
    ]
    lines += table(
        ("NAME", "SHAPE", "DTYPE"),
        [
            (e.name, "[" + ", ".join(str(d) for d in e.shape) + "]", e.dtype)
            for e in checkpoint.entries
        ],
    )
    lines += ["", f"{len(checkpoint.entries)} variables"]
    return "\n".join(lines) + "\n"
