"""One exception tree for everything Acacia raises on purpose.

Messages say what is wrong and, where there is one, what to do about it.
"""

from __future__ import annotations


class AcaciaError(Exception):
    """Base of every error Acacia raises deliberately."""

    code = "error"


class InvalidJobError(AcaciaError, ValueError):
    """A job (or its options) cannot be accepted; nothing was written."""

    code = "invalid_job"


class InvalidJobTypeError(InvalidJobError):
    code = "invalid_type"


class InvalidPayloadError(InvalidJobError):
    code = "invalid_payload"


class InvalidOptionError(InvalidJobError):
    """A bad queue name, priority, delay, timeout or max_attempts."""

    code = "invalid_option"


class UnknownJobTypeError(InvalidJobError):
    code = "unknown_type"


class DuplicateHandlerError(AcaciaError):
    code = "duplicate_handler"


class JobNotFoundError(AcaciaError, LookupError):
    code = "not_found"


class ScheduleNotFoundError(AcaciaError, LookupError):
    """No schedule has that name (core/schedules.py)."""

    code = "not_found"


class InvalidTransitionError(AcaciaError):
    """The job is not in a state that allows the requested action (e.g. retry a running job)."""

    code = "invalid_state"


class UniqueKeyTakenError(AcaciaError):
    """An enqueue with on_conflict `reject` (or `replace`, once the holder started) met a job
    that is not final holding its unique key. details["id"]: that job."""

    code = "unique_key_taken"

    def __init__(self, message: str, existing_id: int | None = None) -> None:
        super().__init__(message)
        if existing_id is not None:
            self.details = {"id": existing_id}


class StoreError(AcaciaError):
    """The database refused a write (disk full, read-only, locked too long)."""

    code = "store_error"


class CorruptDatabaseError(StoreError):
    """The database file is damaged (SQLITE_CORRUPT, SQLITE_NOTADB): retrying cannot help.
    The fix is `acacia db recover OUT` (docs/protocol.md, "Limits")."""

    code = "corrupt_database"


class PluginError(AcaciaError):
    code = "plugin_error"


class Retry(AcaciaError):
    """Raise from a handler to run the job again later, after `delay` seconds.

    Counts as an attempt; when attempts are used up the job fails.
    """

    code = "retry"

    def __init__(self, delay: float | None = None, message: str = "") -> None:
        super().__init__(message or (f"retry requested in {delay} s" if delay is not None else "retry requested"))
        if delay is not None and (delay != delay or delay < 0):
            raise InvalidOptionError(f"Retry delay must be a number >= 0, got {delay!r}")
        self.delay = delay


class Cancelled(AcaciaError):
    """The job's context was cancelled; raise (or let ctx.check() raise) to stop."""

    code = "cancelled"


class DeadlineExceeded(Cancelled):
    """The job's context passed its deadline (its timeout)."""

    code = "deadline_exceeded"


class Shutdown(Cancelled):
    """Cancellation cause used when the worker stops: the job goes back to the queue."""

    code = "shutdown"
