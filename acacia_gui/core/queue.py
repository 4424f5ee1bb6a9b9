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
from .schedules import Fired, Schedule

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

    # -- recurring schedules (core/schedules.py) -------------------------------------------
    def prepare_schedule_job(self, schedule: Schedule) -> tuple[Job, str]:
        """The job a schedule enqueues at each slot, checked and given its handler's defaults as
        one enqueued by hand (queue, max_attempts, timeout), and its payload's JSON text."""
        job = Job(schedule.type, schedule.payload, queue=schedule.queue, priority=schedule.priority)
        return job, self._prepare(job, True)

    def _publish_schedule(self, name: str, change: str, source: str, job_ids: Sequence[JobId] = (),
                          queue: str | None = None, **data: Any) -> None:  # fmt: skip
        """A SCHEDULE event, after ENQUEUED events for its new jobs (they wake the scheduler)."""
        for job_id in job_ids:
            self.bus.publish(JobEvent(EventKind.ENQUEUED, job_id, queue, JobState.QUEUED.value, {"source": source}))
        payload = {"name": name, "change": change, "job_ids": list(job_ids), "source": source, **data}
        self.bus.publish(JobEvent(EventKind.SCHEDULE, None, queue, data=payload))

    def add_schedule(self, schedule: Schedule, *, source: str = Source.API) -> Schedule:
        """Validate and store a new schedule (its handler's schema checks the payload when it
        has one). Raises InvalidOptionError (a bad field, a taken name), InvalidPayloadError."""
        schedule.validate()
        self._check_schedule_payload(schedule.type, schedule.payload)
        stored = self.store.add_schedule(schedule)
        self._publish_schedule(stored.name, "added", source)
        return stored

    def edit_schedule(self, name: str, changes: dict[str, Any], *, source: str = Source.API) -> Schedule:
        """Change a schedule's fields (JobStore.edit_schedule says which). Raises
        ScheduleNotFoundError, InvalidOptionError, InvalidPayloadError."""
        if "payload" in changes or "type" in changes:
            current = self.store.get_schedule(name)
            self._check_schedule_payload(changes.get("type", current.type), changes.get("payload", current.payload))
        edited = self.store.edit_schedule(name, changes)
        self._publish_schedule(name, "edited", source)
        return edited

    def remove_schedule(self, name: str, *, source: str = Source.API) -> None:
        """Delete a schedule; the jobs it enqueued stay. Raises ScheduleNotFoundError."""
        self.store.remove_schedule(name)
        self._publish_schedule(name, "removed", source)

    def pause_schedule(self, name: str, *, source: str = Source.API) -> Schedule:
        schedule = self.store.set_schedule_paused(name, True)
        self._publish_schedule(name, "paused", source)
        return schedule

    def resume_schedule(self, name: str, *, source: str = Source.API) -> Schedule:
        """Resume from now: the slots of the paused time are not caught up."""
        schedule = self.store.set_schedule_paused(name, False)
        self._publish_schedule(name, "resumed", source)
        return schedule

    def run_schedule_now(self, name: str, *, source: str = Source.API) -> JobId:
        """One job of the schedule now (scheduled_for = now); its next slot is unchanged."""
        job_id = self.store.run_schedule_now(name, source, self.prepare_schedule_job)
        schedule = self.store.get_schedule(name)
        self._publish_schedule(name, "run_now", source, [job_id], schedule.queue or self._queue_of(schedule))
        return job_id

    def list_schedules(self) -> list[Schedule]:
        return self.store.list_schedules()

    def get_schedule(self, name: str) -> Schedule:
        """Raises ScheduleNotFoundError."""
        return self.store.get_schedule(name)

    def next_schedule_at(self) -> float | None:
        """When the next slot of any schedule not paused falls (None: there is none)."""
        return self.store.next_schedule_at()

    def fire_due_schedules(self, now: float, *, source: str = Source.SCHEDULE) -> list[Fired]:
        """Enqueue the due slots of every schedule (exactly once over every process) and announce
        them; returns what each due schedule did. Called by the ScheduleTicker (engine/schedules.py)."""
        fired = self.store.fire_due_schedules(now, source, self.prepare_schedule_job)
        for item in fired:
            self._publish_schedule(item.name, "fired", source, item.job_ids, item.queue, dropped=item.dropped,
                                   missed=item.missed, error=item.error)  # fmt: skip
        return fired

    def rebase_after_clock_step(self, step: float, now: float, *, source: str = Source.SCHEDULE) -> int:
        """The wall clock went back `step` seconds (JobStore.rebase_after_clock_step). Returns the
        jobs moved. The engine's poll promotes due scheduled jobs by the wall clock every poll
        interval, so the moved ones start within one; a SCHEDULE event ("rebased") tells the views."""
        moved = self.store.rebase_after_clock_step(step, now)
        data = {"name": None, "change": "rebased", "job_ids": [], "source": source, "step": step, "jobs": moved}
        self.bus.publish(JobEvent(EventKind.SCHEDULE, data=data))
        return moved

    def _queue_of(self, schedule: Schedule) -> str:
        handler = self.registry.get_handler(schedule.type)
        return handler.queue if handler is not None and handler.queue else "default"

    def _check_schedule_payload(self, job_type: object, payload: Any) -> None:
        """A schedule's payload against its handler's schema, as enqueue checks a job's."""
        handler = self.registry.get_handler(job_type) if isinstance(job_type, str) else None
        if handler is not None and handler.schema is not None and self.payload_validator is not None:
            self.payload_validator(handler, payload)
