"""Durations as people type them (30d, 12h, 90m, 45s) and the retention policy built from them.

Why here: the CLI flags, the ACACIA_KEEP_* variables, the socket's `older_than` and the
pruner must read a duration the same way and say the same thing about a bad one.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidOptionError

UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 7 * 86400}
FOREVER = "forever"
MAX_DURATION = 100 * 365 * 86400  # a century: past that, say "forever"
_PATTERN = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([smhdw])\s*$", re.IGNORECASE)


def parse_duration(text: str) -> float:
    """Seconds in `text` ("30d", "12h", "90m", "45s", "2w"); InvalidOptionError if it is not one."""
    match = _PATTERN.match(str(text))
    if not match:
        raise InvalidOptionError(f"not a duration: {text!r}; write a number and a unit, like 30d, 12h, 90m or 45s")
    seconds = float(match.group(1)) * UNITS[match.group(2).lower()]
    if seconds <= 0:
        raise InvalidOptionError(f"a duration must be more than zero, got {text!r}")
    if seconds > MAX_DURATION:
        raise InvalidOptionError(f"duration {text!r} is too long (at most 100 years); use 'forever' to keep jobs")
    return seconds


def parse_keep(text: str) -> float | None:
    """A retention period: a duration in seconds, or None for "forever"."""
    if str(text).strip().lower() == FOREVER:
        return None
    return parse_duration(text)


def format_duration(seconds: float | None) -> str:
    """The shortest exact spelling ("30d", "90m"), or "forever" for None."""
    if seconds is None:
        return FOREVER
    for unit in ("w", "d", "h", "m"):
        if seconds >= UNITS[unit] and seconds % UNITS[unit] == 0:
            return f"{int(seconds // UNITS[unit])}{unit}"
    return f"{seconds:g}s"


@dataclass(frozen=True)
class RetentionPolicy:
    """How long finished jobs stay: succeeded/cancelled for `keep_finished` seconds, failed/
    interrupted for `keep_failed` seconds; None keeps them until the user deletes them."""

    keep_finished: float | None = None
    keep_failed: float | None = None

    @property
    def active(self) -> bool:
        return self.keep_finished is not None or self.keep_failed is not None

    def describe(self) -> str:
        return (f"finished jobs kept {format_duration(self.keep_finished)}, "
                f"failed ones {format_duration(self.keep_failed)}")  # fmt: skip
