"""WorkerStore contract: recover_instance settles a dead instance's jobs as core.recovery.decide says."""

from __future__ import annotations

from acacia_gui.core.job import JobState
from acacia_gui.core.limits import DEFAULT_MAX_INTERRUPTIONS
from acacia_gui.core.recovery import RecoveryPolicy
from acacia_gui.core.runner import Completion

from .helpers import DEAD, ME, add, claim, events

NONE = RecoveryPolicy()


def test_a_started_job_is_requeued_without_using_an_attempt(store):
    again, one_attempt = add(store, max_attempts=3) + add(store, max_attempts=1)
    claim(store, 2, DEAD)
    store.cancel_job(again, "gui")  # a cancel the dead instance never saw
    assert dict(store.recover_instance(DEAD, NONE)) == {again: "queued", one_attempt: "queued"}
    for job_id in (again, one_attempt):
        job = store.get_job(job_id)
        assert (job.state, job.attempts, job.interruptions, job.instance_id) == ("queued", 0, 1, None)
        assert job.cancel_requested is False
        assert job.error is None and job.finished_at is None and job.started_at is not None
        source, old, new, message = events(store, job_id)[-1]
        assert (source, old, new) == ("recovery", "running", "queued") and "does not use up an attempt" in message
        assert f"interruption 1 of at most {DEFAULT_MAX_INTERRUPTIONS}" in message
    assert sorted(j.id for j in claim(store, 5, ME)) == [again, one_attempt]  # free to run again
    assert store.get_job(one_attempt).attempts == 1


def test_a_job_not_safe_to_repeat_ends_interrupted(store):
    fragile, other = add(store, 1, "fragile", max_attempts=3) + add(store, 1)
    claim(store, 2, DEAD)
    changed = store.recover_instance(DEAD, RecoveryPolicy(not_repeatable=frozenset({"fragile"})))
    assert sorted(changed) == [(fragile, "interrupted"), (other, "queued")]
    job = store.get_job(fragile)
    assert (job.state, job.attempts, job.interruptions, job.instance_id) == ("interrupted", 1, 1, None)
    assert "not safe to repeat" in job.error and job.finished_at is not None
    assert events(store, fragile)[-1] == ("recovery", "running", "interrupted", job.error)


def test_a_job_ends_interrupted_after_max_interruptions(store):
    (job_id,) = add(store, max_attempts=5)
    policy = RecoveryPolicy(max_interruptions={"t": 2})
    claim(store, 1, DEAD)
    assert store.recover_instance(DEAD, policy) == [(job_id, "queued")]
    claim(store, 1, DEAD)
    assert store.recover_instance(DEAD, policy) == [(job_id, "interrupted")]
    job = store.get_job(job_id)
    assert (job.interruptions, job.attempts) == (2, 0) and "2 time(s)" in job.error and "max_interruptions=2" in job.error


def test_a_claimed_job_that_never_started_simply_goes_back(store):
    ran, ahead = add(store, 2, max_attempts=1)
    claimed = claim(store, 1, DEAD, prefetch=1)
    assert [j.id for j in claimed] == [ran, ahead] and claimed[1].started_at is None
    assert dict(store.recover_instance(DEAD, RecoveryPolicy(not_repeatable=frozenset({"t"})))) == {
        ran: "interrupted", ahead: "queued"}  # fmt: skip  (never started: not an interruption, whatever the handler)
    job = store.get_job(ahead)
    assert (job.attempts, job.interruptions, job.started_at) == (0, 0, None)
    assert "had not started" in events(store, ahead)[-1][3]


def test_a_start_mark_makes_a_claimed_ahead_job_count_as_run(store):
    ran, ahead = add(store, 2, max_attempts=1)
    claim(store, 1, DEAD, prefetch=1)
    store.complete_and_claim([], DEAD, 0, started=[(ahead, 123.0)])
    assert dict(store.recover_instance(DEAD, NONE)) == {ran: "queued", ahead: "queued"}
    assert store.get_job(ahead).interruptions == 1 and store.get_job(ahead).started_at == 123.0


def test_the_start_journal_counts_only_the_attempt_it_lists(store):
    ran, ahead, stale = add(store, 3, max_attempts=1)
    claim(store, 1, DEAD, prefetch=2)
    store.recover_instance(DEAD, RecoveryPolicy(started=frozenset({(ahead, 1), (stale, 2)})))  # stale: another attempt
    assert [store.get_job(i).interruptions for i in (ran, ahead, stale)] == [1, 1, 0]
    assert store.get_job(ahead).started_at is not None  # a run the journal lists gets a start time
    assert store.get_job(stale).started_at is None


def test_a_thread_isolated_job_names_the_jobs_that_ran_beside_it(store):
    first, second, fragile, not_started = add(store, 2) + add(store, 1, "proc") + add(store, 1)
    claim(store, 3, DEAD, prefetch=1)
    store.recover_instance(DEAD, RecoveryPolicy(thread_isolated=frozenset({"t"})))
    message = events(store, first)[-1][3]
    # exactly the others that started: `not_started` never ran, so it cannot have been the cause
    assert f"beside job(s) {second}, {fragile}, so any" in message and "isolation='thread'" in message
    assert "beside" not in events(store, not_started)[-1][3]
    assert "beside" not in events(store, fragile)[-1][3]  # its handler ran in its own process


def test_a_thread_isolated_job_alone_names_no_one(store):
    (job_id,) = add(store)
    claim(store, 1, DEAD)
    store.recover_instance(DEAD, RecoveryPolicy(thread_isolated=frozenset({"t"})))
    assert "beside" not in events(store, job_id)[-1][3]


def test_recovery_touches_only_the_dead_instance_and_forgets_it(store):
    theirs, mine = add(store, 2)
    store.register_instance(DEAD)
    store.register_instance(ME)
    claim(store, 1, DEAD)
    claim(store, 1, ME)
    assert sorted(store.owners_of_running_jobs()) == sorted([DEAD, ME])
    assert store.recover_instance(DEAD, NONE) == [(theirs, "queued")]
    assert store.get_job(mine).instance_id == ME and store.owners_of_running_jobs() == [ME]
    assert [i["id"] for i in store.instances()] == [ME]
    assert store.recover_instance("never-seen", NONE) == []


def test_a_late_completion_from_the_dead_instance_is_ignored(store):
    (job_id,) = add(store, max_attempts=3)
    (dead_run,) = claim(store, 1, DEAD)
    store.recover_instance(DEAD, NONE)
    (new_run,) = claim(store, 1, ME)
    assert new_run.attempts == dead_run.attempts  # the refunded attempt is taken again
    late = Completion(job_id, dead_run.attempts, JobState.FAILED, error="late")
    assert store.complete_and_claim([late], DEAD, 0) == ([], [])
    assert store.get_job(job_id).state is JobState.RUNNING and store.get_job(job_id).instance_id == ME
