"""JobQueue: the Enqueuer, and every user action on jobs and queues.

Validate, persist, then announce: nothing reaches the event bus before it is committed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .context import Context
from .definitions import EventKind, Source
from .errors import UnknownJobTypeError
from .events import EventBus, JobEvent
from .job import (
    Job,
    JobId,
    JobState,
    encode_payload,
    validate_delay,
    validate_job_type,
    validate_max_attempts,
    validate_priority,
    validate_queue_name,
    validate_timeout,
)
from .limits import parse_memory_limit, validate_cancel_grace, validate_cpu_time_limit, validate_nice
from .pipeline import validate_links
from .registry import RegisteredHandler, Registry

PayloadValidator = Callable[[RegisteredHandler, Any], None]
_UNCHANGED: Any = object()  # edit(): the payload is left as it is


class JobQueue:
    """The Enqueuer over a JobStore. Thread-safe (the store is; the bus is).

    `payload_validator` checks a payload against its handler's schema (injected so the
    core needs no JSON-schema library).
    """

    def __init__(self, store: Any, registry: Registry, bus: EventBus | None = None,
                 payload_validator: PayloadValidator | None = None) -> None:  # fmt: skip
        self.store = store
        self.registry = registry
        self.bus = bus or EventBus()
        self.payload_validator = payload_validator

    # -- enqueue -------------------------------------------------------------------
    def prepare(self, job: Job, *, allow_unknown: bool = True) -> Job:
        """Validate a job and fill in its handler's defaults; raises InvalidJobError."""
        self._prepare(job, allow_unknown)
        return job

    def _prepare(self, job: Job, allow_unknown: bool) -> str:
        """prepare(), returning the encoded payload so it is encoded once per enqueue."""
        validate_job_type(job.type)
        handler = self.registry.get_handler(job.type)
        if handler is None and not allow_unknown:
            known = ", ".join(self.registry.job_types()) or "none (no plugin is loaded)"
            raise UnknownJobTypeError(f"unknown job type {job.type!r}; known types: {known}")
        payload_text = encode_payload(job.payload)
        if handler is not None:
            if handler.schema is not None and self.payload_validator is not None:
                self.payload_validator(handler, job.payload)
            job.queue = job.queue if job.queue is not None else handler.queue
            job.max_attempts = job.max_attempts if job.max_attempts is not None else handler.max_attempts
            job.timeout = job.timeout if job.timeout is not None else handler.timeout
        job.queue = validate_queue_name("default" if job.queue is None else job.queue)
        job.priority = validate_priority(job.priority)
        job.delay = validate_delay(job.delay or 0.0)
        job.max_attempts = validate_max_attempts(job.max_attempts if job.max_attempts is not None else 1)
        job.timeout = validate_timeout(job.timeout)
        job.cancel_grace = validate_cancel_grace(job.cancel_grace)  # None: the handler's, at run time
        job.memory_limit = parse_memory_limit(job.memory_limit)
        job.cpu_time_limit = validate_cpu_time_limit(job.cpu_time_limit)
        job.nice = validate_nice(job.nice)
        validate_links(job)
        return payload_text

    def enqueue(self, ctx: Context, job: Job, *, source: str = Source.API, allow_unknown: bool = True) -> JobId:
        """Validate and persist one job; return its id."""
        return self.enqueue_many(ctx, [job], source=source, allow_unknown=allow_unknown)[0]

    def enqueue_many(self, ctx: Context, jobs: Sequence[Job], *, source: str = Source.API,
                     allow_unknown: bool = True) -> list[JobId]:  # fmt: skip
        """All or nothing: every job is validated before one transaction writes them all."""
        ctx.check()
        texts = [self._prepare(job, allow_unknown) for job in jobs]
        ctx.check()
        ids = self.store.insert_jobs(jobs, source, texts)
        for job in jobs:
            if job.conflict is None:
                self.bus.publish(JobEvent(EventKind.ENQUEUED, job.id, job.queue, job.state.value, {"type": job.type}))
            elif job.conflict == "replaced":
                edited = {"source": source, "edited": True}
                self.bus.publish(JobEvent(EventKind.STATE, job.id, job.queue, job.state.value, edited))
        return ids

    def announce_consequences(self, source: str = Source.API) -> None:
        """Publish what committed writes changed besides what was asked (dependents released,
        cancelled or revived: JobStore.take_notes). After any action that may finish a job."""
        for job_id, queue, state in self.store.take_notes():
            self.bus.publish(JobEvent(EventKind.STATE, job_id, queue, state, {"source": source, "dependency": True}))

    # -- actions -------------------------------------------------------------------
    def cancel(self, job_id: JobId, *, source: str = Source.API) -> Job:
        """Queued → cancelled now; running → its context is cancelled by the owning worker."""
        job = self.store.cancel_job(job_id, source)
        if job.state is JobState.RUNNING:
            self.bus.publish(JobEvent(EventKind.CANCEL_REQUESTED, job.id, job.queue, job.state.value, {"source": source}))
        else:
            self.bus.publish(JobEvent(EventKind.STATE, job.id, job.queue, job.state.value, {"source": source}))
            self.announce_consequences(source)
        return job

    def retry(self, job_id: JobId, *, with_dependents: bool = False, source: str = Source.API) -> Job:
        """Retry a job that ended badly; `with_dependents`: also the jobs its end cancelled."""
        job = self.store.retry_job(job_id, source, with_dependents=with_dependents)
        self.bus.publish(JobEvent(EventKind.STATE, job.id, job.queue, job.state.value, {"source": source}))
        self.announce_consequences(source)
        return job

    def edit(self, job_id: JobId, *, priority: int | None = None, queue: str | None = None, payload: Any = _UNCHANGED,
             front: bool = False, source: str = Source.API) -> Job:  # fmt: skip
        """Edit a queued or scheduled job: priority, queue, payload (checked against its
        handler's schema, as enqueue does) and/or move it to the front of its queue
        (JobStore.edit_job says how). Validated first: bad input changes nothing.
        Raises InvalidJobError subclasses, JobNotFoundError or InvalidTransitionError."""
        if priority is not None:
            priority = validate_priority(priority)
        if queue is not None:
            queue = validate_queue_name(queue)
        payload_text = None
        if payload is not _UNCHANGED:
            payload_text = encode_payload(payload)
            job = self.store.require_job(job_id)
            handler = self.registry.get_handler(job.type)
            if handler is not None and handler.schema is not None and self.payload_validator is not None:
                self.payload_validator(handler, payload)
        job = self.store.edit_job(job_id, source, priority=priority, queue=queue, payload_text=payload_text, front=front)
        # a state event not from the worker wakes the scheduler (a job may now be claimable in another queue)
        self.bus.publish(JobEvent(EventKind.STATE, job.id, job.queue, job.state.value, {"source": source, "edited": True}))
        return job

    def delete(self, job_ids: Iterable[JobId], *, source: str = Source.API) -> int:
        ids = list(job_ids)
        count = self.store.delete_jobs(ids, source)
        for job_id in ids:
            self.bus.publish(JobEvent(EventKind.DELETED, job_id, data={"source": source}))
        self.announce_consequences(source)
        return count

    def clear_finished(self, *, queue: str | None = None, source: str = Source.API) -> list[JobId]:
        ids = self.store.clear_finished(source, queue=queue)
        for job_id in ids:
            self.bus.publish(JobEvent(EventKind.DELETED, job_id, data={"source": source}))
        return ids

    def delete_finished_before(self, before: float, states: Sequence[str], *, queue: str | None = None,
                               source: str = Source.API, limit: int = 500) -> list[JobId]:  # fmt: skip
        """One batch of retention: up to `limit` jobs in `states` finished before `before`, oldest
        first. Announced as ONE `deleted` event carrying "ids" (no job_id), so pruning a million
        jobs sends the window a few thousand events, not a million. Call again until it returns
        fewer than `limit`."""
        ids = self.store.delete_finished_before(source, before=before, states=states, queue=queue, limit=limit)
        if ids:
            self.bus.publish(JobEvent(EventKind.DELETED, None, queue, data={"source": source, "ids": ids}))
        return ids

    def pause(self, queue: str, *, source: str = Source.API) -> None:
        self.store.set_queue_paused(queue, True)
        self.bus.publish(JobEvent(EventKind.QUEUE, queue=queue, data={"paused": True, "source": source}))

    def resume(self, queue: str, *, source: str = Source.API) -> None:
        self.store.set_queue_paused(queue, False)
        self.bus.publish(JobEvent(EventKind.QUEUE, queue=queue, data={"paused": False, "source": source}))

    def set_concurrency(self, queue: str, concurrency: int, *, source: str = Source.API) -> None:
        self.store.set_queue_concurrency(queue, concurrency)
        self.bus.publish(JobEvent(EventKind.QUEUE, queue=queue, data={"concurrency": concurrency, "source": source}))

    def set_rate(self, queue: str, rate: str | None, *, source: str = Source.API) -> None:
        """A queue's rate ("30/h"; None: none), over every instance (core.rates.parse_rate)."""
        self.store.set_queue_rate(queue, rate)
        self.bus.publish(JobEvent(EventKind.QUEUE, queue=queue, data={"rate": rate, "source": source}))
