"""Checked access to a request's params: wrong types and unknown fields become clear errors.

Anything on the socket may send anything, so each op reads its fields through a Params,
which names the op and the field in every message, and refuses fields it did not read
(a typo such as "max_attempt" must not be silently ignored).
"""

from __future__ import annotations

import math
from collections.abc import Iterable
from typing import Any

from .protocol import MAX_ERROR_MESSAGE, InvalidParamsError

MAX_ID = 2**63 - 1
_MISSING = object()


def _show(value: Any) -> str:
    text = repr(value)
    return text if len(text) <= 80 else text[:77] + "..."


class Params:
    """A request's params for one op. Call `done()` after reading every field."""

    def __init__(self, op: str, params: dict[str, Any]) -> None:
        self.op = op
        self._params = params
        self._read: set[str] = set()

    def __contains__(self, name: str) -> bool:
        return name in self._params

    def error(self, message: str) -> InvalidParamsError:
        return InvalidParamsError(f"{self.op}: {message}"[:MAX_ERROR_MESSAGE])

    def raw(self, name: str, default: Any = _MISSING) -> Any:
        self._read.add(name)
        if name in self._params:
            return self._params[name]
        if default is _MISSING:
            raise self.error(f'missing field "{name}"')
        return default

    def integer(self, name: str, default: Any = _MISSING, *, low: int = -MAX_ID, high: int = MAX_ID,
                nullable: bool = False) -> Any:  # fmt: skip
        value = self.raw(name, default)
        if value is None and (nullable or default is None):
            return None
        if isinstance(value, bool) or not isinstance(value, int):
            raise self.error(f'"{name}" must be a whole number, got {_show(value)}')
        if not low <= value <= high:
            raise self.error(f'"{name}" must be between {low} and {high}, got {_show(value)}')
        return value

    def number(self, name: str, default: Any = _MISSING) -> Any:
        value = self.raw(name, default)
        if value is None and default is None:
            return None
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
            raise self.error(f'"{name}" must be a number, got {_show(value)}')
        return value

    def string(self, name: str, default: Any = _MISSING, *, max_length: int = 1000) -> Any:
        value = self.raw(name, default)
        if value is None and default is None:
            return None
        if not isinstance(value, str):
            raise self.error(f'"{name}" must be a string, got {_show(value)}')
        if len(value) > max_length:
            raise self.error(f'"{name}" is longer than {max_length} characters')
        return value

    def boolean(self, name: str, default: Any = _MISSING) -> Any:
        value = self.raw(name, default)
        if not isinstance(value, bool):
            raise self.error(f'"{name}" must be true or false, got {_show(value)}')
        return value

    def strings(self, name: str, *, choices: frozenset[str] | None = None, max_items: int = 1000) -> list[str] | None:
        """A string or a list of strings (or absent/null → None)."""
        value = self.raw(name, None)
        if value is None:
            return None
        values = [value] if isinstance(value, str) else value
        if not isinstance(values, list) or len(values) > max_items or not all(isinstance(v, str) for v in values):
            raise self.error(f'"{name}" must be a string or a list of strings, got {_show(value)}')
        if choices is not None:
            bad = [v for v in values if v not in choices]
            if bad:
                raise self.error(f'"{name}" has unknown value {_show(bad[0])}; choose from {", ".join(sorted(choices))}')
        return values

    def job_id(self, name: str = "id") -> int:
        return self.integer(name, low=1)

    def job_ids(self, name: str = "ids", *, max_items: int = 100_000) -> list[int]:
        value = self.raw(name)
        if not isinstance(value, list) or len(value) > max_items:
            raise self.error(f'"{name}" must be a list of job ids (at most {max_items}), got {_show(value)}')
        for item in value:
            if isinstance(item, bool) or not isinstance(item, int) or not 1 <= item <= MAX_ID:
                raise self.error(f'"{name}" must hold job ids (whole numbers >= 1), got {_show(item)}')
        return value

    def refuse_unknown(self, accepted: Iterable[str]) -> None:
        """Before any field is read: refuse fields the op table does not list for this op."""
        self._refuse(set(self._params) - set(accepted), accepted)

    def done(self) -> None:
        """After reading: refuse fields this form of the op did not read (e.g. "jobs" with "type")."""
        self._refuse(set(self._params) - self._read, self._read)

    def _refuse(self, unknown: set[str], known: Iterable[str]) -> None:
        if unknown:
            names = ", ".join(sorted(str(k)[:50] for k in unknown))
            raise self.error(f"unknown field(s) {names}; this op takes: {', '.join(sorted(known)) or 'none'}")
