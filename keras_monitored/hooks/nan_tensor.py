"""NanTensorHook: stop (or fail) when the loss becomes NaN."""

from __future__ import annotations

from typing import Any

import numpy as np
from absl import logging

from keras_monitored import _compat, _validation
from keras_monitored._fetches import check_fetches
from keras_monitored.session_run_hook import SessionRunArgs, SessionRunHook

_BASE_ERROR = _compat.tf1_class("NanLossDuringTrainingError") or RuntimeError


class NanLossDuringTrainingError(_BASE_ERROR):
    """Raised by `NanTensorHook` when the loss is NaN.

    It subclasses TF1's `tf.compat.v1.train.NanLossDuringTrainingError`, so
    existing `except` clauses keep catching it.
    """

    def __str__(self) -> str:
        return "NaN loss during training."


class NanTensorHook(SessionRunHook):
    """Checks the loss after every run; raises or requests a stop on NaN.

    As in TF1 only NaN counts (not Inf). Inside a multi-step loop the hook
    sees the loop's last step (a NaN loss stays NaN once the weights are).

    Args:
      loss_tensor: the fetch of the loss (usually the output name `"loss"`).
      fail_on_nan_loss: raise `NanLossDuringTrainingError` (True) or log a
        warning and request a stop (False).

    Raises:
      TypeError: `loss_tensor` cannot be fetched, or `fail_on_nan_loss` is
        not a bool.

    Example:

    ```python
    km.hooks.NanTensorHook("loss")
    ```
    """

    def __init__(self, loss_tensor: Any, fail_on_nan_loss: bool = True):
        self._loss_tensor = check_fetches("loss_tensor", loss_tensor)
        self._fail_on_nan_loss = _validation.check_bool(
            "fail_on_nan_loss", fail_on_nan_loss
        )

    def before_run(self, run_context: Any) -> SessionRunArgs:
        del run_context
        return SessionRunArgs(self._loss_tensor)

    def after_run(self, run_context: Any, run_values: Any) -> None:
        if not np.any(np.isnan(run_values.results)):
            return
        failure_message = "Model diverged with loss = NaN."
        if self._fail_on_nan_loss:
            logging.error(failure_message)
            raise NanLossDuringTrainingError
        logging.warning(failure_message)
        run_context.request_stop()
