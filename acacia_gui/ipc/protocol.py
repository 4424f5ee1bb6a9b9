"""The wire format shared by the client and the server: UTF-8 JSON lines.

Request  {"id": string | integer | null, "op": "...", "params": {...}}
Reply    {"id": same, "ok": true, "result": ...}
         {"id": same, "ok": false, "error": {"code": "...", "message": "...", "details"?: {...}}}
Stream   {"id": same, "event": {...}}      (after a `watch` reply, one per event)
         {"id": same, "end": {...}}        (the watch is over; nothing more for that id)

Every error is an AcaciaError whose `code` travels in the reply, so the client can raise
the same exception class the server raised. Decoding is strict (no NaN/Infinity, no
invalid UTF-8, no number a double cannot hold such as 1e400, no integer of more than
4300 digits — Python's own limit; smaller out-of-range numbers are refused by each op's
range checks) because the lines come
from anyone on the machine who can reach the socket, and a bad line must be an error
reply, never a crash. docs/protocol.md is the reference for all of it.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass, field
from typing import Any

from ..core import errors as core_errors

# The limits and choices the server checks are core/definitions' (the store, the CLI's flags
# and the window check the same ones); re-exported here because the op handlers import them from here.
from ..core.definitions import MAX_LIST_LIMIT as MAX_LIST_LIMIT
from ..core.definitions import MAX_LOG_LINES as MAX_LOG_LINES
from ..core.definitions import MAX_OFFSET as MAX_OFFSET
from ..core.definitions import MAX_QUEUE_CONCURRENCY as MAX_QUEUE_CONCURRENCY
from ..core.definitions import MAX_WORKERS as MAX_WORKERS
from ..core.definitions import SORT_FIELDS as SORT_FIELDS
from ..core.errors import AcaciaError
from .ops import OPS_BY_NAME

PROTOCOL_VERSION = "1.5"  # docs/protocol.md, "Versions": what bumps the major and the minor number
MAX_ERROR_MESSAGE = 2000
MAX_REQUEST_ID = 2**63 - 1  # a whole-number request id is a signed 64-bit integer

OPS = frozenset(OPS_BY_NAME)  # the op table (ops.py) is the one list


# -- errors that only exist on the wire ---------------------------------------------------

class ProtocolError(AcaciaError):
    """A request the server cannot understand; the connection stays usable."""

    code = "bad_request"


class InvalidJsonError(ProtocolError):
    code = "invalid_json"


class LineTooLongError(ProtocolError):
    code = "line_too_long"


class UnknownOpError(ProtocolError):
    code = "unknown_op"


class InvalidParamsError(ProtocolError):
    """A field is missing, unknown or of the wrong type."""

    code = "invalid_params"


class VersionMismatchError(ProtocolError):
    code = "version_mismatch"


class AccessDeniedError(AcaciaError):
    code = "forbidden"


class ServerBusyError(AcaciaError):
    code = "busy"


class NotRunningError(AcaciaError):
    """Nobody answers on the socket: no app runs for that data directory."""

    code = "not_running"


class AlreadyRunningError(AcaciaError):
    """Another live app already serves this data directory."""

    code = "already_running"


class ConnectionLostError(AcaciaError):
    """The app closed the connection (it stopped, or dropped us) before answering."""

    code = "connection_lost"


class NoReplyError(AcaciaError):
    """The app accepted the connection but did not answer in time."""

    code = "timeout"


class ServerError(AcaciaError):
    """The socket server could not start (permissions, path, platform)."""

    code = "server_error"


class InternalError(AcaciaError):
    code = "internal_error"


class RemoteError(AcaciaError):
    """An error reply whose code this client does not know (a newer server)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


_ERROR_CLASSES: dict[str, type[AcaciaError]] = {}
for _cls in (
    core_errors.InvalidJobError, core_errors.InvalidJobTypeError, core_errors.InvalidPayloadError,
    core_errors.InvalidOptionError, core_errors.UnknownJobTypeError, core_errors.DuplicateHandlerError,
    core_errors.JobNotFoundError, core_errors.InvalidTransitionError, core_errors.StoreError, core_errors.PluginError,
    core_errors.UniqueKeyTakenError,
    ProtocolError, InvalidJsonError, LineTooLongError, UnknownOpError, InvalidParamsError, VersionMismatchError,
    AccessDeniedError, ServerBusyError, NotRunningError, AlreadyRunningError, ConnectionLostError, NoReplyError,
    ServerError,
    InternalError,
):  # fmt: skip
    _ERROR_CLASSES[_cls.code] = _cls


def error_details(exc: BaseException) -> dict[str, Any] | None:
    details = getattr(exc, "details", None)
    return details if isinstance(details, dict) else None


def with_details(exc: AcaciaError, message: str, **details: Any) -> AcaciaError:
    """A copy of `exc` (same class and code) with a new message and machine-readable details."""
    try:
        new = type(exc)(message)
    except TypeError:
        new = RemoteError(exc.code, message)
    new.code = exc.code
    new.details = details  # type: ignore[attr-defined]
    return new


def error_from_reply(error: Any) -> AcaciaError:
    """Rebuild the server's exception from an error object (unknown codes → RemoteError)."""
    if not isinstance(error, dict):
        return ProtocolError(f"malformed error reply from the app: {error!r}"[:MAX_ERROR_MESSAGE])
    code = str(error.get("code") or "error")
    message = str(error.get("message") or code)
    cls = _ERROR_CLASSES.get(code)
    exc: AcaciaError = cls(message) if cls is not None else RemoteError(code, message)
    details = error.get("details")
    if isinstance(details, dict):
        exc.details = details  # type: ignore[attr-defined]
    return exc


# -- requests and replies -----------------------------------------------------------------

@dataclass
class Request:
    id: Any
    op: str
    params: dict[str, Any] = field(default_factory=dict)


class BadRequest(Exception):
    """Carries the error to answer and the request id (when the line got that far)."""

    def __init__(self, error: AcaciaError, request_id: Any = None) -> None:
        super().__init__(str(error))
        self.error = error
        self.request_id = request_id


def _reject_constant(name: str) -> Any:
    raise InvalidJsonError(f"{name} is not allowed in JSON (send a number or null)")


def _finite_float(text: str) -> float:
    """A JSON number with a fraction or exponent; one a double cannot hold (1e400) is refused
    here, so an infinity never reaches an op, the store or a reply (which could not encode it)."""
    value = float(text)
    if not math.isfinite(value):
        raise InvalidJsonError(f"the number {text[:40]} is out of range (a JSON number must fit in a double)")
    return value


def decode_json(data: bytes | str) -> Any:
    """Strict JSON: UTF-8 only, no NaN/Infinity; every failure is an InvalidJsonError."""
    if isinstance(data, bytes | bytearray):
        try:
            data = bytes(data).decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidJsonError(f"the line is not valid UTF-8 (byte {exc.start})") from None
    try:
        return json.loads(data, parse_constant=_reject_constant, parse_float=_finite_float)
    except InvalidJsonError:
        raise
    except json.JSONDecodeError as exc:
        raise InvalidJsonError(f"malformed JSON: {exc.msg} at column {exc.colno}") from None
    except ValueError as exc:  # e.g. an integer with more than 4300 digits
        raise InvalidJsonError(f"malformed JSON: {exc}"[:MAX_ERROR_MESSAGE]) from None
    except RecursionError:
        raise InvalidJsonError("malformed JSON: nested too deeply") from None


def parse_request(line: bytes) -> Request:
    """One line (without its newline) → Request; raises BadRequest with the error to send."""
    try:
        message = decode_json(line)
    except InvalidJsonError as exc:
        raise BadRequest(exc) from None
    if not isinstance(message, dict):
        raise BadRequest(ProtocolError('a request must be a JSON object: {"id": …, "op": "…", "params": {…}}'))
    request_id = message.get("id")
    if not valid_request_id(request_id):
        raise BadRequest(ProtocolError(
            f'a request "id" must be a string, a whole number or null, got {_kind(request_id)}; '
            "the reply carries it back, so it must compare exactly"
        ))  # fmt: skip
    op = message.get("op")
    if not isinstance(op, str) or not op:
        raise BadRequest(ProtocolError('the request has no "op" (a string such as "hello")'), request_id)
    if op not in OPS:
        known = ", ".join(sorted(OPS))
        raise BadRequest(UnknownOpError(f"unknown op {op[:100]!r}; known ops: {known}"), request_id)
    params = message.get("params", {})
    if params is None:
        params = {}
    if not isinstance(params, dict):
        raise BadRequest(InvalidParamsError(f'"params" must be a JSON object, got {type(params).__name__}'), request_id)
    extra = set(message) - {"id", "op", "params"}
    if extra:
        names = ", ".join(sorted(str(k)[:50] for k in extra))
        raise BadRequest(ProtocolError(f"unknown request field(s): {names}; use id, op, params"), request_id)
    return Request(request_id, op, params)


def valid_request_id(request_id: Any) -> bool:
    """A string, a whole number in the signed 64-bit range, or null (absent): what comes back
    in the reply must equal what was sent in every language (no floats, bools, objects, arrays)."""
    if request_id is None or isinstance(request_id, str):
        return True
    if isinstance(request_id, bool) or not isinstance(request_id, int):
        return False
    return -MAX_REQUEST_ID - 1 <= request_id <= MAX_REQUEST_ID


def _kind(value: Any) -> str:
    names = {bool: "true/false", float: "a number with a fraction or exponent", dict: "an object", list: "an array"}
    if isinstance(value, int) and not isinstance(value, bool):
        return "a whole number outside the signed 64-bit range"
    return names.get(type(value), type(value).__name__)


def encode_message(message: dict[str, Any]) -> bytes:
    """A dict → one JSON line. ASCII-escaped so any string (even a lone surrogate) is safe."""
    return json.dumps(message, ensure_ascii=True, allow_nan=False, separators=(",", ":")).encode("ascii") + b"\n"


def request_message(request_id: Any, op: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
    return {"id": request_id, "op": op, "params": params or {}}


def ok_reply(request_id: Any, result: Any) -> dict[str, Any]:
    return {"id": request_id, "ok": True, "result": result}


def error_object(exc: BaseException) -> dict[str, Any]:
    """The wire form of an error: {"code", "message", "details"?} (in a reply, or per id)."""
    code = getattr(exc, "code", None) if isinstance(exc, AcaciaError) else "internal_error"
    message = " ".join(str(exc).split()) or type(exc).__name__
    error: dict[str, Any] = {"code": code or "error", "message": message[:MAX_ERROR_MESSAGE]}
    details = error_details(exc)
    if details:
        error["details"] = details
    return error


def error_reply(request_id: Any, exc: BaseException) -> dict[str, Any]:
    return {"id": request_id, "ok": False, "error": error_object(exc)}


def event_message(request_id: Any, event: dict[str, Any]) -> dict[str, Any]:
    return {"id": request_id, "event": event}


def end_message(request_id: Any, info: dict[str, Any]) -> dict[str, Any]:
    return {"id": request_id, "end": info}


# -- versions -----------------------------------------------------------------------------

def parse_version(version: Any) -> tuple[int, int]:
    """'1.0' → (1, 0); raises InvalidParamsError on anything else."""
    if isinstance(version, str):
        parts = version.split(".")
        if len(parts) == 2 and all(p.isdigit() and len(p) <= 6 for p in parts):
            return int(parts[0]), int(parts[1])
    raise InvalidParamsError(f'protocol version must be a string like "1.0", got {version!r}'[:MAX_ERROR_MESSAGE])


def check_client_version(version: Any) -> None:
    """The server's side of hello: same major version or a clear error naming the fix."""
    major, _ = parse_version(version)
    ours, _ = parse_version(PROTOCOL_VERSION)
    if major > ours:
        raise VersionMismatchError(
            f"this client speaks protocol {version} but the running Acacia speaks {PROTOCOL_VERSION}; "
            "upgrade the running Acacia (or use an older client)"
        )
    if major < ours:
        raise VersionMismatchError(
            f"this client speaks protocol {version} but the running Acacia speaks {PROTOCOL_VERSION}; upgrade the client"
        )


def check_server_version(version: Any) -> None:
    """The client's side of hello: refuse a server with another major version."""
    try:
        major, _ = parse_version(version)
    except InvalidParamsError:
        raise VersionMismatchError(f"the running Acacia sent an unreadable protocol version {version!r}") from None
    ours, _ = parse_version(PROTOCOL_VERSION)
    if major != ours:
        fix = "upgrade this client" if major > ours else "upgrade the running Acacia"
        raise VersionMismatchError(
            f"the running Acacia speaks protocol {version}, this client speaks {PROTOCOL_VERSION}; {fix}"
        )
