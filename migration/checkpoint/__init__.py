"""TF1 checkpoints to TF2: `km-migrate checkpoint` and `km-migrate inspect`.

Only the TensorFlow-free pieces are imported here, so importing the CLI stays
light; `convert`, `inspection` and the modules they use load TensorFlow.
"""

from migration.checkpoint.map_rules import MapRule
from migration.checkpoint.matching import (
    CheckpointEntry,
    ModelVariable,
    match_model_variables,
)

__all__ = [
    "CheckpointEntry",
    "MapRule",
    "ModelVariable",
    "match_model_variables",
]
