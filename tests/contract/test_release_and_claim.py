"""Store contract: a dependent released by a completion and claimed in the same transaction (a
chain's next step) is claimed by the claim's own rules, and what it records and notes is what a
release and then a claim would: `waiting → queued`, then `queued → running`."""

from __future__ import annotations

from acacia_gui.core.job import JobState
from acacia_gui.core.runner import Completion

from .helpers import ME, add, claim, events


def _done(job):
    return Completion(job.id, job.attempts, JobState.SUCCEEDED)


def test_a_released_dependent_claimed_at_once_keeps_its_queued_step(store):
    a, = add(store)
    b, = add(store, after=[a])
    (job,) = claim(store, 1)
    store.take_notes()
    _, claimed = store.complete_and_claim([_done(job)], ME, 1)
    assert [j.id for j in claimed] == [b] and claimed[0].state is JobState.RUNNING and claimed[0].attempts == 1
    assert events(store, b)[-2:] == [("worker", "waiting", "queued", "its dependencies are done"),
                                     ("worker", "queued", "running", "attempt 1")]  # fmt: skip
    assert (b, "default", "queued") in store.take_notes()
    assert store.get_job(b).state is JobState.RUNNING and store.get_job(b).started_at is not None


def test_a_released_dependent_waits_behind_better_queued_jobs(store):
    a, = add(store)
    b, = add(store, after=[a])
    (job,) = claim(store, 1)
    first, = add(store, priority=5)  # queued before the release, and better
    _, claimed = store.complete_and_claim([_done(job)], ME, 1)
    assert [j.id for j in claimed] == [first]
    assert store.get_job(b).state is JobState.QUEUED  # released, not claimed: queued like any other
    assert events(store, b)[-1] == ("worker", "waiting", "queued", "its dependencies are done")
    assert store.more_claimable()
    assert [j.id for j in claim(store, 1)] == [b]


def test_a_released_dependent_is_claimed_in_priority_order_among_queued_ones(store):
    a, = add(store)
    b, = add(store, after=[a], priority=3)
    (job,) = claim(store, 1)
    low, = add(store)
    _, claimed = store.complete_and_claim([_done(job)], ME, 2)
    assert [j.id for j in claimed] == [b, low]
    assert not store.more_claimable()


def test_a_released_dependent_of_a_paused_queue_or_with_no_free_slot_is_only_queued(store):
    a, = add(store)
    b, = add(store, after=[a], queue="later")
    c, = add(store, after=[a])
    store.set_queue_paused("later", True)
    (job,) = claim(store, 1)
    _, claimed = store.complete_and_claim([_done(job)], ME, 0)  # no slot: nothing is claimed
    assert claimed == [] and store.get_job(c).state is JobState.QUEUED
    assert store.get_job(b).state is JobState.QUEUED
    assert [j.id for j in claim(store, 5)] == [c]  # the paused queue keeps b


def test_a_released_dependent_of_a_paused_queue_stays_queued_while_a_slot_is_free(store):
    a, = add(store)
    b, = add(store, after=[a], queue="later")
    store.set_queue_paused("later", True)
    (job,) = claim(store, 1)
    _, claimed = store.complete_and_claim([_done(job)], ME, 3)
    assert claimed == [] and store.get_job(b).state is JobState.QUEUED


def test_a_released_dependent_with_a_delay_is_scheduled_not_claimed(store):
    a, = add(store)
    b, = add(store, after=[a], delay=3600)
    (job,) = claim(store, 1)
    _, claimed = store.complete_and_claim([_done(job)], ME, 5)
    assert claimed == [] and store.get_job(b).state is JobState.SCHEDULED


def test_a_queue_limit_holds_a_released_dependent_back(store):
    a, = add(store)
    b, = add(store, after=[a], queue="one")
    other, = add(store, queue="one")
    store.set_queue_concurrency("one", 1)
    (job,) = claim(store, 1)  # `a`, of the default queue
    (running,) = claim(store, 1)
    assert running.id == other
    _, claimed = store.complete_and_claim([_done(job)], ME, 3)
    assert claimed == [] and store.get_job(b).state is JobState.QUEUED
