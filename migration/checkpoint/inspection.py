"""`km-migrate inspect`: the variables of a checkpoint, TF1 or TF2."""

from __future__ import annotations

from migration.checkpoint import report
from migration.checkpoint.reader import open_checkpoint


def inspect_checkpoint(path: str) -> str:
    """The listing of the checkpoint at `path` (a prefix or a directory).

    Names, shapes and dtypes as stored, and the format: TF1 name-based, or
    TF2 object-based (keys such as `model/.../.ATTRIBUTES/VARIABLE_VALUE`;
    the object-graph key itself is left out).

    Raises:
      UsageError: nothing readable at `path`.
    """
    return report.listing(open_checkpoint(path, "CKPT"))
