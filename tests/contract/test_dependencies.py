"""Store contract: jobs that run after others (waiting, release, propagation, retry with dependents),
pipelines in one batch, and unique keys — through the Protocols, on every backend."""

from __future__ import annotations

import pytest

from acacia_gui.core.context import Context
from acacia_gui.core.errors import InvalidOptionError, InvalidTransitionError, UniqueKeyTakenError
from acacia_gui.core.job import Job, JobState
from acacia_gui.core.pipeline import link_batch
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.core.runner import Completion

from .helpers import add, claim, events, finish, run_to


def enqueue(store, *jobs: Job) -> list[int]:
    return JobQueue(store, Registry()).enqueue_many(Context.background(), list(jobs))


def states(store, *ids: int) -> list[str]:
    return [store.get_job(i).state.value for i in ids]


def run_next(store, expected: int, state: JobState = JobState.SUCCEEDED) -> None:
    (job,) = claim(store, 1)
    assert job.id == expected
    finish(store, job, state, error="boom" if state is JobState.FAILED else None)


def test_a_chain_runs_in_order_and_waiting_jobs_are_never_claimed(store):
    a, = add(store)
    b, = add(store, after=[a])
    c, = add(store, after=[b])
    assert states(store, a, b, c) == ["queued", "waiting", "waiting"]
    assert [j.id for j in claim(store, 10)] == [a]  # waiting jobs stay out of the claim
    assert claim(store, 10) == []
    finish(store, _running(store, a))
    assert states(store, b, c) == ["queued", "waiting"]  # released in the completion's transaction
    run_next(store, b)
    run_next(store, c)
    assert states(store, a, b, c) == ["succeeded"] * 3
    assert events(store, b)[1] == ("worker", "waiting", "queued", "its dependencies are done")


def _running(store, job_id):
    job = store.get_job(job_id)
    assert job.state is JobState.RUNNING
    return job


def test_a_diamond_starts_the_join_only_after_both_branches(store):
    top, = add(store)
    left, right = add(store, 2, after=[top])
    join, = add(store, after=[left, right])
    run_next(store, top)
    first, second = claim(store, 2)
    assert {first.id, second.id} == {left, right}
    finish(store, first)
    assert states(store, join) == ["waiting"]
    _, claimed = store.complete_and_claim([_completion(second)], "instance-me", 5)
    assert [j.id for j in claimed] == [join]  # the release and the claim share one transaction


def _completion(job):
    return Completion(job.id, job.attempts, JobState.SUCCEEDED)


def test_failure_cancels_success_dependents_transitively_and_releases_finished_ones(store):
    a, = add(store)
    b, = add(store, after=[a])
    c, = add(store, after=[b])
    tolerant, = add(store, after=[a], after_policy="finished")
    after_c, = add(store, after=[c], after_policy="finished")
    run_next(store, a, JobState.FAILED)
    job_b, job_c = store.get_job(b), store.get_job(c)
    assert (job_b.state, job_b.error) == (JobState.CANCELLED, f"dependency {a} failed")
    assert (job_c.state, job_c.error) == (JobState.CANCELLED, f"dependency {b} was cancelled")
    assert states(store, tolerant, after_c) == ["queued", "queued"]  # "finished": however they ended
    assert [e[2] for e in events(store, c)] == ["waiting", "cancelled"]  # never started


def test_cancelling_a_waiting_job_settles_its_dependents(store):
    a, = add(store)
    b, = add(store, after=[a])
    c, = add(store, after=[b])
    store.cancel_job(b, "cli")
    assert states(store, a, b, c) == ["queued", "cancelled", "cancelled"]
    assert store.get_job(c).error == f"dependency {b} was cancelled"
    noted = store.take_notes()
    assert (c, "default", "cancelled") in noted
    assert store.take_notes() == []  # handed out once


def test_retry_with_dependents_revives_what_the_failure_cancelled(store):
    a, = add(store)
    b, = add(store, after=[a])
    c, = add(store, after=[b])
    run_next(store, a, JobState.FAILED)
    with pytest.raises(InvalidTransitionError, match=f"dependency {a} failed"):
        store.retry_job(b, "cli")  # its own dependency still failed: retry that one instead
    store.retry_job(a, "cli", with_dependents=True)
    assert states(store, a, b, c) == ["queued", "waiting", "waiting"]
    run_next(store, a)
    run_next(store, b)
    run_next(store, c)


def test_retry_without_dependents_leaves_them_cancelled(store):
    a, = add(store)
    b, = add(store, after=[a])
    run_next(store, a, JobState.FAILED)
    store.retry_job(a, "cli")
    assert states(store, a, b) == ["queued", "cancelled"]


def test_a_job_after_one_that_already_ended(store):
    done = run_to(store, JobState.SUCCEEDED)
    failed = run_to(store, JobState.FAILED)
    ok, = add(store, after=[done])
    doomed, = add(store, after=[failed])
    tolerant, = add(store, after=[failed], after_policy="finished")
    assert states(store, ok, doomed, tolerant) == ["queued", "cancelled", "queued"]
    assert store.get_job(doomed).error == f"dependency {failed} failed"


def test_a_delayed_dependent_is_scheduled_when_released(store):
    a, = add(store)
    b, = add(store, after=[a], delay=3600)
    run_next(store, a)
    assert states(store, b) == ["scheduled"]


def test_unknown_dependency_and_bad_options_write_nothing(store):
    a, = add(store)
    with pytest.raises(InvalidOptionError, match="there is no job 999"):
        add(store, after=[a, 999])
    for bad, message in (({"after": ["x"]}, "job ids"), ({"after": [0]}, "job ids"), ({"after_policy": "maybe"}, "after_policy"),
                         ({"unique_key": ""}, "unique_key"), ({"on_conflict": "merge"}, "on_conflict")):  # fmt: skip
        with pytest.raises(InvalidOptionError, match=message):
            add(store, **bad)
    assert [j.id for j in store.list_jobs()] == [a]


def test_a_batch_pipeline_with_refs_is_ordered_and_linked(store):
    existing, = add(store)
    entries = [{"type": "upload", "after": ["convert", existing]}, {"type": "convert", "ref": "convert", "after": ["dl"]},
               {"type": "download", "ref": "dl"}]  # fmt: skip
    jobs = [Job(e["type"]) for e in entries]
    link_batch(entries, jobs)
    ids = enqueue(store, *jobs)
    upload, convert, download = ids
    assert download < convert < upload  # dependencies first: ids are a topological order
    assert states(store, upload, convert, download) == ["waiting", "waiting", "queued"]
    deps = store.get_dependencies(upload)
    assert [d["id"] for d in deps["upstream"]] == [existing, convert]
    assert [d["id"] for d in store.get_dependencies(download)["downstream"]] == [convert]
    pipeline = store.get_pipeline(download)
    assert {n["id"] for n in pipeline["nodes"]} == {existing, upload, convert, download}
    assert {(e["from"], e["to"]) for e in pipeline["edges"]} == {(existing, upload), (convert, upload), (download, convert)}


@pytest.mark.parametrize("entries, message", [
    ([{"type": "a", "ref": "a", "after": ["b"]}, {"type": "b", "ref": "b", "after": ["a"]}], "cycle"),
    ([{"type": "a", "after": ["nowhere"]}], "no line of the batch has"),
    ([{"type": "a", "ref": "x"}, {"type": "b", "ref": "x"}], "already"),
    ([{"type": "a", "ref": "a", "after": ["a"]}], "cannot run after itself"),
])  # fmt: skip
def test_a_bad_pipeline_is_refused_whole(store, entries, message):
    jobs = [Job(e["type"]) for e in entries]
    with pytest.raises(InvalidOptionError, match=message):
        link_batch(entries, jobs)
        enqueue(store, *jobs)
    assert store.list_jobs() == []


def test_deleting_an_unfinished_dependency_cancels_its_dependents(store):
    a, = add(store)
    b, = add(store, after=[a])
    store.delete_jobs([a], "cli")
    assert store.get_job(b).state is JobState.CANCELLED
    assert store.get_dependencies(b)["upstream"] == []


def test_recovery_settles_the_dependents_of_jobs_it_fails(store):
    a, = add(store)
    b, = add(store, after=[a])
    (job,) = claim(store, 1, "instance-dead")
    from acacia_gui.core.recovery import RecoveryPolicy
    store.recover_instance("instance-dead", RecoveryPolicy(not_repeatable=frozenset({job.type})))
    assert store.get_job(a).state is JobState.INTERRUPTED
    assert (store.get_job(b).state, store.get_job(b).error) == (JobState.CANCELLED, f"dependency {a} was interrupted")


# -- unique keys ----------------------------------------------------------------------------

def test_unique_key_returns_the_existing_job_by_default(store):
    first, = add(store, unique_key="nightly")
    job = Job("t", {"i": 9}, unique_key="nightly")
    assert enqueue(store, job) == [first]
    assert job.conflict == "returned" and len(store.list_jobs()) == 1
    assert store.get_job(first).payload == {"i": 0}


def test_unique_key_reject_and_replace(store):
    first, = add(store, unique_key="k")
    with pytest.raises(UniqueKeyTakenError, match=f"job {first} .*unique key 'k'") as caught:
        add(store, unique_key="k", on_conflict="reject")
    assert caught.value.details == {"id": first}
    job = Job("t", {"new": True}, unique_key="k", on_conflict="replace")
    assert enqueue(store, job) == [first] and job.conflict == "replaced"
    assert store.get_job(first).payload == {"new": True}
    claim(store, 1)  # started: replace behaves as reject
    with pytest.raises(UniqueKeyTakenError, match="has started"):
        add(store, unique_key="k", on_conflict="replace")


def test_a_unique_key_is_free_again_once_its_job_is_final(store):
    first = run_to(store, JobState.SUCCEEDED, unique_key="k")
    second, = add(store, unique_key="k")
    assert second != first
    assert store.get_job(second).unique_key == "k"


# -- a big fan-out is settled a bounded number at a time ------------------------------------

@pytest.mark.parametrize("outcome", [JobState.SUCCEEDED, JobState.FAILED])
def test_a_big_fan_out_is_settled_over_several_transactions_and_survives_a_new_process(store, open_store, outcome):
    from acacia_gui.store.sqlite_dependencies import ENGINE_SETTLE_BUDGET

    parent, = add(store)
    children = add(store, ENGINE_SETTLE_BUDGET * 2 + 100, after=[parent])
    (job,) = claim(store, 1)
    store.complete_and_claim([Completion(job.id, job.attempts, outcome, error="boom")], "instance-me", 0)
    settled_now = [i for i in children if store.get_job(i).state is not JobState.WAITING]
    assert len(settled_now) == ENGINE_SETTLE_BUDGET  # the completion's transaction settles a bounded number...
    assert store.settling_pending()
    other = open_store()  # ...and what is left is in the database: another process (a restart) goes on
    rounds = 0
    while other.settling_pending():
        other.complete_and_claim([], "instance-other", 0)
        rounds += 1
    assert rounds == 2
    expected = JobState.QUEUED if outcome is JobState.SUCCEEDED else JobState.CANCELLED
    assert {store.get_job(i).state for i in children} == {expected}
    store.complete_and_claim([], "instance-me", 0)  # settling_pending() speaks of this object's last transaction
    assert not store.settling_pending()


def test_more_claimable_says_whether_a_claim_left_claimable_jobs(store):
    add(store, 3)
    claim(store, 2)
    assert store.more_claimable()
    claim(store, 1)
    assert not store.more_claimable()
    store.set_queue_concurrency("default", 1)
    add(store, 2)
    store.complete_and_claim([], "instance-me", 5)  # the queue's limit stops the claim: nothing more to claim now
    assert not store.more_claimable()
