"""WorkerStore contract: claims (order, paused queues, concurrency, claim-ahead, races), completions and start marks."""

from __future__ import annotations

import threading
import time

import pytest

from acacia_gui.core.job import JobState
from acacia_gui.core.runner import Completion

from .helpers import ME, OTHER, add, claim, events, finish


def test_claims_take_the_best_jobs_first(store):
    low, high, mid, high_later, other_queue = (add(store, queue=q, priority=p)[0] for q, p in
                                               (("a", -5), ("a", 9), ("b", 0), ("b", 9), ("c", 1)))  # fmt: skip
    assert [j.id for j in claim(store, 3)] == [high, high_later, other_queue]
    assert [j.id for j in claim(store, 10)] == [mid, low]
    assert claim(store, 10) == []


def test_a_claimed_job_is_running_owned_and_has_one_more_attempt(store):
    (job_id,) = add(store, max_attempts=3)
    before = time.time()
    (job,) = claim(store, 1, OTHER)
    assert (job.id, job.state, job.instance_id, job.attempts) == (job_id, JobState.RUNNING, OTHER, 1)
    assert before <= job.started_at <= time.time() and job.finished_at is None
    stored = store.get_job(job_id)
    assert (stored.state, stored.instance_id, stored.attempts, stored.started_at) == ("running", OTHER, 1, job.started_at)
    assert events(store, job_id)[-1] == ("worker", "queued", "running", "attempt 1")
    assert store.owners_of_running_jobs() == [OTHER]


def test_nothing_is_claimed_without_room_or_work(store):
    assert store.complete_and_claim([], ME, 0) == ([], [])
    assert claim(store, 3) == []
    (job_id,) = add(store, delay=60)
    assert claim(store, 3) == []  # a scheduled job waits for promote_due
    assert store.get_job(job_id).state is JobState.SCHEDULED


def test_a_paused_queue_is_skipped_until_resumed(store):
    paused = add(store, 2, queue="a")
    (free,) = add(store, queue="b")
    store.set_queue_paused("a", True)
    assert [j.id for j in claim(store, 10)] == [free]
    store.set_queue_paused("a", False)
    assert [j.id for j in claim(store, 10)] == paused


def test_pausing_leaves_running_jobs_running(store):
    add(store, 2)
    (job,) = claim(store)
    store.set_queue_paused("default", True)
    assert store.get_job(job.id).state is JobState.RUNNING
    assert claim(store, 5) == []
    finish(store, job)  # its completion still applies


def test_a_queue_concurrency_counts_every_claimer(open_store):
    mine, theirs = open_store(), open_store()  # two handles, as two processes would have
    add(mine, 3, queue="a")
    add(mine, 3, queue="b")
    mine.set_queue_paused("a", True)
    mine.set_queue_concurrency("b", 2)
    (first,) = claim(mine, 1, ME)
    assert [j.queue for j in claim(theirs, 10, OTHER)] == ["b"]
    assert claim(mine, 10, ME) == [] and claim(theirs, 10, OTHER) == []  # b's limit counts both instances
    finish(mine, first, instance=ME)
    assert [j.queue for j in claim(theirs, 10, OTHER)] == ["b"]
    theirs.set_queue_concurrency("b", 0)  # no limit any more
    theirs.set_queue_paused("a", False)
    assert sorted(j.queue for j in claim(mine, 10, ME)) == ["a", "a", "a"]


@pytest.mark.parametrize("shared", [True, False], ids=["one-object", "one-object-per-thread"])
def test_claims_from_many_threads_never_overlap(open_store, shared):
    first = open_store()
    ids = add(first, 300)
    first.set_queue_concurrency("default", 250)
    claimed: list[int] = []
    lock = threading.Lock()
    stores = [first if shared else open_store() for _ in range(4)]

    def claimer(n: int) -> None:
        while True:
            _, jobs = stores[n].complete_and_claim([], f"instance-{n}", 3)
            if not jobs:
                return
            with lock:
                claimed.extend(j.id for j in jobs)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == ids[:250] and len(set(claimed)) == 250  # the queue's limit held too


def test_claimed_ahead_jobs_wait_for_their_start_mark(store):
    now, ahead, fragile, after = add(store, 2) + add(store, 1, "fragile") + add(store, 1)
    claimed = claim(store, 1, prefetch=3, no_prefetch_types={"fragile"})
    assert [j.id for j in claimed] == [now, ahead]  # claiming ahead stops at the first `fragile`, keeping the order
    assert claimed[0].started_at is not None and claimed[1].started_at is None
    assert store.get_job(ahead).state is JobState.RUNNING and store.get_job(fragile).state is JobState.QUEUED
    assert [j.id for j in claim(store, 1, prefetch=5)] == [fragile, after]  # a free slot takes any type


def test_a_start_mark_is_written_once_and_only_for_the_owner(store):
    _, ahead, theirs = add(store, 3)
    claim(store, 1, prefetch=1)
    claim(store, 0, OTHER, prefetch=1)
    store.complete_and_claim([], ME, 0, started=[(ahead, 123.0), (theirs, 124.0)])
    assert store.get_job(ahead).started_at == 123.0 and store.get_job(theirs).started_at is None
    store.complete_and_claim([], ME, 0, started=[(ahead, 456.0)])
    assert store.get_job(ahead).started_at == 123.0


def test_a_completion_can_carry_its_run_s_start_mark(store):
    (job_id,) = add(store)
    claim(store, 0, prefetch=1)
    completion = Completion(job_id, 1, JobState.SUCCEEDED)
    assert store.complete_and_claim([completion], ME, 0, started=[(job_id, 77.0)])[0] == [completion]
    assert store.get_job(job_id).started_at == 77.0


def test_a_completion_applies_only_to_its_own_run(store):
    (job_id,) = add(store)
    (job,) = claim(store)
    stale = Completion(job_id, job.attempts, JobState.SUCCEEDED, result="1")
    assert store.complete_and_claim([stale], OTHER, 0) == ([], [])  # another instance
    assert store.get_job(job_id).state == "running"
    assert store.complete_and_claim([Completion(job_id, 99, JobState.SUCCEEDED)], ME, 0) == ([], [])  # another attempt
    twice = Completion(job_id, job.attempts, JobState.FAILED, error="second")
    applied, _ = store.complete_and_claim([stale, twice], ME, 0)
    assert applied == [stale] and store.get_job(job_id).state == "succeeded"  # a job's first completion wins
    assert store.complete_and_claim([twice], ME, 0) == ([], [])  # over: nothing applies any more
    assert store.get_job(job_id).result == 1


def test_completions_and_claims_share_one_call(store):
    first, second, third = add(store, 3)
    (job,) = claim(store)
    applied, claimed = store.complete_and_claim([Completion(first, 1, JobState.SUCCEEDED)], ME, 2)
    assert [c.job_id for c in applied] == [first] and [j.id for j in claimed] == [second, third]
    assert job.id == first and store.get_job(first).state is JobState.SUCCEEDED


def test_a_retry_completion_schedules_the_job_and_can_refund_its_attempt(store):
    again, back = add(store, 2, max_attempts=3)
    claim(store, 2)
    run_at = time.time() + 30
    store.complete_and_claim([Completion(again, 1, JobState.SCHEDULED, error="later", run_at=run_at, message="retry"),
                              Completion(back, 1, JobState.QUEUED, refund_attempt=True, message="stopping")], ME, 0)  # fmt: skip
    scheduled, queued = store.get_job(again), store.get_job(back)
    assert (scheduled.state, scheduled.attempts, scheduled.run_at, scheduled.finished_at) == ("scheduled", 1, run_at, None)
    assert (scheduled.instance_id, scheduled.error) == (None, "later")
    assert (queued.state, queued.attempts, queued.instance_id) == ("queued", 0, None)
    assert events(store, again)[-1] == ("worker", "running", "scheduled", "retry")
    assert [j.id for j in claim(store, 5)] == [back]  # the scheduled one waits for its time
    assert store.promote_due(now=run_at - 1) == [] and store.promote_due(now=run_at) == [(again, "default")]


def test_scheduled_jobs_are_promoted_when_due(store):
    (job_id,) = add(store, delay=100, queue="later")
    (much_later,) = add(store, delay=500)
    assert store.get_job(job_id).state == "scheduled"
    assert store.promote_due() == []
    job = store.get_job(job_id)
    assert store.promote_due(now=job.run_at + 1) == [(job_id, "later")]  # only the one whose time has come
    assert store.get_job(job_id).state == "queued" and store.promote_due(now=job.run_at + 1) == []
    assert events(store, job_id)[-1] == ("worker", "scheduled", "queued", "due")
    assert [j.id for j in claim(store)] == [job_id]
    assert store.get_job(much_later).state == "scheduled"


def test_a_cancel_request_ends_with_the_run(store):
    (job_id,) = add(store, max_attempts=2)
    claim(store)
    store.cancel_job(job_id, "gui")
    store.complete_and_claim([Completion(job_id, 1, JobState.QUEUED, refund_attempt=True)], ME, 0)
    assert store.cancel_requested_among([job_id]) == [] and store.get_job(job_id).cancel_requested is False
