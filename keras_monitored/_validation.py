"""Argument checks whose errors name the argument, the value and what fits."""

from __future__ import annotations

import numbers
from typing import Any


def _received(name: str, value: Any) -> str:
    return f"Received: {name}={value!r}"


def invalid(name: str, value: Any, expected: str) -> str:
    """The message for a bad argument value: "Invalid value for argument
    `x`. Received: x=... Expected ..."."""
    return f"Invalid value for argument `{name}`. {_received(name, value)}. Expected {expected}."


def tf1_message(message: str, hint: str = "", **received: Any) -> str:
    """The message for an argument error TF1 also raised: TF1's own words
    first (code that matches them keeps working), then the arguments and
    values received, then what km adds (`hint`)."""
    values = ", ".join(f"{name}={value!r}" for name, value in received.items())
    text = f"{message} Received: {values}."
    return f"{text} {hint}" if hint else text


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def check_int(
    name: str,
    value: Any,
    *,
    minimum: int | None = None,
    allow_none: bool = False,
) -> int | None:
    """Checks an integer argument (TypeError for a non-int, ValueError below `minimum`)."""
    if value is None and allow_none:
        return None
    if not _is_int(value):
        raise TypeError(
            invalid(
                name, value, "an integer" + (" or None" if allow_none else "")
            )
        )
    if minimum is not None and value < minimum:
        raise ValueError(invalid(name, value, f"an integer >= {minimum}"))
    return int(value)


def check_number(
    name: str,
    value: Any,
    *,
    minimum: float | None = None,
    strictly_positive: bool = False,
    allow_none: bool = False,
) -> float | None:
    """Checks a real-number argument."""
    if value is None and allow_none:
        return None
    if not _is_number(value):
        raise TypeError(
            invalid(
                name, value, "a number" + (" or None" if allow_none else "")
            )
        )
    if strictly_positive and not value > 0:
        raise ValueError(invalid(name, value, "a number > 0"))
    if minimum is not None and value < minimum:
        raise ValueError(invalid(name, value, f"a number >= {minimum}"))
    return value


def check_optional_str(name: str, value: Any) -> str | None:
    """Checks an optional path-like string argument."""
    if value is None:
        return None
    if hasattr(value, "__fspath__"):
        value = value.__fspath__()
    if not isinstance(value, str):
        raise TypeError(invalid(name, value, "a string or None"))
    if not value:
        raise ValueError(invalid(name, value, "a non-empty string or None"))
    return value


def check_optional_dir(name: str, value: Any) -> str | None:
    """Checks an optional directory argument; '' means unset, as in TF1."""
    if value == "":
        return None
    return check_optional_str(name, value)


def check_bool(name: str, value: Any) -> bool:
    """Checks a boolean argument."""
    if not isinstance(value, bool):
        raise TypeError(invalid(name, value, "True or False"))
    return value


def check_callable(name: str, value: Any, *, allow_none: bool = True) -> Any:
    """Checks a callable argument."""
    if value is None and allow_none:
        return None
    if not callable(value):
        raise TypeError(
            invalid(
                name, value, "a callable" + (" or None" if allow_none else "")
            )
        )
    return value
