"""Roles from TF_CONFIG: one parser (TF's TFConfigClusterResolver) for the
session's chief/worker role and for --strategy=auto; a bad TF_CONFIG is an
error naming the variable."""

from __future__ import annotations

import json

import pytest
from absl import flags

from keras_monitored import _roles as roles
from keras_monitored import flags as km_flags


def tf_config(monkeypatch, value):
    if not isinstance(value, str):
        value = json.dumps(value)
    monkeypatch.setenv("TF_CONFIG", value)


def parsed_flags(*argv):
    values = flags.FlagValues()
    km_flags.define_flags(values)
    values(["train", *argv])
    return values


CLUSTER = {"worker": ["127.0.0.1:1", "127.0.0.1:2"]}


@pytest.mark.parametrize(
    "task, chief",
    [
        ({"type": "worker", "index": 0}, True),
        ({"type": "worker", "index": 1}, False),
    ],
)
def test_worker_zero_is_the_chief_without_a_chief_task(
    monkeypatch, task, chief
):
    tf_config(monkeypatch, {"cluster": CLUSTER, "task": task})
    assert roles.resolve_is_chief(None) is chief
    assert roles.cluster_tasks() == 2
    assert km_flags.strategy_name(parsed_flags()) == "multi_worker_mirrored"


def test_a_chief_task_is_the_chief(monkeypatch):
    cluster = {"chief": ["127.0.0.1:3"], **CLUSTER}
    tf_config(
        monkeypatch,
        {"cluster": cluster, "task": {"type": "worker", "index": 0}},
    )
    assert roles.resolve_is_chief(None) is False
    tf_config(
        monkeypatch, {"cluster": cluster, "task": {"type": "chief", "index": 0}}
    )
    assert roles.resolve_is_chief(None) is True
    assert roles.cluster_tasks() == 3


def test_no_tf_config_is_a_lone_chief(monkeypatch):
    monkeypatch.delenv("TF_CONFIG", raising=False)
    assert roles.resolve_is_chief(None) is True
    assert roles.cluster_tasks() == 0
    assert km_flags.strategy_name(parsed_flags()) == "default"


@pytest.mark.parametrize("raw", ["{bad json", "[1, 2]"])
def test_a_bad_tf_config_is_an_error_naming_it_everywhere(monkeypatch, raw):
    tf_config(monkeypatch, raw)
    expected = (
        "Invalid value for the environment variable TF_CONFIG. Received: "
        f"TF_CONFIG={raw!r}"
    )
    with pytest.raises(ValueError) as from_role:
        roles.resolve_is_chief(None)
    with pytest.raises(ValueError) as from_flags:
        km_flags.strategy_name(parsed_flags())
    assert str(from_role.value).startswith(expected)
    assert str(from_flags.value).startswith(expected)
