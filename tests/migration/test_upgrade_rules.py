"""Every entry of the rule tables: its TF1 name exists in the installed
`tf.compat.v1` (or is documented as removed), its keras_monitored target
exists, and `upgrade_text` applies it (text in -> text out, report line)."""

from __future__ import annotations

import absl.logging
import pytest
import tensorflow as tf

import keras_monitored as km
from keras_monitored import flags as km_flags
from migration.upgrade import manual_rules, names, rules
from migration.upgrade.diagnostics import ERROR, INFO, WARNING
from migration.upgrade.engine import upgrade_text

V1 = tf.compat.v1


def resolve(root, dotted):
    """getattr along a dotted path; AttributeError names the missing part."""
    value = root
    for part in dotted.split("."):
        value = getattr(value, part)
    return value


def tf1_name(canonical):
    """The tf.compat.v1 object a canonical TF1 name stands for."""
    if canonical.startswith("estimator."):  # removed in TF 2.16: its aliases
        canonical = "train." + canonical[len("estimator.") :]
    if canonical == "train._get_or_create_global_step_read":
        from tensorflow.python.training import training_util

        return getattr(training_util, "_get_or_create_global_step_read")
    return resolve(V1, canonical)


# -- the tables match the installed TensorFlow and keras_monitored ----------


@pytest.mark.parametrize("canonical", sorted(rules.KM_RENAMES))
def test_renamed_names_exist_in_tf1_and_km(canonical):
    assert tf1_name(canonical) is not None
    target = rules.KM_RENAMES[canonical]
    assert target.startswith("km.")
    assert resolve(km, target[len("km.") :]) is not None


def test_renamed_hooks_are_tf1s_classes_translated_by_km():
    for canonical, target in rules.KM_RENAMES.items():
        if target.startswith("km.hooks.") and canonical.startswith("train."):
            assert isinstance(tf1_name(canonical), type), canonical


def test_absl_modules_and_members_exist():
    for canonical in rules.ABSL_MODULES:
        assert resolve(V1, canonical) is not None
    for member in rules.ABSL_LOGGING_MEMBERS:
        assert hasattr(V1.logging, member), member
        assert hasattr(absl.logging, member), member
    assert V1.app.run is not None


def test_removed_calls_exist():
    for name in rules.REMOVED_CALLS:
        assert callable(getattr(V1, name)), name


def test_km_flag_names_are_km_flags():
    from absl import flags

    flag_values = flags.FlagValues()
    km_flags.define_flags(flag_values)
    for name in rules.KM_FLAGS:
        assert name in flag_values, name


def test_global_step_calls_exist():
    for canonical in rules.GLOBAL_STEP_CALLS:
        assert tf1_name(canonical) is not None


def _manual_names(source):
    return [
        (rule, name)
        for rule in manual_rules.MANUAL_RULES
        if rule.source == source
        for name in rule.names
    ]


@pytest.mark.parametrize(
    "rule, name", _manual_names("tf1"), ids=lambda v: getattr(v, "what", v)
)
def test_manual_rule_names_exist_in_tf1(rule, name):
    if name.endswith("."):
        assert resolve(V1, name[:-1]) is not None
    else:
        # tf.layers' members raise with Keras 3: existing is enough.
        parent, _, last = name.rpartition(".")
        assert last in dir(resolve(V1, parent) if parent else V1), name


def test_removed_namespaces_are_gone_from_tf2():
    for rule, name in _manual_names("removed"):
        assert not hasattr(V1, name.split(".")[0]), name


# -- upgrade_text applies every entry ---------------------------------------


@pytest.mark.parametrize("root", ["tf", "tf.compat.v1"])
@pytest.mark.parametrize(
    "canonical",
    # TF1's private global-step helper is not reached through `tf`: the
    # hook golden test reaches it through training_util.
    sorted(c for c in rules.KM_RENAMES if not c.startswith("train._")),
)
def test_rename(canonical, root):
    source = (
        f"import tensorflow as tf\n\nvalue = {root}.{canonical}\ntf.print()\n"
    )
    text, diagnostics = upgrade_text(source)
    target = rules.KM_RENAMES[canonical]
    assert text == (
        "import tensorflow as tf\nimport keras_monitored as km\n\n"
        f"value = {target}\ntf.print()\n"
    )
    assert [d.format() for d in diagnostics] == [
        f"<string>:3:9: INFO: Renamed `{root}.{canonical}` to `{target}`."
    ]


def test_an_import_nothing_uses_any_more_is_removed():
    text, _ = upgrade_text(
        "import tensorflow as tf\n\nhook = tf.train.StopAtStepHook(3)\n"
    )
    assert text == (
        "import keras_monitored as km\n\nhook = km.hooks.StopAtStepHook(3)\n"
    )


@pytest.mark.parametrize(
    "rule, name",
    [
        (rule, name)
        for rule in manual_rules.MANUAL_RULES
        for name in rule.names
        if rule.source != "horovod"
    ],
    ids=lambda v: getattr(v, "what", v),
)
def test_manual_rule_is_reported_and_left(rule, name):
    expression = "tf.compat.v1." + (
        name + "something" if name.endswith(".") else name
    )
    source = f"import tensorflow as tf\n\nvalue = {expression}\n"
    text, diagnostics = upgrade_text(source)
    assert text == source
    assert len(diagnostics) == 1
    (diagnostic,) = diagnostics
    assert (diagnostic.line, diagnostic.column) == (3, 9)  # `value = tf...`
    assert diagnostic.severity == rule.severity
    assert rule.what in diagnostic.message and rule.how in diagnostic.message
    assert diagnostic.format().endswith("(manual edit required)") == (
        rule.severity == ERROR
    )


def test_horovod_is_reported():
    source = "import horovod.tensorflow as hvd\n\nhvd.init()\n"
    text, diagnostics = upgrade_text(source)
    assert text == source
    assert [(d.line, d.severity) for d in diagnostics] == [(3, ERROR)]
    assert "num_replicas_in_sync" in diagnostics[0].message


def test_names_in_tf2_too_are_warnings_through_plain_tf():
    rule = names.manual_rule("summary.scalar")
    assert rule.also_tf2
    _, through_v1 = upgrade_text(
        "import tensorflow.compat.v1 as tf\ntf.summary.scalar('x', 1)\n"
    )
    _, through_tf = upgrade_text(
        "import tensorflow as tf\ntf.summary.scalar('x', 1)\n"
    )
    assert [d.severity for d in through_v1 if d.line == 2] == [ERROR]
    assert [d.severity for d in through_tf] == [WARNING]
    assert "if this is TF1's" in through_tf[0].message


@pytest.mark.parametrize("name", sorted(rules.REMOVED_CALLS))
def test_removed_call(name):
    source = f"import tensorflow as tf\n\ntf.compat.v1.{name}()\nrun(tf)\n"
    text, diagnostics = upgrade_text(source)
    assert text == "import tensorflow as tf\n\nrun(tf)\n"
    assert [(d.line, d.severity) for d in diagnostics] == [(3, INFO)]
    assert rules.REMOVED_CALLS[name] in diagnostics[0].message


@pytest.mark.parametrize("member", sorted(rules.ABSL_LOGGING_MEMBERS))
def test_logging_member(member):
    source = f"import tensorflow as tf\n\nx = tf.logging.{member}\n"
    text, diagnostics = upgrade_text(source)
    assert text == f"from absl import logging\n\nx = logging.{member}\n"
    assert [d.severity for d in diagnostics] == [INFO]


@pytest.mark.parametrize("prefix", ["tf.app.flags", "tf.flags"])
def test_flags_module(prefix):
    source = f"import tensorflow as tf\n\nFLAGS = {prefix}.FLAGS\n"
    text, _ = upgrade_text(source)
    assert text == "from absl import flags\n\nFLAGS = flags.FLAGS\n"


@pytest.mark.parametrize("flag", sorted(rules.KM_FLAGS))
def test_km_flag_definition(flag):
    kinds, bound = rules.KM_FLAGS[flag]
    kind = sorted(kinds)[0]
    default = '"/tmp/x"' if kind == "DEFINE_string" else str(bound or 0 + 7)
    source = (
        "import tensorflow as tf\n\n"
        f'tf.app.flags.{kind}("{flag}", {default}, "help")\n'
    )
    text, diagnostics = upgrade_text(source)
    assert text == (
        "from keras_monitored import flags as km_flags\n"
        "from absl import flags\n\n"
        "km_flags.define_flags()\n"
        f'flags.FLAGS.set_default("{flag}", {default})\n'
    )
    assert [d.severity for d in diagnostics] == [INFO]


def test_every_manual_rule_has_a_km_way():
    for rule in manual_rules.MANUAL_RULES:
        assert rule.what and len(rule.how) > 40, rule.names
        assert rule.source in ("tf1", "removed", "horovod")
        assert rule.severity in (ERROR, WARNING)
