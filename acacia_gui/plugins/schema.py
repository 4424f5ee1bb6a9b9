"""Payload validation against the JSON schema a handler declares (the JobQueue's payload_validator).

The core stays standard-library only, so the queue is handed `validate_payload` from here.
Schemas are checked once (at plugin load, through `check_schema`) and their compiled
validators are cached, because `validate_payload` runs on every enqueue.

The validator class follows the schema's `$schema` (Draft 2020-12 when it names none).
Formats are asserted: the standard ones jsonschema knows, plus `"path"` (a non-empty
string without NUL), which the window also uses to offer a file chooser.
"""

from __future__ import annotations

import json
import threading
from typing import Any

from jsonschema import Draft202012Validator, FormatChecker
from jsonschema.exceptions import SchemaError, ValidationError, best_match
from jsonschema.validators import validator_for

from ..core.errors import InvalidOptionError, InvalidPayloadError
from ..core.registry import RegisteredHandler

MAX_MESSAGE = 300
FORMAT_CHECKER = FormatChecker()


@FORMAT_CHECKER.checks("path")
def _is_path(value: object) -> bool:
    """A file-system path: any non-empty string without NUL (formats only apply to strings)."""
    return not isinstance(value, str) or (value != "" and "\0" not in value)


def check_schema(schema: Any, *, job_type: str = "") -> None:
    """Raise InvalidOptionError (one line) unless `schema` is a valid, JSON-serialisable schema."""
    where = f"the payload schema of {job_type!r}" if job_type else "the payload schema"
    if not isinstance(schema, dict | bool):
        raise InvalidOptionError(f"{where} must be a JSON schema object (a dict), got {type(schema).__name__}")
    try:
        json.dumps(schema, allow_nan=False)
    except (TypeError, ValueError) as exc:
        raise InvalidOptionError(f"{where} is not JSON: {exc}") from None
    cls = validator_for(schema, default=Draft202012Validator)
    try:
        cls.check_schema(schema)
    except SchemaError as exc:
        raise InvalidOptionError(f"{where} is not a valid JSON schema: {_describe(exc, 'schema')}") from None


class _ValidatorCache:
    """Compiled validators by schema identity; thread-safe (enqueue runs on any thread)."""

    def __init__(self, limit: int = 256) -> None:
        self._lock = threading.Lock()
        self._limit = limit
        self._entries: dict[int, tuple[Any, Any]] = {}  # id(schema) → (schema, validator)

    def get(self, schema: Any, job_type: str) -> Any:
        with self._lock:
            entry = self._entries.get(id(schema))
        if entry is not None and entry[0] is schema:
            return entry[1]
        try:
            check_schema(schema, job_type=job_type)
        except InvalidOptionError as exc:
            raise InvalidPayloadError(f"cannot check the payload: {exc}") from None
        cls = validator_for(schema, default=Draft202012Validator)
        validator = cls(schema, format_checker=FORMAT_CHECKER)
        with self._lock:
            if len(self._entries) >= self._limit:
                self._entries.clear()
            self._entries[id(schema)] = (schema, validator)  # holding `schema` keeps its id unique
        return validator


_CACHE = _ValidatorCache()


def validate_payload(handler: RegisteredHandler, payload: Any) -> None:
    """Raise InvalidPayloadError ("payload.width: -3 is less than the minimum of 1") on a bad payload.

    A handler without a schema accepts any JSON payload. A handler whose schema is itself
    invalid refuses every payload with a message saying so.
    """
    if handler.schema is None:
        return
    validator = _CACHE.get(handler.schema, handler.job_type)
    error = best_match(validator.iter_errors(payload))
    if error is not None:
        raise InvalidPayloadError(f"invalid payload for {handler.job_type!r}: {_describe(error, 'payload')}")


def payload_errors(schema: Any, payload: Any, *, job_type: str = "") -> list[tuple[tuple[str | int, ...], str]]:
    """Every problem with `payload`, as (where, message), in the words `validate_payload` uses.

    `where` is the path inside the payload; a missing required property is reported at the
    property itself (("path",), "'path' is a required property"), so a form can show it next
    to that field. Raises InvalidPayloadError if the schema itself is invalid.
    """
    if schema is None:
        return []
    validator = _CACHE.get(schema, job_type)
    found = []
    for error in validator.iter_errors(payload):
        where = tuple(error.absolute_path)
        if error.validator == "required" and isinstance(error.instance, dict):
            missing = [p for p in error.validator_value if p not in error.instance and repr(p) in error.message]
            where += tuple(missing[:1])
        found.append((where, " ".join(str(error.message).split())[:MAX_MESSAGE]))
    return sorted(found, key=lambda item: [str(part) for part in item[0]])


def describe_where(where: tuple[str | int, ...], message: str, root: str = "payload") -> str:
    """'payload.items[2].width: message', like the queue's own errors."""
    for part in where:
        root += f"[{part}]" if isinstance(part, int) else f".{part}"
    return f"{root}: {message}"


def _describe(error: ValidationError | SchemaError, root: str) -> str:
    """'payload.items[2].width: <jsonschema message>', shortened to one readable line."""
    where = root
    for part in error.absolute_path:
        where += f"[{part}]" if isinstance(part, int) else f".{part}"
    message = " ".join(str(error.message).split())
    if len(message) > MAX_MESSAGE:
        message = message[: MAX_MESSAGE - 1] + "…"
    return f"{where}: {message}"
