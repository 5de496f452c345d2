"""`--map REGEX=REPLACEMENT`: rules that rename TF1 names before matching."""

from __future__ import annotations

import dataclasses
import re

from migration.checkpoint._errors import bad_argument


@dataclasses.dataclass(frozen=True)
class MapRule:
    """A `--map REGEX=REPLACEMENT` rule."""

    text: str
    pattern: re.Pattern
    replacement: str

    @classmethod
    def parse(cls, text: str) -> MapRule:
        """Parses `REGEX=REPLACEMENT` (split at the first `=`).

        Raises:
          UsageError: no `=`, an empty or invalid regex, or a replacement
            that refers to a group the regex does not have.
        """
        expected = "REGEX=REPLACEMENT, e.g. --map '^w1$=dense/kernel'"
        regex, sep, replacement = text.partition("=")
        if not sep or not regex:
            raise bad_argument(
                "--map", text, "It has no `REGEX=` part.", expected
            )
        try:
            pattern = re.compile(regex)
        except re.error as error:
            raise bad_argument(
                "--map",
                text,
                f"{regex!r} is not a valid Python regular expression "
                f"({error}).",
                expected,
            ) from error
        try:
            _check_replacement(regex, replacement)
        except (re.error, IndexError) as error:
            raise bad_argument(
                "--map",
                text,
                f"The replacement {replacement!r} does not fit the regex "
                f"({error}).",
                expected,
            ) from error
        return cls(text=text, pattern=pattern, replacement=replacement)

    def apply(self, name: str) -> str:
        """`re.sub(REGEX, REPLACEMENT, name)`."""
        return self.pattern.sub(self.replacement, name)


def _check_replacement(regex: str, replacement: str) -> None:
    """Expands `replacement` once, so bad escapes and group references fail
    now rather than on the first TF1 name the regex matches."""
    try:
        # Same groups as `regex`, and it always matches the empty string.
        probe = re.compile(f"(?:{regex})|")
    except re.error:
        return  # e.g. global flags, which must stay at the start
    probe.match("").expand(replacement)
