"""Matching TF1 checkpoint names to a model's variables (pure: no TensorFlow).

Three rules, tried in this order; a variable or a checkpoint entry taken by
one rule is not offered to the next:

1. `--map REGEX=REPLACEMENT` rules rewrite each TF1 name (`re.sub`, in the
   order given). A rewritten name equal to a model variable's path, or to
   that path without the model's own name (`sequential/`), matches. Rules 2
   and 3 then see the rewritten names.
2. Exact name: the TF1 name equals the model path without the model's own
   name (`dense/kernel` is `sequential/dense/kernel`), or does so once one
   common TF1 outer scope is taken off (`model/dense/kernel`).
3. Layer order: TF1 names auto-named layer scopes `<snake_case class>`,
   `_1`, `_2`... in creation order, as Keras names layers. The k-th TF1
   `dense` scope is matched to the k-th `Dense` layer of the model (leaf
   layers with variables, in the order of the model's variables), and the
   variables inside by their last name (`kernel`, `gamma`, `moving_mean`).
   Only when the counts agree.

A name match also needs the same shape: a pair whose shapes differ is
reported as a shape mismatch and never converted (a later rule may still
find a pair of equal shape).
"""

from __future__ import annotations

import collections
import dataclasses
import re
from collections.abc import Iterable, Sequence

from migration.checkpoint.map_rules import MapRule

Shape = tuple[int, ...]


@dataclasses.dataclass(frozen=True)
class CheckpointEntry:
    """One tensor of a checkpoint: its key, shape and dtype name."""

    name: str
    shape: Shape
    dtype: str


@dataclasses.dataclass(frozen=True)
class ModelVariable:
    """One variable of the model, as matching sees it.

    Attributes:
      index: position in the model's variable list (`model.weights`).
      path: the full path, e.g. `sequential/conv2d/kernel`.
      name: the path without the model's own name, e.g. `conv2d/kernel`.
      shape: the variable's shape.
      dtype: the dtype name, e.g. `float32`.
      layer: the path of the layer that owns it (None outside a layer).
      layer_class: that layer's class name, e.g. `Conv2D`.
      trainable: whether the optimizer updates it.
    """

    index: int
    path: str
    name: str
    shape: Shape
    dtype: str
    layer: str | None = None
    layer_class: str | None = None
    trainable: bool = True

    @property
    def leaf(self) -> str:
        """The last component of the path (`kernel`)."""
        return self.path.rsplit("/", 1)[-1]

    @property
    def layer_type(self) -> str | None:
        """The TF1/Keras auto-naming key of its layer (`batch_normalization`)."""
        return snake_case(self.layer_class) if self.layer_class else None


@dataclasses.dataclass(frozen=True)
class Match:
    """A checkpoint entry paired with a model variable of the same shape."""

    entry: CheckpointEntry
    variable: ModelVariable
    rule: str


@dataclasses.dataclass(frozen=True)
class ShapeMismatch:
    """A name match whose shapes differ (never converted)."""

    entry: CheckpointEntry
    variable: ModelVariable
    rule: str


@dataclasses.dataclass
class ModelMatching:
    """What `match_model_variables` found.

    Attributes:
      matches: pairs to convert, in the model's variable order.
      shape_mismatches: name matches with different shapes.
      unmatched_variables: model variables with no checkpoint value
        (shape-mismatched ones excluded).
      unmatched_entries: checkpoint entries no model variable took
        (shape-mismatched ones excluded).
      reasons: why the layer-order rule could not place a variable, by path.
    """

    matches: list[Match]
    shape_mismatches: list[ShapeMismatch]
    unmatched_variables: list[ModelVariable]
    unmatched_entries: list[CheckpointEntry]
    reasons: dict[str, str]


def snake_case(class_name: str) -> str:
    """The name TF1 `tf.layers` and Keras give a layer of this class.

    `Conv2D` -> `conv2d`, `BatchNormalization` -> `batch_normalization`.
    """
    name = re.sub(r"\W+", "", class_name)
    name = re.sub(r"(.)([A-Z][a-z]+)", r"\1_\2", name)
    return re.sub(r"([a-z])([A-Z])", r"\1_\2", name).lower()


def split_scope(scope_name: str) -> tuple[str, int]:
    """`dense_2` -> (`dense`, 2); `dense` -> (`dense`, 0)."""
    found = re.fullmatch(r"(.+?)_(\d+)", scope_name)
    if found:
        return found.group(1), int(found.group(2))
    return scope_name, 0


def _ordinal(number: int) -> str:
    if 10 <= number % 100 <= 20:
        suffix = "th"
    else:
        suffix = {1: "st", 2: "nd", 3: "rd"}.get(number % 10, "th")
    return f"{number}{suffix}"


class _Matcher:
    """The bookkeeping shared by the three rules."""

    def __init__(
        self,
        entries: Sequence[CheckpointEntry],
        variables: Sequence[ModelVariable],
        effective: dict[str, str],
    ):
        self.entries = list(entries)
        self.variables = list(variables)
        self.effective = effective  # TF1 name -> name after --map rules
        self.free_entries = {entry.name: entry for entry in entries}
        self.free_variables = {var.index: var for var in variables}
        self.matches: list[Match] = []
        self.candidates: list[ShapeMismatch] = []
        self.reasons: dict[str, str] = {}

    def propose(
        self, entry: CheckpointEntry, variable: ModelVariable, rule: str
    ) -> None:
        if (
            entry.name not in self.free_entries
            or variable.index not in self.free_variables
        ):
            return
        if tuple(entry.shape) != tuple(variable.shape):
            self.candidates.append(ShapeMismatch(entry, variable, rule))
            return
        del self.free_entries[entry.name]
        del self.free_variables[variable.index]
        self.matches.append(Match(entry, variable, rule))

    def name_of(self, entry: CheckpointEntry) -> str:
        return self.effective[entry.name]

    def result(self) -> ModelMatching:
        mismatches: list[ShapeMismatch] = []
        taken_entries: set[str] = set()
        taken_variables: set[int] = set()
        for candidate in self.candidates:
            if (
                candidate.entry.name in self.free_entries
                and candidate.variable.index in self.free_variables
                and candidate.entry.name not in taken_entries
                and candidate.variable.index not in taken_variables
            ):
                mismatches.append(candidate)
                taken_entries.add(candidate.entry.name)
                taken_variables.add(candidate.variable.index)
        return ModelMatching(
            matches=sorted(self.matches, key=lambda m: m.variable.index),
            shape_mismatches=sorted(mismatches, key=lambda m: m.variable.index),
            unmatched_variables=[
                var
                for index, var in self.free_variables.items()
                if index not in taken_variables
            ],
            unmatched_entries=[
                entry
                for name, entry in self.free_entries.items()
                if name not in taken_entries
            ],
            reasons={
                path: reason
                for path, reason in self.reasons.items()
                if any(v.path == path for v in self.free_variables.values())
            },
        )


def _rewrite(
    entries: Iterable[CheckpointEntry], rules: Sequence[MapRule]
) -> tuple[dict[str, str], dict[str, list[str]]]:
    effective, applied = {}, {}
    for entry in entries:
        name, used = entry.name, []
        for rule in rules:
            renamed = rule.apply(name)
            if renamed != name:
                used.append(rule.text)
                name = renamed
        effective[entry.name] = name
        applied[entry.name] = used
    return effective, applied


def _targets(variables: Sequence[ModelVariable]) -> dict[str, ModelVariable]:
    targets: dict[str, ModelVariable] = {}
    for var in variables:
        targets.setdefault(var.path, var)
    for var in variables:
        targets.setdefault(var.name, var)
    return targets


def _by_map(
    matcher: _Matcher,
    targets: dict[str, ModelVariable],
    applied: dict[str, list[str]],
) -> None:
    for entry in matcher.entries:
        rules = applied[entry.name]
        var = targets.get(matcher.name_of(entry))
        if rules and var is not None:
            matcher.propose(entry, var, "--map " + ", ".join(rules))


def _by_name(matcher: _Matcher, targets: dict[str, ModelVariable]) -> None:
    for entry in matcher.entries:
        var = targets.get(matcher.name_of(entry))
        if var is not None:
            matcher.propose(entry, var, "name")
    votes: collections.Counter = collections.Counter()
    for entry in matcher.free_entries.values():
        parts = matcher.name_of(entry).split("/")
        for cut in range(1, len(parts)):
            if "/".join(parts[cut:]) in targets:
                votes["/".join(parts[:cut])] += 1
    ranked = votes.most_common(2)
    if not ranked or (len(ranked) == 2 and ranked[0][1] == ranked[1][1]):
        return  # no outer scope, or no single one
    outer = ranked[0][0] + "/"
    for entry in list(matcher.free_entries.values()):
        name = matcher.name_of(entry)
        if name.startswith(outer) and name[len(outer) :] in targets:
            matcher.propose(
                entry, targets[name[len(outer) :]], f"name under `{outer}`"
            )


def _tf1_scopes(
    matcher: _Matcher,
) -> dict[str, dict[str, dict[int, str]]]:
    """type -> outer scope -> index -> scope, from every entry's name."""
    scopes: dict[str, dict[str, dict[int, str]]] = collections.defaultdict(
        lambda: collections.defaultdict(dict)
    )
    for entry in matcher.entries:
        name = matcher.name_of(entry)
        if "/" not in name:
            continue
        scope = name.rsplit("/", 1)[0]
        outer, _, last = scope.rpartition("/")
        layer_type, index = split_scope(last)
        scopes[layer_type][outer].setdefault(index, scope)
    return scopes


def _by_layer_order(matcher: _Matcher) -> None:
    layers: dict[str, list[str]] = collections.defaultdict(list)
    classes: dict[str, str] = {}
    owned: dict[str, dict[str, ModelVariable]] = collections.defaultdict(dict)
    for var in matcher.variables:
        if var.layer is None or not var.layer_class:
            continue
        if var.layer not in owned:
            layers[var.layer_type].append(var.layer)
            classes[var.layer_type] = var.layer_class
        owned[var.layer].setdefault(var.leaf, var)
    entries_in: dict[str, dict[str, CheckpointEntry]] = collections.defaultdict(
        dict
    )
    for entry in matcher.entries:
        scope, _, leaf = matcher.name_of(entry).rpartition("/")
        if scope:
            entries_in[scope].setdefault(leaf, entry)
    tf1_scopes = _tf1_scopes(matcher)
    for layer_type, layer_paths in layers.items():
        groups = tf1_scopes.get(layer_type, {})
        problem = None
        if not groups:
            problem = f"the TF1 checkpoint has no `{layer_type}` scope"
        elif len(groups) > 1:
            outers = ", ".join(f"`{o}/`" for o in sorted(groups))
            problem = (
                f"TF1 `{layer_type}` scopes sit under several outer scopes "
                f"({outers}): give `--map` rules"
            )
        else:
            (scope_by_index,) = groups.values()
            scopes = [scope_by_index[i] for i in sorted(scope_by_index)]
            if len(scopes) != len(layer_paths):
                problem = (
                    f"the TF1 checkpoint has {len(scopes)} `{layer_type}` "
                    f"scope(s), the model {len(layer_paths)} "
                    f"{classes[layer_type]} layer(s)"
                )
        if problem:
            for layer in layer_paths:
                for var in owned[layer].values():
                    matcher.reasons[var.path] = problem
            continue
        for rank, (scope, layer) in enumerate(zip(scopes, layer_paths)):
            rule = f"layer order ({_ordinal(rank + 1)} `{layer_type}`)"
            for leaf, var in owned[layer].items():
                entry = entries_in.get(scope, {}).get(leaf)
                if entry is not None:
                    matcher.propose(entry, var, rule)


def match_model_variables(
    entries: Sequence[CheckpointEntry],
    variables: Sequence[ModelVariable],
    rules: Sequence[MapRule] = (),
) -> ModelMatching:
    """Pairs TF1 checkpoint entries with model variables (see module doc).

    Args:
      entries: the TF1 entries that may hold model variables (not the
        optimizer's slots, not the global step).
      variables: the model's variables, in the model's order.
      rules: the `--map` rules, in the order given.

    Returns:
      The pairs, the shape mismatches and what is left on either side.
    """
    effective, applied = _rewrite(entries, rules)
    matcher = _Matcher(entries, variables, effective)
    targets = _targets(variables)
    _by_map(matcher, targets, applied)
    _by_name(matcher, targets)
    _by_layer_order(matcher)
    result = matcher.result()
    renamed = {name for name, used in applied.items() if used}
    if renamed:
        result.matches = [
            m
            if m.rule.startswith("--map") or m.entry.name not in renamed
            else dataclasses.replace(
                m,
                rule=f"--map {', '.join(applied[m.entry.name])}, then {m.rule}",
            )
            for m in result.matches
        ]
    return result
