"""What each name of a TF1 `Saver` checkpoint is (pure: no TensorFlow).

A TF1 checkpoint holds model variables, the global step, the optimizer's
slots (`<variable>/<Optimizer>`, `<variable>/<Optimizer>_1`, ...) and the
optimizer's other state (`beta1_power`, `beta2_power` for Adam). This module
sorts the names, and says which Keras 3 optimizer slot each TF1 slot becomes.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Sequence

from migration.checkpoint.matching import CheckpointEntry

GLOBAL_STEP = "global_step"
_BETA_POWER = re.compile(r"(?:.*/)?beta([12])_power")


@dataclasses.dataclass(frozen=True)
class Slot:
    """A TF1 optimizer slot: `<variable_name>/<suffix>`."""

    entry: CheckpointEntry
    variable_name: str
    suffix: str


@dataclasses.dataclass
class Tf1Names:
    """The names of a TF1 checkpoint, sorted by what they hold.

    Attributes:
      model: entries that may be model variables.
      slots: the optimizer's per-variable slots.
      beta_powers: Adam's `beta1_power` / `beta2_power`, keyed 1 and 2.
      global_step: the `global_step` entry, if any.
      other: optimizer state km-migrate does not convert (a second Adam's
        `beta1_power_1`, ...).
    """

    model: list[CheckpointEntry]
    slots: list[Slot]
    beta_powers: dict[int, CheckpointEntry]
    global_step: CheckpointEntry | None
    other: list[CheckpointEntry]


@dataclasses.dataclass(frozen=True)
class SlotKind:
    """Where a TF1 slot goes in Keras 3.

    Attributes:
      tf1_optimizer: the TF1 optimizer that writes it (`AdamOptimizer`).
      keras_class: the Keras 3 optimizer class that has the slot (`Adam`).
      keras_slot: the Keras slot name (`momentum`, `velocity`).
      scale_by_learning_rate: the value is multiplied by `-learning_rate`
        (TF1 Momentum keeps `accum`, Keras SGD keeps `-lr * accum`).
    """

    tf1_optimizer: str
    keras_class: str
    keras_slot: str
    scale_by_learning_rate: bool = False


def classify(entries: Sequence[CheckpointEntry]) -> Tf1Names:
    """Sorts a TF1 checkpoint's entries (see `Tf1Names`).

    A slot is `X/<Suffix>` where `X` is itself an entry, as TF1's optimizers
    name them (`dense/kernel/Adam`); a suffix km-migrate does not know (an
    `ExponentialMovingAverage` shadow) is still a slot, reported as not
    converted.
    """
    names = {entry.name for entry in entries}
    result = Tf1Names([], [], {}, None, [])
    for entry in entries:
        owner, _, suffix = entry.name.rpartition("/")
        beta = _BETA_POWER.fullmatch(entry.name)
        if entry.name == GLOBAL_STEP:
            result.global_step = entry
        elif owner and owner in names:
            result.slots.append(Slot(entry, owner, suffix))
        elif beta and not entry.shape:
            key = int(beta.group(1))
            if key in result.beta_powers:
                result.other.append(entry)
            else:
                result.beta_powers[key] = entry
        elif re.fullmatch(r"(?:.*/)?beta[12]_power_\d+", entry.name):
            result.other.append(entry)
        else:
            result.model.append(entry)
    return result


def slot_kind(suffix: str, sibling_suffixes: set[str]) -> SlotKind | None:
    """The Keras slot a TF1 slot suffix becomes, or None if unknown.

    Args:
      suffix: the TF1 slot suffix (`Adam_1`).
      sibling_suffixes: the suffixes of all slots of the same variable (TF1's
        centered RMSProp has three: rms, mg, momentum).
    """
    if suffix == "Adam":
        return SlotKind("AdamOptimizer", "Adam", "momentum")
    if suffix == "Adam_1":
        return SlotKind("AdamOptimizer", "Adam", "velocity")
    if suffix == "Momentum":
        return SlotKind("MomentumOptimizer", "SGD", "momentum", True)
    if suffix == "RMSProp":
        return SlotKind("RMSPropOptimizer", "RMSprop", "velocity")
    if suffix == "RMSProp_1":
        centered = "RMSProp_2" in sibling_suffixes
        return SlotKind(
            "RMSPropOptimizer",
            "RMSprop",
            "average_gradient" if centered else "momentum",
        )
    if suffix == "RMSProp_2":
        return SlotKind("RMSPropOptimizer", "RMSprop", "momentum")
    if suffix == "Adagrad":
        return SlotKind("AdagradOptimizer", "Adagrad", "accumulator")
    return None
