"""TF1 optimizer state into a Keras 3 optimizer: slots and `iterations`.

Keras 3 creates one slot variable per trainable variable and slot kind when
the optimizer is built, named `<variable path with / as _>_<slot>` (e.g.
`sequential_dense_kernel_momentum`): slots are found by that public name in
`optimizer.variables`.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from typing import Any

import keras
import numpy as np

from migration.checkpoint.tf1_names import Slot, slot_kind

# How far from an integer `log(beta_power) / log(beta)` may be.
_STEP_TOLERANCE = 1e-3


@dataclasses.dataclass(frozen=True)
class SlotTarget:
    """A TF1 slot and the Keras optimizer variable it becomes.

    Attributes:
      slot: the TF1 slot.
      index: position of the Keras slot in `optimizer.variables`.
      path: the Keras slot's path (`adam/sequential_dense_kernel_momentum`).
      scale: multiply the TF1 value by this (None: copy as is).
      note: what was done, for the report.
    """

    slot: Slot
    index: int
    path: str
    scale: float | None
    note: str


@dataclasses.dataclass(frozen=True)
class SlotRefusal:
    """A TF1 slot that is not converted, and why."""

    slot: Slot
    reason: str


@dataclasses.dataclass(frozen=True)
class Iterations:
    """The value for `optimizer.iterations` and where it came from.

    Attributes:
      value: the number of optimizer steps taken.
      source: where the value comes from (`beta1_power`, `the global step`).
      notes: per beta-power name, (whether it was used, what it gave).
      warning: set when the beta powers did not give a clean step count.
    """

    value: int
    source: str
    notes: dict[str, tuple[bool, str]]
    warning: str | None = None


def learning_rate(optimizer: Any) -> float:
    """The optimizer's current learning rate (a schedule: at `iterations`)."""
    return float(keras.ops.convert_to_numpy(optimizer.learning_rate))


def slot_variable(
    optimizer: Any, variable: Any, slot_name: str
) -> tuple[int, Any] | None:
    """The (index, variable) of `variable`'s `slot_name` slot, or None.

    Args:
      optimizer: a built Keras 3 optimizer.
      variable: the model variable the slot belongs to.
      slot_name: the Keras slot name (`momentum`, `velocity`, ...).
    """
    path = getattr(variable, "path", None)
    if path:
        reference = path.replace("/", "_")
    else:  # a tf.Variable: Keras names its slots after `.name`
        reference = str(variable.name).replace("/", "_").replace(":", "_")
    wanted = f"{reference}_{slot_name}"
    found = [
        (index, slot)
        for index, slot in enumerate(optimizer.variables)
        if slot.name == wanted
    ]
    return found[0] if len(found) == 1 else None


def plan_slots(
    optimizer: Any | None,
    slots: Sequence[Slot],
    converted: Mapping[str, Any],
) -> tuple[list[SlotTarget], list[SlotRefusal]]:
    """Where each TF1 slot goes in `optimizer`, or why it does not.

    Args:
      optimizer: the built Keras optimizer, or None without `--optimizer`.
      slots: the TF1 checkpoint's slots.
      converted: TF1 variable name -> the model variable it was converted to.

    Returns:
      The slots to convert, and those that are not converted with a reason.
    """
    targets, refusals = [], []
    siblings: dict[str, set[str]] = {}
    for slot in slots:
        siblings.setdefault(slot.variable_name, set()).add(slot.suffix)
    for slot in slots:
        kind = slot_kind(slot.suffix, siblings[slot.variable_name])
        if optimizer is None:
            refusals.append(SlotRefusal(slot, "no `--optimizer` given"))
            continue
        if kind is None:
            refusals.append(
                SlotRefusal(slot, f"unknown slot kind `{slot.suffix}`")
            )
            continue
        keras_class = getattr(keras.optimizers, kind.keras_class)
        if not isinstance(optimizer, keras_class):
            refusals.append(
                SlotRefusal(
                    slot,
                    f"a TF1 {kind.tf1_optimizer} slot; `--optimizer` is "
                    f"{type(optimizer).__name__}, not {kind.keras_class}",
                )
            )
            continue
        variable = converted.get(slot.variable_name)
        if variable is None:
            refusals.append(
                SlotRefusal(
                    slot,
                    f"its variable `{slot.variable_name}` is not converted",
                )
            )
            continue
        found = slot_variable(optimizer, variable, kind.keras_slot)
        if found is None:
            refusals.append(
                SlotRefusal(
                    slot,
                    f"the {type(optimizer).__name__} has no `{kind.keras_slot}`"
                    " slot (check its settings, e.g. momentum > 0, centered)",
                )
            )
            continue
        index, keras_slot = found
        if tuple(keras_slot.shape) != tuple(slot.entry.shape):
            refusals.append(
                SlotRefusal(slot, f"shape differs from {keras_slot.path}")
            )
            continue
        scale, note = None, f"{kind.keras_slot}"
        if kind.scale_by_learning_rate:
            rate = learning_rate(optimizer)
            scale = -rate
            note = (
                f"momentum = -learning_rate * accum = {-rate:g} * accum "
                "(TF1 keeps accum, Keras SGD keeps -lr*accum)"
            )
        targets.append(SlotTarget(slot, index, keras_slot.path, scale, note))
    return targets, refusals


def _steps(power: float | None, beta: float) -> float | None:
    """Steps taken, from TF1's `beta^(steps + 1)` in float32."""
    beta32 = float(np.float32(beta))
    if power is None or not 0.0 < power < 1.0 or not 0.0 < beta32 < 1.0:
        return None
    if power < np.finfo(np.float32).tiny:  # subnormal: too few digits
        return None
    return math.log(power) / math.log(beta32) - 1.0


def _is_step(value: float | None, beta: float) -> bool:
    """True if `value` is a whole step count, up to 1e-3 plus the rounding
    TF1's float32 products accumulate (about sqrt(steps) ulps)."""
    if value is None or value < -_STEP_TOLERANCE:
        return False
    rounding = (
        4.0
        * math.sqrt(max(value, 1.0))
        * float(np.finfo(np.float32).eps)
        / abs(math.log(float(np.float32(beta))))
    )
    return abs(value - round(value)) <= _STEP_TOLERANCE + rounding


def plan_iterations(
    optimizer: Any | None,
    beta_powers: Mapping[int, tuple[str, float]],
    global_step: int,
) -> Iterations:
    """The Keras `optimizer.iterations` for a TF1 checkpoint.

    TF1 Adam stores `beta1_power = beta_1^(t + 1)` after t steps; Keras Adam
    uses `beta_1^(iterations + 1)`: so `iterations = log(p)/log(beta_1) - 1`.
    `beta1_power` underflows float32 after about 900 steps; then
    `beta2_power` is used. Without Adam powers, iterations = global step.

    Args:
      optimizer: the built Keras optimizer (None: nothing to set).
      beta_powers: 1 and/or 2 -> (TF1 name, value).
      global_step: the TF1 global step.
    """
    notes: dict[str, tuple[bool, str]] = {}
    if optimizer is None or not isinstance(optimizer, keras.optimizers.Adam):
        for name, _ in beta_powers.values():
            notes[name] = (
                False,
                "no `--optimizer` given"
                if optimizer is None
                else f"`--optimizer` is {type(optimizer).__name__}, not Adam",
            )
        return Iterations(global_step, "the global step", notes)
    if not beta_powers:
        return Iterations(global_step, "the global step", notes)
    betas = {1: float(optimizer.beta_1), 2: float(optimizer.beta_2)}
    steps = {
        key: _steps(value, betas[key])
        for key, (_, value) in beta_powers.items()
    }
    chosen = next(
        (k for k in (1, 2) if k in steps and _is_step(steps[k], betas[k])),
        None,
    )
    if chosen is None:
        found = ", ".join(
            f"{beta_powers[k][0]} gives {steps[k]!r}" for k in sorted(steps)
        )
        warning = (
            f"The Adam beta powers give no whole step count ({found}) with "
            f"the optimizer's beta_1={betas[1]}, beta_2={betas[2]} (did TF1 "
            f"use other betas?); optimizer.iterations = the global step "
            f"{global_step}."
        )
        for name, _ in beta_powers.values():
            notes[name] = (False, "not usable: see the warning")
        return Iterations(global_step, "the global step", notes, warning)
    value = round(steps[chosen])
    for key, (name, _) in beta_powers.items():
        if key == chosen:
            notes[name] = (
                True,
                f"optimizer iterations = {value} (log(p)/log(beta_{key}) - 1)",
            )
        elif not _is_step(steps[key], betas[key]):
            notes[name] = (False, f"not used (gives {steps[key]!r} steps)")
        elif round(steps[key]) != value:
            notes[name] = (False, f"disagrees: gives {round(steps[key])} steps")
        else:
            notes[name] = (True, f"agrees: iterations = {value}")
    return Iterations(value, beta_powers[chosen][0], notes)
