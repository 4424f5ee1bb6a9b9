"""Rates ("10/min", "3/2s") and the per-type limits a handler declares.

Why in core: the registry validates `rate_limit`, the CLI and the socket validate a
queue's `--rate`, the store enforces both in its claim and `why` words them; all must
read a rate the same way. Pure, stdlib only.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import InvalidOptionError

UNITS = {"s": 1.0, "sec": 1.0, "m": 60.0, "min": 60.0, "h": 3600.0, "hour": 3600.0, "d": 86400.0, "day": 86400.0}
MAX_RATE_COUNT = 1_000_000
MAX_RATE_WINDOW = 7 * 86400.0  # a week: the window of starts the store keeps counting
MAX_RUNNING_LIMIT = 10_000
_RATE = re.compile(r"^\s*(\d+)\s*/\s*(\d+(?:\.\d+)?)?\s*([a-z]+)\s*$")


@dataclass(frozen=True)
class Rate:
    """At most `count` starts in any `seconds`-long window."""

    count: int
    seconds: float

    def __str__(self) -> str:
        return format_rate(self.count, self.seconds)


def parse_rate(text: object) -> Rate:
    """'N/s', 'N/min', 'N/h', 'N/d' or 'N/<X><unit>' ('3/2s', '100/15min') → Rate.
    Raises InvalidOptionError with a one-line reason."""
    if isinstance(text, Rate):
        return text
    if not isinstance(text, str):
        raise InvalidOptionError(f"a rate is text like '10/min' or '3/2s', got {text!r}")
    match = _RATE.match(text.lower())
    if match is None or match.group(3) not in UNITS:
        raise InvalidOptionError(f"bad rate {text!r}: write N/s, N/min, N/h, N/d or N/<X>s (e.g. 10/min, 3/2s)")
    count = int(match.group(1))
    seconds = float(match.group(2) or 1) * UNITS[match.group(3)]
    if not 1 <= count <= MAX_RATE_COUNT:
        raise InvalidOptionError(f"bad rate {text!r}: the count must be 1..{MAX_RATE_COUNT}")
    if not 0 < seconds <= MAX_RATE_WINDOW:
        raise InvalidOptionError(f"bad rate {text!r}: the window must be more than 0 and at most 7 days")
    return Rate(count, seconds)


def format_rate(count: int, seconds: float) -> str:
    """The short form: 10/min, 30/h, 3/2s."""
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("min", 60.0), ("s", 1.0)):
        if seconds >= size and (seconds / size).is_integer():
            n = int(seconds / size)
            return f"{count}/{unit}" if n == 1 else f"{count}/{n}{unit}"
    return f"{count}/{seconds:g}s"


def type_scope(job_type: str) -> str:
    """The key a job type's starts are counted under (the store's rate_starts.scope)."""
    return f"type:{job_type}"


def queue_scope(queue: str) -> str:
    return f"queue:{queue}"


def validate_max_running(value: object) -> int | None:
    """A handler's `max_running`: None (no cap) or 1..MAX_RUNNING_LIMIT."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_RUNNING_LIMIT:
        raise InvalidOptionError(f"max_running must be a whole number from 1 to {MAX_RUNNING_LIMIT} (or None), got {value!r}")
    return value


@dataclass(frozen=True)
class TypeLimit:
    """What the claim must respect for one job type, across every queue and instance."""

    max_running: int | None = None
    rate: Rate | None = None


TypeLimits = dict[str, TypeLimit]
