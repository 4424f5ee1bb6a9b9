"""Retention in the store: delete_finished_before deletes by age and state, oldest first, and
never a job that is not over; the Pruner applies a policy (failed jobs stay unless keep_failed)."""

from __future__ import annotations

import time

from acacia_gui.core.definitions import EventKind
from acacia_gui.core.durations import RetentionPolicy
from acacia_gui.core.job import JobState
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.engine.pruner import Pruner

from .helpers import add, claim, finish

FINAL = ["succeeded", "failed", "cancelled", "interrupted"]


def finished(store, state: JobState, n: int = 1, queue: str = "default") -> list[int]:
    ids = add(store, n, queue=queue)
    for job in claim(store, n):
        finish(store, job, state)
    return ids


def test_deletes_only_jobs_finished_before_the_cutoff(store):
    old = finished(store, JobState.SUCCEEDED, 3)
    cutoff = time.time() + 0.001
    while time.time() <= cutoff:  # the next ones finish strictly after the cutoff
        pass
    new = finished(store, JobState.SUCCEEDED, 2)
    waiting = add(store, 2)
    gone = store.delete_finished_before("api", before=cutoff, states=FINAL)
    assert sorted(gone) == old
    assert all(store.get_job(i) is None for i in old)
    assert all(store.get_job(i) is not None for i in new + waiting)


def test_states_queue_and_limit_narrow_it(store):
    ok = finished(store, JobState.SUCCEEDED, 3)
    bad = finished(store, JobState.FAILED, 2)
    other = finished(store, JobState.SUCCEEDED, 1, queue="other")
    later = time.time() + 1
    assert store.delete_finished_before("api", before=later, states=["succeeded"], queue="default", limit=2) == ok[:2]
    assert store.delete_finished_before("api", before=later, states=["succeeded"], queue="default") == ok[2:]
    assert all(store.get_job(i) is not None for i in bad + other)


def test_never_touches_a_job_that_is_not_over(store):
    queued = add(store, 2)
    running = claim(store, 1)[0]
    assert store.delete_finished_before("api", before=time.time() + 3600, states=["queued", "running"]) == []
    assert store.get_job(running.id).state is JobState.RUNNING and store.get_job(queued[1]) is not None


def test_the_pruner_keeps_failed_jobs_unless_told(store):
    queue = JobQueue(store, Registry())
    events = []
    queue.bus.subscribe(events.append)
    done = finished(store, JobState.SUCCEEDED, 2) + finished(store, JobState.CANCELLED, 1)
    failed = finished(store, JobState.FAILED, 2)
    now = time.time()
    pruner = Pruner(queue, RetentionPolicy(keep_finished=3600), clock=lambda: now + 7200)
    assert pruner.sweep() == 3
    assert all(store.get_job(i) is None for i in done) and all(store.get_job(i) is not None for i in failed)
    batches = [e for e in events if e.kind == EventKind.DELETED]
    assert len(batches) == 1 and batches[0].job_id is None and sorted(batches[0].data["ids"]) == done  # one event a batch
    pruner.set_policy(RetentionPolicy(keep_finished=3600, keep_failed=3600))
    assert pruner.sweep() == 2 and store.count_jobs() == 0


def test_the_pruner_works_in_batches_until_done(store):
    queue = JobQueue(store, Registry())
    ids = finished(store, JobState.SUCCEEDED, 25)
    pruner = Pruner(queue, RetentionPolicy(keep_finished=1), batch=10, clock=lambda: time.time() + 10)
    assert pruner.sweep() == 25 and all(store.get_job(i) is None for i in ids)
