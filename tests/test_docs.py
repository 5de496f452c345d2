"""Code shown in the README and the migration guide runs as shown."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import tensorflow as tf

REPO = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def test_readme_snippet_trains_and_checkpoints(tmp_path):
    with open(os.path.join(REPO, "README.md")) as handle:
        code = re.search(r"```python\n(.+?)\n```", handle.read(), re.S).group(1)
    code = code.replace('"/tmp/run"', repr(str(tmp_path)))
    result = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=300,
        env=dict(os.environ, PYTHONPATH=REPO, TF_CPP_MIN_LOG_LEVEL="2"),
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert tf.train.latest_checkpoint(str(tmp_path)).endswith("model.ckpt-1000")


def test_migration_guide_recipe_loads_a_tf1_checkpoint_eagerly(tmp_path):
    path = str(tmp_path / "model.ckpt-7")
    with tf.Graph().as_default():
        tf.compat.v1.get_variable(
            "w1", initializer=np.full((2, 2), 3.0, np.float32)
        )
        with tf.compat.v1.Session() as session:
            session.run(tf.compat.v1.global_variables_initializer())
            tf.compat.v1.train.Saver().save(session, path)
    migrated = tf.Variable(np.zeros((2, 2), np.float32))
    tf.compat.v1.train.Saver(var_list={"w1": migrated}).restore(None, path)
    np.testing.assert_array_equal(migrated.numpy(), np.full((2, 2), 3.0))
