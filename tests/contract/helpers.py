"""Small steps the contract tests share: enqueue, claim, finish, all through the Protocols."""

from __future__ import annotations

from typing import Any

from acacia_gui.core.context import Context
from acacia_gui.core.definitions import MAX_PRIORITY
from acacia_gui.core.job import Job, JobId, JobState
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.recovery import RecoveryPolicy
from acacia_gui.core.registry import Registry
from acacia_gui.core.runner import Completion

ME = "instance-me"
OTHER = "instance-other"
DEAD = "instance-dead"


def add(store: Any, n: int = 1, job_type: str = "t", **options: Any) -> list[JobId]:
    """Enqueue `n` jobs the way the app does (JobQueue validates, then one insert_jobs)."""
    jobs = [Job(job_type, {"i": i}, **options) for i in range(n)]
    return JobQueue(store, Registry()).enqueue_many(Context.background(), jobs)


def claim(store: Any, slots: int = 1, instance: str = ME, **options: Any) -> list[Job]:
    """Claim up to `slots` jobs (no completions)."""
    applied, claimed = store.complete_and_claim([], instance, slots, **options)
    assert applied == []
    return claimed


def finish(store: Any, job: Job, state: JobState = JobState.SUCCEEDED, instance: str = ME, **fields: Any) -> Completion:
    """Complete a claimed job's run; asserts the store applied it."""
    completion = Completion(job.id, job.attempts, state, **fields)
    applied, _ = store.complete_and_claim([completion], instance, 0)
    assert applied == [completion]
    return completion


def run_to(store: Any, state: JobState, **options: Any) -> JobId:
    """A new job brought to a final `state` the way the app gets it there.

    It is enqueued at the highest priority and claimed by an instance of its own, so
    other jobs of the test stay as they are.
    """
    options.setdefault("priority", MAX_PRIORITY)
    (job_id,) = add(store, **options)
    if state is JobState.CANCELLED:
        store.cancel_job(job_id, "api")
        return job_id
    instance = f"runner-{job_id}"
    (job,) = claim(store, 1, instance)
    assert job.id == job_id
    if state is JobState.INTERRUPTED:
        store.recover_instance(instance, RecoveryPolicy(not_repeatable=frozenset({job.type})))
    else:
        finish(store, job, state, instance, error="boom" if state is JobState.FAILED else None)
    assert store.get_job(job_id).state is state
    return job_id


def events(store: Any, job_id: JobId) -> list[tuple[str, str | None, str, str]]:
    """A job's events as (source, old state, new state, message)."""
    return [(e["source"], e["old_state"], e["new_state"], e["message"]) for e in store.get_events(job_id)]
