"""Diagnostics: what the upgrader did, and what it leaves to a person.

Each is printed as `path:line:col: SEVERITY: message`, as compilers and
tf_upgrade_v2 print theirs (line and column are 1-based).
"""

from __future__ import annotations

import dataclasses

#: A change the upgrader made.
INFO = "INFO"
#: A change made (or a construct left) that a person should check.
WARNING = "WARNING"
#: A construct the upgrader could not convert: a person must edit it.
ERROR = "ERROR"

SEVERITIES = (INFO, WARNING, ERROR)
MANUAL_SUFFIX = " (manual edit required)"


@dataclasses.dataclass(frozen=True, order=True)
class Diagnostic:
    """One finding at one place of a source file.

    Attributes:
      line: 1-based line.
      column: 1-based column.
      severity: INFO, WARNING or ERROR.
      message: what was done or found, and the keras_monitored way.
      change: True if the upgrader changed the code here (every INFO, and
        the WARNINGs for changes to check).
    """

    line: int
    column: int
    severity: str
    message: str
    change: bool = dataclasses.field(default=False, compare=False)

    def __post_init__(self):
        if self.severity not in SEVERITIES:
            raise ValueError(
                f"Invalid value for argument `severity`. Received: "
                f"severity={self.severity!r}. Expected one of {SEVERITIES}."
            )

    @property
    def needs_person(self) -> bool:
        """True for a construct a person must convert."""
        return self.severity == ERROR

    def format(self, path: str = "<string>") -> str:
        """`path:line:col: SEVERITY: message`."""
        suffix = MANUAL_SUFFIX if self.needs_person else ""
        return (
            f"{path}:{self.line}:{self.column}: {self.severity}: "
            f"{self.message}{suffix}"
        )
