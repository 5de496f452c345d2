"""km's absl flag definitions, and how a binary's own flags of the same names
are reused or left out (`define_flags(exclude=...)`)."""

from __future__ import annotations

import dataclasses
import weakref
from typing import Any, Callable, Iterable

from absl import flags

from keras_monitored import _validation

# The flags km defines are the calling binary's: `--help` lists them with
# its own (absl attributes a flag to the first module not disclaiming).
flags.disclaim_key_flags()

STRATEGIES = (
    "auto",
    "default",
    "one_device",
    "mirrored",
    "multi_worker_mirrored",
    "parameter_server",
    "tpu",
)

# What km needs of a flag, by absl flag type (`Flag.flag_type()`).
_STRING = ("string",)
_INT = ("int",)
_NUMBER = ("int", "float")
_STRATEGY = ("string enum", "string")
_BOOL = ("bool",)
_DESCRIBED = {
    _STRING: "a string flag (flags.DEFINE_string)",
    _BOOL: "a boolean flag (flags.DEFINE_boolean)",
    _INT: "an integer flag (flags.DEFINE_integer)",
    _NUMBER: "an integer or float flag (flags.DEFINE_integer / DEFINE_float)",
    _STRATEGY: (
        "a string or enum flag whose default is one of km's strategy names "
        f"({', '.join(STRATEGIES)})"
    ),
}


@dataclasses.dataclass(frozen=True)
class _Spec:
    """One km flag: what it defines and what an existing flag must be."""

    accepts: tuple[str, ...]
    define: Callable[[str, flags.FlagValues], Any]


def _string(help_text: str) -> _Spec:
    return _Spec(
        _STRING,
        lambda name, values: flags.DEFINE_string(
            name, None, help_text, flag_values=values
        ),
    )


def _boolean(help_text: str) -> _Spec:
    return _Spec(
        _BOOL,
        lambda name, values: flags.DEFINE_boolean(
            name, False, help_text, flag_values=values
        ),
    )


def _integer(help_text: str, lower: int, default: int | None = None) -> _Spec:
    return _Spec(
        _INT,
        lambda name, values: flags.DEFINE_integer(
            name, default, help_text, lower_bound=lower, flag_values=values
        ),
    )


SPECS: dict[str, _Spec] = {
    "checkpoint_dir": _string(
        "Directory for checkpoints (restored on start, saved while training)."
    ),
    "summary_dir": _string(
        "Directory for TensorBoard summaries; unset: --checkpoint_dir."
    ),
    "max_steps": _integer(
        "Global step to stop at (StopAtStepHook(last_step=...)).", 1
    ),
    "save_checkpoint_steps": _integer(
        "Checkpoint every N global steps. With neither this nor "
        "--save_checkpoint_secs set: every 600 s (TF1).",
        1,
    ),
    "save_checkpoint_secs": _Spec(
        _NUMBER,
        lambda name, values: flags.DEFINE_float(
            name,
            None,
            "Checkpoint every N seconds. With neither this nor "
            "--save_checkpoint_steps set: every 600 s (TF1).",
            lower_bound=0.0,
            flag_values=values,
        ),
    ),
    "save_summaries_steps": _integer(
        "Write summaries every N global steps.", 1, 100
    ),
    "log_step_count_steps": _integer(
        "Log global_step/sec every N global steps (0: off).", 0, 100
    ),
    "keep_checkpoint_max": _integer("How many checkpoints to keep.", 1, 5),
    "steps_per_loop": _integer(
        "Most steps per session.run call (one tf.function call).", 1, 1
    ),
    "async_checkpoint": _boolean(
        "Write checkpoints in the background: training goes on while the "
        "files are written (a save waits for the previous one)."
    ),
    "checkpoint_input": _boolean(
        "Save the position of the tf.data iterators fed to the session with "
        "each checkpoint: a restarted run resumes at the next element."
    ),
    "strategy": _Spec(
        _STRATEGY,
        lambda name, values: flags.DEFINE_enum(
            name,
            "auto",
            STRATEGIES,
            "tf.distribute strategy. auto: tpu with --tpu, "
            "parameter_server when TF_CONFIG has ps tasks, "
            "multi_worker_mirrored when TF_CONFIG names more than one task, "
            "mirrored with more than one GPU, else default.",
            flag_values=values,
        ),
    ),
    "tpu": _string(
        "TPU name or grpc:// address (implies --strategy=tpu under auto)."
    ),
    "peer_timeout_secs": _Spec(
        _NUMBER,
        lambda name, values: flags.DEFINE_float(
            name,
            300.0,
            "multi_worker_mirrored: seconds to wait for the cluster's other "
            "tasks to start before giving up (0: leave the wait to "
            "TensorFlow, which has no timeout).",
            lower_bound=0.0,
            flag_values=values,
        ),
    ),
}

# Checks across km's own flags: (names, check, message). Registered only
# when km defined every flag involved (a reused flag keeps the binary's own
# validation; the session's arguments are validated again anyway).
_VALIDATORS = (
    (
        ("save_checkpoint_steps", "save_checkpoint_secs"),
        lambda v: (
            v["save_checkpoint_steps"] is None
            or v["save_checkpoint_secs"] is None
        ),
        (
            "--save_checkpoint_steps and --save_checkpoint_secs are "
            "exclusive: give one."
        ),
    ),
    (
        ("save_checkpoint_secs",),
        lambda v: (
            v["save_checkpoint_secs"] is None or v["save_checkpoint_secs"] > 0
        ),
        "--save_checkpoint_secs must be > 0.",
    ),
    (
        ("strategy", "tpu"),
        lambda v: v["tpu"] is None or v["strategy"] in ("auto", "tpu"),
        "--tpu is only used with --strategy=tpu (or auto).",
    ),
)


@dataclasses.dataclass(frozen=True)
class Defined:
    """What `define_flags` did in one `FlagValues`.

    Attributes:
      excluded: names left out (read as unset).
      reused: names the binary had defined already (its flags are used).
    """

    excluded: frozenset[str]
    reused: frozenset[str]


_defined: weakref.WeakKeyDictionary = weakref.WeakKeyDictionary()


def check_exclude(exclude: Any) -> frozenset[str]:
    """Validates `define_flags(exclude=...)`.

    Raises:
      TypeError: not an iterable of strings (a bare string is refused: it
        would be read letter by letter).
      ValueError: a name km does not define.
    """
    if isinstance(exclude, (str, bytes)) or not isinstance(exclude, Iterable):
        raise TypeError(
            _validation.invalid(
                "exclude",
                exclude,
                "an iterable of flag names, e.g. exclude=('max_steps',)",
            )
        )
    names = list(exclude)
    if not all(isinstance(name, str) for name in names):
        raise TypeError(
            _validation.invalid("exclude", exclude, "flag names (strings)")
        )
    unknown = sorted(set(names) - set(SPECS))
    if unknown:
        raise ValueError(
            _validation.invalid(
                "exclude",
                exclude,
                f"names of flags keras_monitored defines ({', '.join(SPECS)}); "
                f"{unknown} are not",
            )
        )
    return frozenset(names)


def _check_compatible(flag_values: flags.FlagValues, name: str) -> None:
    """Raises unless the binary's own `--name` can serve as km's."""
    flag = flag_values[name]
    accepts = SPECS[name].accepts
    kind = flag.flag_type()
    fits = kind in accepts
    if fits and accepts is _STRATEGY:
        fits = flag.default in STRATEGIES
    if not fits:
        article = "an" if kind[0] in "aeiou" else "a"
        raise ValueError(
            f"The program already defines --{name} as {article} {kind} flag "
            f"(default {flag.default!r}), but keras_monitored needs "
            f"{_DESCRIBED[accepts]}. Rename the program's flag, or leave "
            f"km's out: define_flags(exclude=({name!r},)) (km then treats "
            f"--{name} as unset)."
        )


def define(flag_values: flags.FlagValues, exclude: frozenset[str]) -> Defined:
    """Defines km's flags in `flag_values`, reusing compatible ones the
    program defined already (idempotent: a second call changes nothing).

    Raises:
      ValueError: an existing flag of a km name is incompatible, or a
        second call gives another `exclude`.
    """
    done = _defined.get(flag_values)
    if done is not None:
        if done.excluded != exclude:
            raise ValueError(
                "Invalid value for argument `exclude`. Received: "
                f"exclude={tuple(sorted(exclude))!r}, but define_flags was "
                "already called for these flags with "
                f"exclude={tuple(sorted(done.excluded))!r}."
            )
        return done
    wanted = [name for name in SPECS if name not in exclude]
    reused = [name for name in wanted if name in flag_values]
    for name in reused:
        _check_compatible(flag_values, name)
    for name in wanted:
        if name not in reused:
            SPECS[name].define(name, flag_values)
    ours = set(wanted) - set(reused)
    for names, check, message in _VALIDATORS:
        if ours.issuperset(names):
            flags.register_multi_flags_validator(
                list(names), check, message=message, flag_values=flag_values
            )
    done = Defined(frozenset(exclude), frozenset(reused))
    _defined[flag_values] = done
    return done


def value(flag_values: flags.FlagValues, name: str) -> Any:
    """The value of km's flag `name`; None when it was excluded.

    Raises:
      ValueError: `define_flags` was not called for `flag_values`.
    """
    done = _defined.get(flag_values)
    if done is None:
        raise ValueError(
            f"Invalid value for argument `flag_values`. Received: "
            f"flag_values={flag_values!r}: keras_monitored's flags are not "
            "defined there. Call km_flags.define_flags(flag_values) before "
            "parsing."
        )
    if name in done.excluded:
        return None
    return getattr(flag_values, name)
