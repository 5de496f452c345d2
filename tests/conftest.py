"""Shared pytest set-up: quiet TF logs, a fresh global step per test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

import keras_monitored as km  # noqa: E402


@pytest.fixture(autouse=True)
def fresh_global_step():
    """TF1 tests used a fresh graph each; km has one global step per process."""
    km.reset_global_step()
    yield
    km.reset_global_step()
