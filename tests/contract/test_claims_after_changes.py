"""WorkerStore contract: a claim sees what changed since the one before it.

A store may remember what its last claim found (PostgreSQL remembers the queue it found alone
and claims from it at once, checking in the same statement that it still may): whatever
changed in between — a pause, a limit, a rate, work in another queue — the next claim obeys it.
"""

from __future__ import annotations

from acacia_gui.core.job import JobState

from .helpers import ME, OTHER, add, claim, finish


def test_a_queue_paused_since_the_last_claim_is_not_claimed_from(store):
    ids = add(store, 3, queue="a")
    assert [j.id for j in claim(store, 1)] == ids[:1]
    store.set_queue_paused("a", True)
    assert claim(store, 5) == []
    (other,) = add(store, queue="b")
    assert [j.id for j in claim(store, 5)] == [other]
    store.set_queue_paused("a", False)
    assert [j.id for j in claim(store, 5)] == ids[1:]


def test_a_limit_set_since_the_last_claim_holds(store):
    ids = add(store, 4, queue="a")
    (first,) = claim(store, 1)
    store.set_queue_concurrency("a", 2)
    assert [j.id for j in claim(store, 5, OTHER)] == ids[1:2]  # 2 running in all
    assert claim(store, 5) == []
    finish(store, first)
    assert [j.id for j in claim(store, 5)] == ids[2:3]


def test_a_rate_set_since_the_last_claim_holds(store):
    ids = add(store, 4, queue="a")
    claim(store, 1)
    store.set_queue_rate("a", "1/h")
    assert [j.id for j in claim(store, 5)] == ids[1:2]
    assert claim(store, 5) == []


def test_work_in_another_queue_is_claimed_in_priority_order(store):
    ids = add(store, 3, queue="a")
    claim(store, 1)
    (urgent,) = add(store, queue="b", priority=9)
    assert [j.id for j in claim(store, 2)] == [urgent, ids[1]]


def test_a_queue_that_emptied_and_refilled_is_claimed_again(store):
    (first,) = add(store, queue="a")
    claim(store, 1)
    assert claim(store, 1) == []
    (second,) = add(store, queue="a")
    (job,) = claim(store, 1)
    assert (job.id, job.state, job.instance_id) == (second, JobState.RUNNING, ME)
    assert store.get_job(first).state is JobState.RUNNING
