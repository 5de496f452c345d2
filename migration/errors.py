"""The errors km-migrate reports as a bad command line or unusable input."""

from __future__ import annotations


class UsageError(Exception):
    """A command line or input km-migrate cannot work with (exit code 2).

    The message names the argument and the value, and says what was expected.
    """


class ParseError(ValueError):
    """Source text that does not parse as Python.

    Attributes:
      line: 1-based line of the error.
      column: 0-based column of the error.
    """

    def __init__(self, message: str, line: int, column: int):
        super().__init__(message)
        self.line = line
        self.column = column
