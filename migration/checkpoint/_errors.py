"""The one message form for a bad km-migrate argument."""

from __future__ import annotations

from migration.errors import UsageError


def bad_argument(
    flag: str, value: str, problem: str, expected: str | None = None
) -> UsageError:
    """A `UsageError` naming the argument, the value and what was expected.

    Args:
      flag: the argument as written on the command line (`--model`, `TF1_CKPT`).
      value: the value received.
      problem: what is wrong with it, as a sentence.
      expected: what would have worked, as a sentence fragment.

    Returns:
      The error, for the caller to raise.
    """
    if not problem.endswith((".", "?", "!")):
        problem += "."
    message = (
        f"Invalid value for argument `{flag}`. Received: {flag}={value!r}. "
        f"{problem}"
    )
    if expected:
        message += f" Expected {expected}."
    return UsageError(message)
