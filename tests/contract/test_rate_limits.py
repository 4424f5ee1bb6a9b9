"""WorkerStore contract: per-type caps (max_running), per-type and per-queue rates in the claim."""

from __future__ import annotations

import time

import pytest

from acacia_gui.core.errors import InvalidOptionError
from acacia_gui.core.rates import Rate, TypeLimit, type_scope

from .helpers import ME, OTHER, add, claim, finish


def test_a_capped_type_is_skipped_and_the_jobs_behind_it_are_claimed(store):
    capped = add(store, 3, "capped", priority=5)
    others = add(store, 2, "free", priority=0)
    limits = {"capped": TypeLimit(max_running=1)}
    first = claim(store, 4, type_limits=limits)
    assert [j.id for j in first] == [capped[0], *others]
    assert claim(store, 4, OTHER, type_limits=limits) == []  # the cap counts every instance's running jobs
    assert store.running_of_type("capped") == 1
    finish(store, first[0])
    (second,) = claim(store, 4, OTHER, type_limits=limits)
    assert second.id == capped[1]
    assert store.next_claim_at() is None  # a cap frees a slot when a job ends, not at a time


def test_a_cap_across_queues(store):
    a = add(store, 2, "one", queue="a")
    b = add(store, 2, "one", queue="b")
    claimed = claim(store, 4, type_limits={"one": TypeLimit(max_running=1)})
    assert [j.id for j in claimed] == [a[0]]
    assert b  # both queues hold them back alike


def test_a_capped_type_is_never_claimed_ahead(store):
    jobs = add(store, 3, "capped")
    claimed = claim(store, 1, prefetch=5, type_limits={"capped": TypeLimit(max_running=2)})
    assert [j.id for j in claimed] == jobs[:1]


def test_a_type_rate_counts_the_starts_of_every_store_handle(open_store):
    one, two = open_store(), open_store()  # two app instances on one database
    add(one, 5, "api")
    limits = {"api": TypeLimit(rate=Rate(3, 30.0))}
    before = time.time()
    assert len(claim(one, 2, ME, type_limits=limits)) == 2
    assert len(claim(two, 5, OTHER, type_limits=limits)) == 1
    assert claim(one, 5, ME, type_limits=limits) == []
    next_at = one.next_claim_at()
    assert next_at is not None and before + 30 <= next_at <= time.time() + 30
    assert two.rate_window(type_scope("api"), Rate(3, 30.0))[0] == 0


def test_a_short_rate_window_frees_its_starts(store):
    add(store, 3, "fast")
    limits = {"fast": TypeLimit(rate=Rate(1, 0.3))}
    (first,) = claim(store, 3, type_limits=limits)
    assert claim(store, 3, type_limits=limits) == []
    next_at = store.next_claim_at()
    assert next_at is not None
    while time.time() < next_at:
        time.sleep(max(0.0, next_at - time.time()))  # the store's own promise, not a guess
    (second,) = claim(store, 3, type_limits=limits)
    assert second.started_at >= first.started_at + 0.3


def test_a_queue_rate_holds_its_queue_only(store):
    store.set_queue_rate("slow", "2/h")
    assert store.get_queue("slow").rate == "2/h" and store.queue_rates() == {"slow": Rate(2, 3600.0)}
    slow = add(store, 3, queue="slow", priority=9)
    fast = add(store, 2, queue="fast")
    assert [j.id for j in claim(store, 10)] == [*slow[:2], *fast]
    assert store.next_claim_at() is not None
    store.set_queue_rate("slow", None)
    assert store.get_queue("slow").rate is None
    assert [j.id for j in claim(store, 10)] == slow[2:]


def test_bad_queue_rates_are_refused(store):
    for bad in ("3", "0/s", "x/min", "3/0s", "5/fortnight"):
        with pytest.raises(InvalidOptionError):
            store.set_queue_rate("q", bad)


def test_no_limits_claim_as_before(store):
    jobs = add(store, 4)
    assert [j.id for j in claim(store, 2, prefetch=2)] == jobs
    assert store.next_claim_at() is None
