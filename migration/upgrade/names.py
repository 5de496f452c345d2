"""Names: which TF1 API a dotted expression in the source refers to.

libcst's `QualifiedNameProvider` resolves `tf.train.X` through the file's
imports (`import tensorflow.compat.v1 as tf`, `from tensorflow.python.
training import session_run_hook`, ...) to a qualified name; this module maps
that to the canonical form the rule tables use (`train.X`).
"""

from __future__ import annotations

from typing import Iterable

from migration.upgrade import manual_rules, rules


def canonical_name(qualified: str) -> str | None:
    """The canonical TF1 name of a qualified name, or None if not TF1's.

    Examples: `tensorflow.compat.v1.train.Saver` -> `train.Saver`;
    `horovod.tensorflow.init` -> `horovod.tensorflow.init`;
    `numpy.array` -> None.
    """
    for prefix, canonical_prefix in rules.TF1_ROOTS + rules.OTHER_ROOTS:
        if qualified.startswith(prefix):
            canonical = canonical_prefix + qualified[len(prefix) :]
            while canonical.startswith("compat.v1."):  # tf.compat.v1.compat.v1
                canonical = canonical[len("compat.v1.") :]
            return canonical
    if qualified in ("tensorflow", "tensorflow.compat.v1"):
        return ""
    return None


def is_explicit_v1(qualified: str) -> bool:
    """True for a name reached through `tf.compat.v1` (certainly TF1's)."""
    return qualified.startswith(
        ("tensorflow.compat.v1.", "tensorflow._api.v2.compat.v1.")
    )


def first_canonical(qualified_names: Iterable[str]) -> str | None:
    """The canonical name of the first TF1 qualified name in a set (a name
    bound by `try: import a as tf / except: import b as tf` has two)."""
    for qualified in sorted(qualified_names):
        canonical = canonical_name(qualified)
        if canonical is not None:
            return canonical
    return None


def matches(canonical: str, pattern: str) -> bool:
    """True if `canonical` is `pattern`, or lies under it when `pattern` ends
    with a dot (`contrib.` covers `contrib.layers.fully_connected`)."""
    if pattern.endswith("."):
        return canonical.startswith(pattern) or canonical == pattern[:-1]
    return canonical == pattern


def longest_prefix(canonical: str, prefixes: Iterable[str]) -> str | None:
    """The longest of `prefixes` that `canonical` is, or starts with on a dot
    boundary (`app.flags` for `app.flags.DEFINE_string`)."""
    best = None
    for prefix in prefixes:
        if canonical == prefix or canonical.startswith(prefix + "."):
            if best is None or len(prefix) > len(best):
                best = prefix
    return best


def manual_rule(canonical: str) -> manual_rules.ManualRule | None:
    """The rule for a construct that needs a person, if any."""
    for rule in manual_rules.MANUAL_RULES:
        if any(matches(canonical, pattern) for pattern in rule.names):
            return rule
    return None


def is_graph_building(canonical: str) -> bool:
    """True for TF1 API that builds graph tensors or ops (see
    `rules.NOT_GRAPH_BUILDING`)."""
    if canonical in rules.KM_RENAMES:
        return False
    for pattern in rules.NOT_GRAPH_BUILDING:
        if canonical == pattern.rstrip(".") or (
            pattern.endswith(".") and canonical.startswith(pattern)
        ):
            return False
    return bool(canonical) and not canonical.startswith("horovod.")
