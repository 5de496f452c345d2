"""`km-migrate checkpoint`: match, write, verify, then publish.

The new checkpoint is written with `tf.train.CheckpointManager` into a
staging directory next to `--out`, restored into a second, fresh model and
optimizer and compared value by value with the TF1 checkpoint; only then are
its files moved into `--out`.
"""

from __future__ import annotations

import dataclasses
import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import tensorflow as tf
from absl import logging

from migration.checkpoint import model_loader, model_variables, output_dir
from migration.checkpoint._errors import bad_argument
from migration.checkpoint.map_rules import MapRule
from migration.checkpoint.plan import MODEL, OPTIMIZER, STEP, Plan, build_plan
from migration.checkpoint.reader import Checkpoint, open_checkpoint

CHECKPOINT_NAME = "model.ckpt"


@dataclasses.dataclass(frozen=True)
class ConvertOptions:
    """The `km-migrate checkpoint` command line.

    Attributes:
      tf1_checkpoint: the TF1 checkpoint prefix or directory.
      model: `FILE.py:FUNCTION` or `package.module:FUNCTION`.
      out: the directory the new checkpoint goes to.
      rules: the `--map` rules, in order.
      optimizer: `FILE.py:FUNCTION` returning the optimizer, or None.
      allow_missing: write even if model variables get no value.
    """

    tf1_checkpoint: str
    model: str
    out: str
    rules: Sequence[MapRule] = ()
    optimizer: str | None = None
    allow_missing: bool = False


@dataclasses.dataclass
class ConvertResult:
    """What the conversion did.

    Attributes:
      tf1_prefix: the TF1 checkpoint read.
      plan: the matching and the report rows.
      written: the new checkpoint's prefix in `--out` (None: not written).
      verified: how many values were read back and compared.
      failures: values that did not read back equal (nothing written then).
    """

    tf1_prefix: str
    plan: Plan
    written: str | None = None
    verified: int = 0
    failures: list[str] = dataclasses.field(default_factory=list)


def _build_optimizer(spec: str | None, model: Any) -> Any | None:
    if spec is None:
        return None
    optimizer = model_loader.load_optimizer(spec)
    # The order `apply_gradients(zip(grads, model.trainable_variables))`
    # builds it in: slot positions in the checkpoint follow it.
    optimizer.build(model_variables.trainable_variables_of(model))
    return optimizer


def _target(assignment: Any, objects: list, optimizer: Any, step: Any) -> Any:
    if assignment.target == MODEL:
        return objects[assignment.index]
    if assignment.target == OPTIMIZER:
        return optimizer.variables[assignment.index]
    return step


def _root(model: Any, optimizer: Any | None, step: Any) -> tf.train.Checkpoint:
    children = {"model": model, STEP: step}
    if optimizer is not None:
        children["optimizer"] = optimizer
    return tf.train.Checkpoint(**children)


def write(plan: Plan, model: Any, optimizer: Any | None, directory: str) -> str:
    """Assigns the plan's values and saves; returns the checkpoint prefix."""
    objects = model_variables.variables_of(model)
    step = tf.Variable(plan.global_step, dtype=tf.int64, name=STEP)
    for assignment in plan.assignments:
        _target(assignment, objects, optimizer, step).assign(assignment.value)
    manager = tf.train.CheckpointManager(
        _root(model, optimizer, step),
        directory,
        max_to_keep=None,
        checkpoint_name=CHECKPOINT_NAME,
    )
    return manager.save(checkpoint_number=plan.global_step)


def verify(
    plan: Plan, checkpoint: Checkpoint, options: ConvertOptions, prefix: str
) -> list[str]:
    """Restores `prefix` into a fresh model and optimizer (FUNCTION called
    again) and compares every converted value with the TF1 checkpoint's.

    Returns:
      One line per value that differs (empty: all equal).
    """
    try:
        model = model_loader.load_model(options.model)
        optimizer = _build_optimizer(options.optimizer, model)
        objects = model_variables.variables_of(model)
        step = tf.Variable(-1, dtype=tf.int64, name=STEP)
        _root(model, optimizer, step).restore(prefix).expect_partial()
    except Exception as error:  # noqa: BLE001  (the user's code)
        # The first call worked: a second one that fails or builds another
        # model is a failed verification, not a bad command line.
        message = (
            "could not restore the new checkpoint into a second model from "
            f"`--model` ({type(error).__name__}: {error})"
        )
        return [message]
    failures = []
    for assignment in plan.assignments:
        if assignment.target == MODEL and assignment.index >= len(objects):
            failures.append(
                f"{assignment.path}: the second call of the `--model` "
                "function built fewer variables"
            )
            continue
        actual = np.asarray(
            _target(assignment, objects, optimizer, step).numpy()
        )
        expected = assignment.expected(checkpoint)
        floating = np.issubdtype(expected.dtype, np.floating)
        if actual.shape != expected.shape or not np.array_equal(
            actual, expected, equal_nan=floating
        ):
            source = assignment.tf1_name or "derived value"
            failures.append(
                f"{assignment.path}: restored value differs from {source}"
            )
    return failures


def convert(options: ConvertOptions) -> ConvertResult:
    """Runs the conversion (see the module docstring).

    Raises:
      UsageError: a bad `--out`, TF1 checkpoint, `--model` or `--optimizer`
        (checked before anything is written).
    """
    out = output_dir.check_output_dir(options.out)
    checkpoint = open_checkpoint(options.tf1_checkpoint, "TF1_CKPT")
    if checkpoint.object_based:
        raise bad_argument(
            "TF1_CKPT",
            options.tf1_checkpoint,
            f"{checkpoint.prefix} is a TF2 object-based checkpoint "
            "(tf.train.Checkpoint): it needs no conversion; restore it with "
            "tf.train.Checkpoint(model=...).restore(path).",
            "a TF1 name-based checkpoint written by tf.compat.v1.train.Saver",
        )
    logging.info("Converting %s for %s.", checkpoint.prefix, options.model)
    model = model_loader.load_model(options.model)
    optimizer = _build_optimizer(options.optimizer, model)
    plan = build_plan(checkpoint, model, optimizer, options.rules)
    for warning in plan.warnings:
        logging.warning("%s", warning)
    result = ConvertResult(checkpoint.prefix, plan)
    if plan.unmatched and not options.allow_missing:
        return result
    with output_dir.staging_dir(out) as staging:
        staged = write(plan, model, optimizer, staging)
        result.failures = verify(plan, checkpoint, options, staged)
        result.verified = max(len(plan.assignments) - len(result.failures), 0)
        if result.failures:
            logging.error("Verification failed: %s", "; ".join(result.failures))
            return result
        output_dir.publish(staging, out)
    result.written = os.path.join(out, os.path.basename(staged))
    return result
