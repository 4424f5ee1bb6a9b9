"""Registry: job type → handler, with the options a handler declares."""

from __future__ import annotations

import os
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

from .context import Context
from .errors import DuplicateHandlerError, InvalidOptionError
from .job import Job, validate_job_type, validate_max_attempts, validate_queue_name, validate_timeout
from .limits import (
    DEFAULT_CANCEL_GRACE,
    DEFAULT_MAX_INTERRUPTIONS,
    parse_log_limit,
    parse_memory_limit,
    validate_cancel_grace,
    validate_cpu_time_limit,
    validate_max_interruptions,
    validate_nice,
)
from .rates import Rate, TypeLimit, TypeLimits, parse_rate, validate_max_running
from .stalls import validate_stall_after

ON_INTERRUPT_CHOICES = ("retry", "fail")
ISOLATION_CHOICES = ("process", "thread")
INTERNAL_FIELDS = ("job_type", "func", "origin")  # set by the registry and the loader, not by @handler options


@dataclass(frozen=True)
class RegisteredHandler:
    """A handler and what it declared: where its jobs go and how they are run."""

    job_type: str
    func: Callable[[Context, Job], Any]
    title: str = ""
    description: str = ""
    queue: str = "default"
    timeout: float | None = None
    max_attempts: int = 1
    schema: dict[str, Any] | None = None
    on_interrupt: str = "retry"
    retry_backoff: float = 2.0
    plugin: str = ""
    extra: dict[str, Any] = field(default_factory=dict)
    # How it runs: in a supervised worker process (the default) or on a thread of the app.
    isolation: str = "process"
    cancel_grace: float = DEFAULT_CANCEL_GRACE
    memory_limit: int | None = None  # bytes
    log_limit: int | None = None  # bytes of log text stored per run; None: DEFAULT_LOG_LIMIT
    cpu_time_limit: float | None = None
    nice: int | None = None
    max_interruptions: int = DEFAULT_MAX_INTERRUPTIONS
    rate_limit: Rate | None = None  # starts of this type over every queue and instance ("10/min")
    max_running: int | None = None  # jobs of this type running at once over every queue and instance
    stall_after: float | None = None  # seconds without progress or a log line before a run is flagged stalled
    # Where a worker process finds this handler again: "file:<path>" (a folder plugin),
    # "entry point:<name>=<value>", "module:<module>:<qualname>", or "" (not importable).
    origin: str = ""

    def handle(self, ctx: Context, job: Job) -> Any:
        return self.func(ctx, job)

    @property
    def runs_in(self) -> str:
        """Where its jobs run: 'process' (a supervised worker process) or 'thread' (inside the
        app): a handler that asked for a process but cannot be imported again by one (a
        lambda, a closure) runs on a thread, and so does every handler where processes are
        not supported (Windows)."""
        if self.isolation == "process" and self.origin and os.name == "posix":
            return "process"
        return "thread"

    def isolation_note(self) -> str:
        """Why a handler that asked for a worker process runs on a thread ('' otherwise)."""
        if self.isolation != "process" or self.runs_in == "process":
            return ""
        if os.name != "posix":
            return "worker processes are not supported on this system"
        return "a worker process cannot import it again (a lambda or a nested function)"

    def describe(self) -> dict[str, Any]:
        """JSON-ready metadata for the socket, the CLI and the window."""
        return {
            "type": self.job_type,
            "title": self.title or self.job_type,
            "description": self.description,
            "queue": self.queue,
            "timeout": self.timeout,
            "max_attempts": self.max_attempts,
            "schema": self.schema,
            "on_interrupt": self.on_interrupt,
            "plugin": self.plugin,
            "isolation": self.runs_in,
            "isolation_note": self.isolation_note(),
            "cancel_grace": self.cancel_grace,
            "memory_limit": self.memory_limit,
            "log_limit": self.log_limit,
            "cpu_time_limit": self.cpu_time_limit,
            "nice": self.nice,
            "max_interruptions": self.max_interruptions,
            "rate_limit": str(self.rate_limit) if self.rate_limit else None,
            "max_running": self.max_running,
            "stall_after": self.stall_after,
        }


def make_registered_handler(job_type: str, handler: Any, **options: Any) -> RegisteredHandler:
    """Check a handler and its options; raise InvalidJobTypeError/InvalidOptionError."""
    validate_job_type(job_type)
    if isinstance(handler, RegisteredHandler):
        func = handler.func
    elif callable(getattr(handler, "handle", None)):
        func = handler.handle
    elif callable(handler):
        func = handler
    else:
        raise InvalidOptionError(f"handler for {job_type!r} must be callable as (ctx, job) or have .handle(ctx, job)")
    unknown = set(options) - {f for f in RegisteredHandler.__dataclass_fields__ if f not in INTERNAL_FIELDS}
    if unknown:
        raise InvalidOptionError(f"unknown handler option(s) for {job_type!r}: {', '.join(sorted(unknown))}")
    if "queue" in options:
        validate_queue_name(options["queue"])
    if options.get("timeout") is not None:
        validate_timeout(options["timeout"])
    if "max_attempts" in options:
        validate_max_attempts(options["max_attempts"])
    if options.get("on_interrupt", "retry") not in ON_INTERRUPT_CHOICES:
        raise InvalidOptionError(f"on_interrupt must be 'retry' or 'fail', got {options['on_interrupt']!r}")
    schema = options.get("schema")
    if schema is not None and not isinstance(schema, dict):
        raise InvalidOptionError(f"schema for {job_type!r} must be a JSON schema object (a dict)")
    backoff = options.get("retry_backoff", 2.0)
    if isinstance(backoff, bool) or not isinstance(backoff, int | float) or backoff < 0:
        raise InvalidOptionError(f"retry_backoff must be a number of seconds >= 0, got {backoff!r}")
    if options.get("isolation", "process") not in ISOLATION_CHOICES:
        raise InvalidOptionError(f"isolation must be 'process' or 'thread', got {options['isolation']!r}")
    if "cancel_grace" in options:
        options["cancel_grace"] = validate_cancel_grace(options["cancel_grace"])
        if options["cancel_grace"] is None:
            options["cancel_grace"] = DEFAULT_CANCEL_GRACE
    options["memory_limit"] = parse_memory_limit(options.get("memory_limit"))
    options["log_limit"] = parse_log_limit(options.get("log_limit"))
    options["cpu_time_limit"] = validate_cpu_time_limit(options.get("cpu_time_limit"))
    options["nice"] = validate_nice(options.get("nice"))
    if "max_interruptions" in options:
        validate_max_interruptions(options["max_interruptions"])
    if options.get("rate_limit") is not None:
        options["rate_limit"] = parse_rate(options["rate_limit"])
    options["max_running"] = validate_max_running(options.get("max_running"))
    options["stall_after"] = validate_stall_after(options.get("stall_after"))
    return RegisteredHandler(job_type=job_type, func=func, origin=function_origin(func), **options)


def function_origin(func: Any) -> str:
    """'module:<module>:<qualname>' when a fresh process can import `func` by name, else ''.
    Folder plugins get a 'file:' origin from the loader instead (they are not on sys.path)."""
    module = getattr(func, "__module__", None)
    qualname = getattr(func, "__qualname__", None)
    if not isinstance(module, str) or not isinstance(qualname, str) or "<" in qualname or module == "__main__":
        return ""
    if module.startswith("acacia_plugins"):
        return ""
    return f"module:{module}:{qualname}"


class Registry:
    """The HandlerRegistry: thread-safe, so plugins may be reloaded while jobs run."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._handlers: dict[str, RegisteredHandler] = {}
        self.version = 0  # bumped by every change: lets callers cache what they derive from the handlers
        self._not_repeatable: tuple[int, list[str]] = (-1, [])
        self._type_limits: tuple[int, TypeLimits] = (-1, {})

    def register_handler(self, job_type: str, handler: Any, **options: Any) -> RegisteredHandler:
        entry = make_registered_handler(job_type, handler, **options)
        with self._lock:
            existing = self._handlers.get(job_type)
            if existing is not None:
                where = f" (already registered by {existing.plugin})" if existing.plugin else ""
                raise DuplicateHandlerError(f"a handler for job type {job_type!r} is already registered{where}")
            self._handlers[job_type] = entry
            self.version += 1
        return entry

    def unregister_handler(self, job_type: str) -> None:
        with self._lock:
            if self._handlers.pop(job_type, None) is not None:
                self.version += 1

    def get_handler(self, job_type: str) -> RegisteredHandler | None:
        with self._lock:
            return self._handlers.get(job_type)

    def replace_all(self, handlers: dict[str, RegisteredHandler]) -> None:
        """Swap in a freshly loaded set (plugin reload); running jobs keep their handler."""
        with self._lock:
            self._handlers = dict(handlers)
            self.version += 1

    def not_repeatable_types(self) -> list[str]:
        """Job types whose handler declared on_interrupt='fail' (not safe to run again after a
        crash). Cached until the handlers change: the worker asks on every claim."""
        with self._lock:
            version, types = self._not_repeatable
            if version != self.version:
                types = [h.job_type for h in self._handlers.values() if h.on_interrupt == "fail"]
                self._not_repeatable = (self.version, types)
            return types

    def type_limits(self) -> TypeLimits:
        """The job types with a rate_limit or max_running, for the claim. Cached until the
        handlers change (asked on every claim)."""
        with self._lock:
            version, limits = self._type_limits
            if version != self.version:
                limits = {h.job_type: TypeLimit(h.max_running, h.rate_limit) for h in self._handlers.values()
                          if h.max_running is not None or h.rate_limit is not None}  # fmt: skip
                self._type_limits = (self.version, limits)
            return limits

    def job_types(self) -> list[str]:
        with self._lock:
            return sorted(self._handlers)

    def __iter__(self) -> Iterator[RegisteredHandler]:
        with self._lock:
            return iter(sorted(self._handlers.values(), key=lambda h: h.job_type))

    def __len__(self) -> int:
        with self._lock:
            return len(self._handlers)
