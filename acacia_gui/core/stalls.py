"""Stalled jobs: the handler option `stall_after`, checked in one place for every layer.

Why here: the registry validates it when a plugin is loaded (so a bad value is reported
against the plugin file), the engine reads it per run, and the socket, CLI and window
only show what the engine flagged (the store's job_stalls rows) and act on it with the
same two functions, `kill_job` and `extend_stall`.

Why through the bus: the engine that runs the job keeps its last sign of life and its
worker process; a kill or an extend is published as an event it subscribes to
(CANCEL_REQUESTED with `hard`, STALL with `extend`), so neither the dispatcher nor the
window needs a handle on the engine.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from .definitions import MAX_TIMEOUT, EventKind, JobState
from .errors import InvalidOptionError, InvalidTransitionError
from .events import JobEvent

if TYPE_CHECKING:  # the queue imports the registry, which imports this module
    from .queue import JobQueue

MIN_STALL_AFTER = 0.1  # seconds: below this the 200 ms poll could not tell silence from a slow report


def validate_stall_after(value: Any) -> float | None:
    """A handler's stall_after: None (never flagged) or seconds in [MIN_STALL_AFTER, MAX_TIMEOUT]."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int | float) or not MIN_STALL_AFTER <= value <= MAX_TIMEOUT:
        raise InvalidOptionError(
            f"stall_after must be a number of seconds from {MIN_STALL_AFTER:g} to {MAX_TIMEOUT:g}, got {value!r}"
        )
    return float(value)


def kill_job(queue: JobQueue, job_id: int, source: str) -> dict[str, Any]:
    """Cancel `job_id`; a running one's worker process is killed at once instead of getting its
    grace period. A job that has not started is simply cancelled. Refused for a running job
    whose handler runs on a thread: a thread cannot be killed (cancel it and wait)."""
    job = queue.store.require_job(job_id)
    if job.state is not JobState.RUNNING:
        job = queue.cancel(job_id, source=source)
        return {**job.to_dict(), "cancel_requested": job.cancel_requested, "killed": False}
    handler = queue.registry.get_handler(job.type)
    if handler is None or handler.runs_in != "process":
        raise InvalidTransitionError(f"job {job_id} runs on a thread of the app, which cannot be killed; "
                                     "cancel it instead (it stops when its handler checks for cancellation)")  # fmt: skip
    job = queue.store.cancel_job(job_id, source)
    queue.bus.publish(JobEvent(EventKind.CANCEL_REQUESTED, job.id, job.queue, job.state.value,
                               {"source": source, "hard": True}))  # fmt: skip
    return {**job.to_dict(), "cancel_requested": job.cancel_requested, "killed": job.state is JobState.RUNNING}


def extend_stall(queue: JobQueue, job_id: int, source: str) -> dict[str, Any]:
    """Ask the engine running `job_id` to postpone its stall detection by another stall_after
    (clearing the flag). Refused when the job is not running or its handler has no stall_after."""
    job = queue.store.require_job(job_id)
    if job.state is not JobState.RUNNING:
        raise InvalidTransitionError(f"job {job_id} is {job.state.value}, not running: there is no stall to extend")
    handler = queue.registry.get_handler(job.type)
    stall_after = getattr(handler, "stall_after", None)
    if not stall_after:
        raise InvalidTransitionError(f"job {job_id}'s handler ({job.type}) has no stall_after: it is never flagged stalled")
    queue.bus.publish(JobEvent(EventKind.STALL, job.id, job.queue, job.state.value, {"extend": True, "source": source}))
    return {"id": job_id, "extended_by": stall_after, "stalled": _stalled(queue.store.get_stall(job_id))}


def _stalled(stall: dict[str, Any] | None) -> dict[str, float] | None:
    return None if stall is None else {"since": stall["since"], "for": stall["for"]}
