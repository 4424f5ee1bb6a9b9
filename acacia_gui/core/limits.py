"""Resource limits a handler (or one job) may set: parsing and checking, shared by every layer.

`memory_limit` takes bytes or a size such as "512MB", "1.5GiB" (kB/MB/GB are powers of
1000, KiB/MiB/GiB of 1024, as `ls` and `df -H` read them); `cpu_time_limit` seconds of
CPU; `nice` 0-19; `cancel_grace` the seconds a cancelled handler gets before its worker
process is killed; `log_limit` bytes of log text stored per run (default 1 MiB).
"""

from __future__ import annotations

import math
import re

from .errors import InvalidOptionError

MIN_MEMORY_LIMIT = 16 * 1024 * 1024  # below this a Python process cannot even start its handler
MAX_MEMORY_LIMIT = 1 << 50  # 1 PiB: a typo guard, not a real bound
MAX_CPU_TIME_LIMIT = 365 * 86400.0
MAX_CANCEL_GRACE = 3600.0
DEFAULT_CANCEL_GRACE = 5.0
NICE_RANGE = (0, 19)
DEFAULT_MAX_INTERRUPTIONS = 3
MAX_INTERRUPTIONS = 1000
MIN_LOG_LIMIT = 1000  # log_limit: a few lines at least
MAX_LOG_LIMIT = 1024**3

_UNITS = {"": 1, "b": 1, "k": 1000, "kb": 1000, "m": 1000**2, "mb": 1000**2, "g": 1000**3, "gb": 1000**3,
          "t": 1000**4, "tb": 1000**4, "kib": 1024, "mib": 1024**2, "gib": 1024**3, "tib": 1024**4}  # fmt: skip
_SIZE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*([a-zA-Z]*)\s*$")


def parse_memory_limit(value: object) -> int | None:
    """Bytes from an int or a size string; None stays None. Raises InvalidOptionError."""
    size = _parse_size("memory_limit", value, "512MB")
    if size is not None and not MIN_MEMORY_LIMIT <= size <= MAX_MEMORY_LIMIT:
        raise InvalidOptionError(f"memory_limit must be between 16 MiB and 1 PiB, got {format_bytes(size)}")
    return size


def parse_log_limit(value: object) -> int | None:
    """`log_limit`: bytes of log text stored per run of a job (head and tail kept, a gap
    marked), from an int or a size string such as "2MB"; None means the default (1 MiB)."""
    size = _parse_size("log_limit", value, "2MB")
    if size is not None and not MIN_LOG_LIMIT <= size <= MAX_LOG_LIMIT:
        raise InvalidOptionError(f"log_limit must be between 1 kB and 1 GiB, got {format_bytes(size)}")
    return size


def _parse_size(name: str, value: object, example: str) -> int | None:
    if value is None:
        return None
    if isinstance(value, bool):
        raise InvalidOptionError(f"{name} must be bytes or a size such as '{example}', got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        return int(value)
    if isinstance(value, str) and (match := _SIZE.match(value)) and match.group(2).lower() in _UNITS:
        return int(float(match.group(1)) * _UNITS[match.group(2).lower()])
    shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
    raise InvalidOptionError(f"{name} must be bytes or a size such as '{example}' or '2GiB', got {shown}")


def format_bytes(size: int) -> str:
    """512 MB, 1.5 GB: what the user most likely typed (powers of 1000), for messages."""
    for unit, factor in (("TB", 1000**4), ("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if abs(size) >= factor:
            return f"{size / factor:.3g} {unit}"
    return f"{size} bytes"


def _seconds(name: str, value: object, low: float, high: float, *, allow_zero: bool) -> float | None:
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or (isinstance(value, float) and math.isnan(value)):
        raise InvalidOptionError(f"{name} must be a number of seconds, got {value!r}")
    if value < low or value > high or (not allow_zero and value == 0):
        top = f"{high:,.0f}" if float(high).is_integer() else f"{high:g}"
        bound = f"more than 0 and at most {top}" if not allow_zero else f"between {low:g} and {top}"
        shown = repr(value) if len(repr(value)) <= 40 else repr(value)[:37] + "..."
        raise InvalidOptionError(f"{name} must be {bound} seconds, got {shown}")
    return float(value)


def validate_cpu_time_limit(value: object) -> float | None:
    return _seconds("cpu_time_limit", value, 0, MAX_CPU_TIME_LIMIT, allow_zero=False)


def validate_cancel_grace(value: object) -> float | None:
    return _seconds("cancel_grace", value, 0, MAX_CANCEL_GRACE, allow_zero=True)


def validate_nice(value: object) -> int | None:
    if value is None:
        return None
    low, high = NICE_RANGE
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise InvalidOptionError(f"nice must be a whole number from {low} (normal) to {high} (lowest priority), got {value!r}")
    return value


def validate_max_interruptions(value: object) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 1 <= value <= MAX_INTERRUPTIONS:
        raise InvalidOptionError(f"max_interruptions must be a whole number from 1 to {MAX_INTERRUPTIONS}, got {value!r}")
    return value
