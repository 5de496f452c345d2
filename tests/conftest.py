"""Shared pytest set-up: quiet TF logs, two logical CPUs, a fresh global step
per test."""

import os

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402
import tensorflow as tf  # noqa: E402

import keras_monitored as km  # noqa: E402

# Split the CPU into two logical devices before TensorFlow starts its runtime,
# so MirroredStrategy tests run real replicas in-process. Everything else keeps
# running on CPU:0.
_cpu = tf.config.list_physical_devices("CPU")[0]
tf.config.set_logical_device_configuration(
    _cpu,
    [
        tf.config.LogicalDeviceConfiguration(),
        tf.config.LogicalDeviceConfiguration(),
    ],
)


@pytest.fixture(autouse=True)
def in_a_scratch_directory(tmp_path_factory, monkeypatch):
    """Tests run in a temporary working directory: whatever writes to '.'
    (TF1's ProfilerHook constructor makes an events file there) stays out of
    the repository."""
    monkeypatch.chdir(tmp_path_factory.mktemp("cwd"))


@pytest.fixture(autouse=True)
def fresh_global_step():
    """TF1 tests used a fresh graph each; km has one global step per process."""
    km.reset_global_step()
    yield
    km.reset_global_step()


@pytest.fixture
def mirrored():
    """A MirroredStrategy over the two logical CPUs."""
    return tf.distribute.MirroredStrategy(["/cpu:0", "/cpu:1"])
