"""run_job(): call a handler and decide how the run ended.

It never raises: whatever the handler does (raise, return junk, sys.exit, ignore
cancellation) becomes a Completion, which the worker writes to the store. The store
applies a Completion only while that run still owns the job, so a late decision (a
handler that returns after it was abandoned) cannot clobber a newer one.
"""

from __future__ import annotations

import random
import time
import traceback as tb
from dataclasses import dataclass, replace

from .context import Context
from .definitions import MAX_RESULT_BYTES
from .errors import Cancelled, DeadlineExceeded, InvalidPayloadError, Retry, Shutdown
from .job import Job, JobId, JobState, encode_result
from .registry import RegisteredHandler

MAX_BACKOFF = 3600.0


@dataclass(frozen=True)
class Completion:
    """How a run ended; `state` is final, `scheduled` (retry later) or `queued` (shutdown)."""

    job_id: JobId
    attempt: int
    state: JobState
    result: str | None = None  # JSON text
    error: str | None = None
    traceback: str | None = None
    run_at: float | None = None
    refund_attempt: bool = False
    message: str = ""
    progress: float | None = None  # the handler's last report, so watchers see how it ended
    progress_message: str = ""


def backoff_delay(base: float, attempt: int, rng: random.Random | None = None) -> float:
    """Exponential backoff with jitter: base·2^(attempt-1), ±25 %, capped at an hour."""
    if base <= 0:
        return 0.0
    delay = min(MAX_BACKOFF, base * 2 ** max(0, attempt - 1))
    return delay * (rng or random).uniform(0.75, 1.25)


def run_job(ctx: Context, job: Job, handler: RegisteredHandler | None) -> Completion:
    """Run `job` under `ctx` (already carrying its timeout) and return the outcome."""
    completion = _run(ctx, job, handler)
    return replace(completion, progress=job.progress, progress_message=job.progress_message)


def _run(ctx: Context, job: Job, handler: RegisteredHandler | None) -> Completion:
    if handler is None:
        return _failed(job, f"no handler is registered for job type {job.type!r}; is its plugin loaded?", None)
    try:
        value = handler.handle(ctx, job)
    except Retry as exc:
        return _retry_or_fail(job, handler, str(exc), None, exc.delay)
    except BaseException as exc:  # noqa: BLE001 - a handler may raise anything, SystemExit included
        return _after_exception(ctx, job, handler, exc)
    cause = ctx.cause
    if cause is not None and not isinstance(cause, Shutdown | DeadlineExceeded):
        # The user cancelled; a handler that noticed and returned still ends cancelled.
        return Completion(job.id, job.attempts, JobState.CANCELLED, error="cancelled while running", message="cancelled")
    try:
        result = encode_result(value)
    except InvalidPayloadError as exc:
        return _failed(job, str(exc), None)
    if result is not None and len(result) > MAX_RESULT_BYTES // 4 and len(result.encode("utf-8")) > MAX_RESULT_BYTES:
        return _failed(job, result_too_large(len(result.encode("utf-8"))), None)
    return Completion(job.id, job.attempts, JobState.SUCCEEDED, result=result, message="succeeded")


def result_too_large(size: int) -> str:
    """The error of a job whose result's JSON is over MAX_RESULT_BYTES."""
    return (f"the handler returned a result of {size:,} bytes as JSON; results are limited to "
            f"{MAX_RESULT_BYTES:,} bytes (1 MiB): write the data to a file and return its path instead")


def _after_exception(ctx: Context, job: Job, handler: RegisteredHandler, exc: BaseException) -> Completion:
    trace = "".join(tb.format_exception(exc))
    cause = ctx.cause
    if isinstance(cause, Shutdown):
        return shutdown_completion(job)
    if isinstance(cause, DeadlineExceeded) or isinstance(exc, DeadlineExceeded):
        after = f" after {job.timeout:g} s" if job.timeout else ""
        return _retry_or_fail(job, handler, f"timed out{after}", trace, None)
    if cause is not None or isinstance(exc, Cancelled):
        return Completion(job.id, job.attempts, JobState.CANCELLED, error="cancelled while running", message="cancelled")
    message = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    return _retry_or_fail(job, handler, message, trace, None)


def _retry_or_fail(job: Job, handler: RegisteredHandler, error: str, trace: str | None,
                   delay: float | None) -> Completion:  # fmt: skip
    if job.attempts < job.max_attempts:
        wait = backoff_delay(handler.retry_backoff, job.attempts) if delay is None else delay
        return Completion(
            job.id, job.attempts, JobState.SCHEDULED, error=error, traceback=trace, run_at=time.time() + wait,
            message=f"attempt {job.attempts} of {job.max_attempts} failed; retrying in {wait:.1f} s",
        )  # fmt: skip
    if job.max_attempts > 1:
        error = f"{error} (after {job.attempts} attempts)"
    return _failed(job, error, trace)


def _failed(job: Job, error: str, trace: str | None) -> Completion:
    return Completion(job.id, job.attempts, JobState.FAILED, error=error, traceback=trace, message="failed")


def failure_completion(job: Job, handler: RegisteredHandler | None, error: str, trace: str | None = None) -> Completion:
    """A run that failed outside the handler's own code (its process died, it was killed at
    its timeout): attempts count and retries apply, as for an exception."""
    if handler is None:
        return _failed(job, error, trace)
    return _retry_or_fail(job, handler, error, trace, None)


def shutdown_completion(job: Job) -> Completion:
    """The app is stopping: back to the queue, and this attempt does not count."""
    return Completion(job.id, job.attempts, JobState.QUEUED, run_at=time.time(), refund_attempt=True,
                      message="returned to the queue: the app stopped before the job finished")  # fmt: skip


def abandoned_completion(job: Job, why: str) -> Completion:
    """The handler would not stop (ignored cancellation past the grace period)."""
    return Completion(job.id, job.attempts, JobState.FAILED, error=why, message="abandoned")
