"""The conversion plan: which value goes where, and the report's rows."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf

from migration.checkpoint import model_variables, optimizer_slots
from migration.checkpoint.map_rules import MapRule
from migration.checkpoint.matching import (
    CheckpointEntry,
    match_model_variables,
)
from migration.checkpoint.reader import Checkpoint
from migration.checkpoint.tf1_names import Tf1Names, classify

MATCHED = "matched"
UNMATCHED = "unmatched model variable"
SHAPE_MISMATCH = "shape-mismatch"
NOT_CONVERTED = "not converted (checkpoint only)"
DERIVED = "derived"
STATUSES = (MATCHED, UNMATCHED, SHAPE_MISMATCH, NOT_CONVERTED, DERIVED)

MODEL, OPTIMIZER, STEP = "model", "optimizer", "global_step"


@dataclasses.dataclass(frozen=True)
class Assignment:
    """One value to write into the new checkpoint.

    Attributes:
      target: `model`, `optimizer` or `global_step`.
      index: position in the model's variables / `optimizer.variables`.
      path: the TF2 variable path, for the report.
      tf1_name: the TF1 entry the value comes from (None: derived).
      scale: the TF1 value is multiplied by this (None: copied).
      dtype: the target variable's dtype name.
      value: the value written (after scaling and casting).
    """

    target: str
    index: int
    path: str
    tf1_name: str | None
    scale: float | None
    dtype: str
    value: np.ndarray

    def expected(self, checkpoint: Checkpoint) -> np.ndarray:
        """The value re-derived from the TF1 checkpoint (for verification)."""
        if self.tf1_name is None:
            return self.value
        return transform(
            checkpoint.value(self.tf1_name), self.scale, self.dtype
        )


@dataclasses.dataclass(frozen=True)
class Row:
    """One line of the report."""

    status: str
    tf1_name: str
    tf2_path: str
    shape: str
    note: str = ""


@dataclasses.dataclass
class Plan:
    """Everything to write, and the report.

    Attributes:
      rows: one per TF1 entry and per model variable (plus derived values).
      assignments: the values to write.
      unmatched: model variables that keep their initial values.
      global_step: the TF1 global step (0 when the checkpoint has none).
      warnings: lines for the user under the table.
    """

    rows: list[Row]
    assignments: list[Assignment]
    unmatched: list[str]
    global_step: int
    warnings: list[str]


def transform(value: np.ndarray, scale: float | None, dtype: str) -> np.ndarray:
    """Scales (when asked) and casts a TF1 value to the target's dtype."""
    value = np.asarray(value)
    if scale is not None:
        value = value * np.asarray(scale, dtype=value.dtype)
    return value.astype(tf.as_dtype(dtype).as_numpy_dtype, copy=False)


def shape_text(shape: Sequence[int]) -> str:
    """`(3, 3, 3, 4)`; `()` for a scalar."""
    return (
        "("
        + ", ".join(str(d) for d in shape)
        + ("," if len(shape) == 1 else "")
        + ")"
    )


def _cast_note(source: str, target: str) -> str:
    return "" if source == target else f"cast {source} -> {target}"


def _join(*parts: str) -> str:
    return "; ".join(part for part in parts if part)


def _global_step(checkpoint: Checkpoint, entry: Any, plan: Plan) -> None:
    usable = entry is not None and entry.shape == () and "int" in entry.dtype
    if usable:
        value = int(checkpoint.value(entry.name))
        plan.rows.append(Row(MATCHED, entry.name, STEP, "()", "global step"))
    else:
        value = 0
        if entry is not None:
            plan.rows.append(
                Row(
                    NOT_CONVERTED,
                    entry.name,
                    "-",
                    shape_text(entry.shape),
                    f"not a scalar integer ({entry.dtype})",
                )
            )
        plan.rows.append(Row(DERIVED, "-", STEP, "()", "0: no TF1 global_step"))
        plan.warnings.append(
            "The TF1 checkpoint has no usable `global_step`: the new "
            "checkpoint starts at global step 0."
        )
    plan.global_step = value
    plan.assignments.append(
        Assignment(
            STEP,
            0,
            STEP,
            entry.name if usable else None,
            None,
            "int64",
            np.asarray(value, dtype=np.int64),
        )
    )


def _optimizer_rows(optimizer: Any, plan: Plan, iterations: Any) -> None:
    variables = list(optimizer.variables)
    index = next(
        i for i, v in enumerate(variables) if v is optimizer.iterations
    )
    plan.rows.append(
        Row(
            DERIVED,
            "-",
            optimizer.iterations.path,
            "()",
            f"optimizer iterations = {iterations.value} (from {iterations.source})",
        )
    )
    plan.assignments.append(
        Assignment(
            OPTIMIZER,
            index,
            optimizer.iterations.path,
            None,
            None,
            "int64",
            np.asarray(iterations.value, dtype=np.int64),
        )
    )
    rate = [v for v in variables if v.name == "learning_rate"]
    if rate:
        plan.rows.append(
            Row(
                DERIVED,
                "-",
                rate[0].path,
                "()",
                f"{optimizer_slots.learning_rate(optimizer):g} from "
                "`--optimizer`, not from the TF1 checkpoint",
            )
        )


def _model_rows(
    checkpoint: Checkpoint, model: Any, names: Tf1Names, rules, plan: Plan
) -> tuple[dict[str, Any], list[CheckpointEntry]]:
    """Rows and assignments for the model's variables.

    Returns:
      TF1 name -> model variable for what was converted, and the TF1
      candidates no model variable took.
    """
    described = model_variables.describe(model)
    objects = model_variables.variables_of(model)
    matching = match_model_variables(names.model, described, rules)
    by_index: dict[int, Row] = {}
    converted: dict[str, Any] = {}
    for match in matching.matches:
        var, name = match.variable, match.entry.name
        converted[name] = objects[var.index]
        value = transform(checkpoint.value(name), None, var.dtype)
        plan.assignments.append(
            Assignment(MODEL, var.index, var.path, name, None, var.dtype, value)
        )
        by_index[var.index] = Row(
            MATCHED,
            name,
            var.path,
            shape_text(var.shape),
            _join(match.rule, _cast_note(match.entry.dtype, var.dtype)),
        )
    for mismatch in matching.shape_mismatches:
        var = mismatch.variable
        by_index[var.index] = Row(
            SHAPE_MISMATCH,
            mismatch.entry.name,
            var.path,
            shape_text(mismatch.entry.shape),
            f"model shape {shape_text(var.shape)} ({mismatch.rule}); "
            "not converted",
        )
    for var in matching.unmatched_variables:
        reason = matching.reasons.get(var.path, "")
        by_index[var.index] = Row(
            UNMATCHED,
            "-",
            var.path,
            shape_text(var.shape),
            _join("keeps its initial value", reason),
        )
    plan.rows.extend(by_index[i] for i in sorted(by_index))
    plan.unmatched = [
        described[i].path
        for i in sorted(by_index)
        if by_index[i].status != MATCHED
    ]
    return converted, matching.unmatched_entries


def _optimizer_state(
    checkpoint: Checkpoint, optimizer: Any | None, names: Tf1Names, plan: Plan
) -> None:
    """`optimizer.iterations` (set now, so a learning-rate schedule is read
    at the resume step), the learning rate, and the beta-power rows."""
    powers = {
        key: (entry.name, float(checkpoint.value(entry.name)))
        for key, entry in names.beta_powers.items()
    }
    iterations = optimizer_slots.plan_iterations(
        optimizer, powers, plan.global_step
    )
    if iterations.warning:
        plan.warnings.append(iterations.warning)
    if optimizer is not None:
        optimizer.iterations.assign(iterations.value)
        _optimizer_rows(optimizer, plan, iterations)
    for _, entry in sorted(names.beta_powers.items()):
        used, note = iterations.notes.get(entry.name, (False, ""))
        plan.rows.append(
            Row(
                DERIVED if used else NOT_CONVERTED,
                entry.name,
                optimizer.iterations.path if used else "-",
                "()",
                note,
            )
        )


def _slot_rows(
    checkpoint: Checkpoint,
    optimizer: Any | None,
    names: Tf1Names,
    converted: dict[str, Any],
    plan: Plan,
) -> None:
    targets, refusals = optimizer_slots.plan_slots(
        optimizer, names.slots, converted
    )
    for target in targets:
        entry = target.slot.entry
        dtype = model_variables.dtype_name(optimizer.variables[target.index])
        value = transform(checkpoint.value(entry.name), target.scale, dtype)
        plan.assignments.append(
            Assignment(
                OPTIMIZER,
                target.index,
                target.path,
                entry.name,
                target.scale,
                dtype,
                value,
            )
        )
        plan.rows.append(
            Row(
                MATCHED,
                entry.name,
                target.path,
                shape_text(entry.shape),
                _join(target.note, _cast_note(entry.dtype, dtype)),
            )
        )
    for refusal in refusals:
        _not_converted(plan, refusal.slot.entry, refusal.reason)
    if refusals and optimizer is None:
        plan.warnings.append(
            f"The TF1 checkpoint holds {len(refusals)} optimizer slot(s); "
            "pass `--optimizer` to convert them, or training resumes with a "
            "fresh optimizer."
        )
    elif refusals:
        plan.warnings.append(
            f"{len(refusals)} TF1 optimizer slot(s) not converted (see the "
            "table): those slots start from their initial values."
        )


def _not_converted(plan: Plan, entry: CheckpointEntry, reason: str) -> None:
    plan.rows.append(
        Row(NOT_CONVERTED, entry.name, "-", shape_text(entry.shape), reason)
    )


def build_plan(
    checkpoint: Checkpoint,
    model: Any,
    optimizer: Any | None,
    rules: Sequence[MapRule] = (),
) -> Plan:
    """Matches everything and says what to write.

    Sets `optimizer.iterations` (so a learning-rate schedule is read at the
    step training resumes from).

    Args:
      checkpoint: the TF1 checkpoint.
      model: what `--model` returned.
      optimizer: the built `--optimizer`, or None.
      rules: the `--map` rules.

    Returns:
      The rows of the report (model variables in model order, then the
      global step, the optimizer's state and slots, then what is not
      converted) and the values to write.
    """
    plan = Plan([], [], [], 0, [])
    names = classify(checkpoint.entries)
    converted, leftovers = _model_rows(checkpoint, model, names, rules, plan)
    _global_step(checkpoint, names.global_step, plan)
    _optimizer_state(checkpoint, optimizer, names, plan)
    _slot_rows(checkpoint, optimizer, names, converted, plan)
    for entry in leftovers:
        _not_converted(plan, entry, "no model variable of this name")
    for entry in names.other:
        _not_converted(
            plan, entry, "optimizer state km-migrate does not convert"
        )
    return plan
