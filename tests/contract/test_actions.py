"""JobStore contract: the user's actions (cancel, retry, delete, clear, queue settings), their events and errors."""

from __future__ import annotations

import pytest

from acacia_gui.core.definitions import MAX_QUEUE_CONCURRENCY
from acacia_gui.core.errors import InvalidOptionError, InvalidTransitionError, JobNotFoundError
from acacia_gui.core.job import JobState

from .helpers import ME, add, claim, events, finish, run_to


@pytest.mark.parametrize("delay", [0, 60], ids=["queued", "scheduled"])
def test_cancelling_a_waiting_job_ends_it_at_once(store, delay):
    (job_id,) = add(store, delay=delay)
    was = store.get_job(job_id).state.value
    job = store.cancel_job(job_id, "gui")
    assert job.state is JobState.CANCELLED and job.error == "cancelled before it ran" and job.finished_at is not None
    assert store.get_job(job_id).state is JobState.CANCELLED
    assert events(store, job_id)[-1] == ("gui", was, "cancelled", "")
    assert claim(store, 5) == [] and store.promote_due(now=job.finished_at + 3600) == []


def test_cancelling_a_running_job_asks_its_owner(store):
    first, second = add(store, 2)
    claim(store, 2)
    job = store.cancel_job(first, "socket")
    assert (job.state, job.cancel_requested) == (JobState.RUNNING, True)
    assert store.get_job(first).cancel_requested is True and len(store.get_events(first)) == 2  # no new event
    assert store.cancel_requested_among([first, second, 999]) == [first] and store.cancel_requested_among([]) == []
    finish(store, store.get_job(first), JobState.CANCELLED, error="cancelled while running", message="cancelled")
    assert store.get_job(first).cancel_requested is False
    assert events(store, first)[-1] == ("worker", "running", "cancelled", "cancelled")


@pytest.mark.parametrize("state", [JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED, JobState.INTERRUPTED])
def test_a_job_that_is_over_cannot_be_cancelled(store, state):
    job_id = run_to(store, state)
    before = store.get_events(job_id)
    with pytest.raises(InvalidTransitionError):
        store.cancel_job(job_id, "cli")
    assert store.get_job(job_id).state is state and store.get_events(job_id) == before


def test_actions_on_an_unknown_job_raise_not_found(store):
    for action in (store.cancel_job, store.retry_job):
        with pytest.raises(JobNotFoundError):
            action(404, "cli")


def test_retrying_a_failed_job_gives_it_a_fresh_set_of_attempts(store):
    (job_id,) = add(store, max_attempts=1)
    (job,) = claim(store)
    store.save_progress([(job_id, 0.4, "reading")])
    finish(store, job, JobState.FAILED, error="boom", traceback="Traceback …", progress=0.4, progress_message="reading")
    job = store.retry_job(job_id, "gui")
    assert (job.state, job.attempts, job.error, job.traceback, job.result) == (JobState.QUEUED, 0, None, None, None)
    assert (job.progress, job.progress_message, job.started_at, job.finished_at) == (None, "", None, None)
    assert job.cancel_requested is False
    assert events(store, job_id)[-1] == ("gui", "failed", "queued", "retry")
    (again,) = claim(store)
    assert (again.id, again.attempts) == (job_id, 1)


@pytest.mark.parametrize("state", [JobState.CANCELLED, JobState.INTERRUPTED])
def test_cancelled_and_interrupted_jobs_can_be_retried(store, state):
    job_id = run_to(store, state)
    assert store.retry_job(job_id, "socket").state is JobState.QUEUED
    assert events(store, job_id)[-1] == ("socket", state.value, "queued", "retry")


def test_only_failed_cancelled_or_interrupted_jobs_can_be_retried(store):
    (running,) = add(store)
    claim(store)
    queued, scheduled = add(store)[0], add(store, delay=60)[0]
    succeeded = run_to(store, JobState.SUCCEEDED)
    for job_id, state in ((queued, "queued"), (scheduled, "scheduled"), (succeeded, "succeeded"), (running, "running")):
        with pytest.raises(InvalidTransitionError):
            store.retry_job(job_id, "cli")
        assert store.get_job(job_id).state == state


def test_deleting_removes_jobs_with_their_events_and_logs(store):
    keep, gone, failed = [*add(store, 2), run_to(store, JobState.FAILED)]
    store.append_logs([(failed, 1.0, "INFO", "a line"), (keep, 1.0, "INFO", "kept")])
    assert store.delete_jobs([gone, failed, gone], "gui") == 2  # a repeated id counts once
    assert store.get_job(gone) is None and store.get_job(failed) is None
    assert store.get_events(failed) == [] and store.get_logs(failed) == [] and store.count_logs(failed) == 0
    assert [j.id for j in store.list_jobs()] == [keep] and store.count_logs(keep) == 1
    assert store.delete_jobs([], "gui") == 0


def test_deleting_is_all_or_none(store):
    running, queued = add(store, 2)
    assert [j.id for j in claim(store)] == [running]
    with pytest.raises(InvalidTransitionError):
        store.delete_jobs([queued, running], "gui")
    with pytest.raises(JobNotFoundError):
        store.delete_jobs([queued, 404], "gui")
    assert store.count_jobs() == 2 and len(store.get_events(queued)) == 1


def test_clear_finished_deletes_the_jobs_that_are_over(store):
    over = [run_to(store, state, queue=queue) for state in (JobState.SUCCEEDED, JobState.FAILED, JobState.CANCELLED,
                                                            JobState.INTERRUPTED) for queue in ("a", "b")]  # fmt: skip
    waiting = add(store, 1, queue="a") + add(store, 1, queue="b", delay=60)
    (running,) = add(store, queue="b")
    claim(store, 1)
    assert sorted(store.clear_finished("cli", queue="a")) == over[0::2]
    assert {j.id for j in store.list_jobs(queue="a")} == {waiting[0]}
    assert sorted(store.clear_finished("gui")) == over[1::2]
    assert sorted(j.id for j in store.list_jobs()) == sorted([*waiting, running])
    assert all(store.get_events(job_id) == [] for job_id in over)
    assert store.clear_finished("gui") == []


def test_pausing_and_resuming_a_queue(store):
    store.set_queue_paused("new-queue", True)
    assert store.get_queue("new-queue").paused is True
    store.set_queue_paused("new-queue", False)
    assert store.get_queue("new-queue").paused is False


@pytest.mark.parametrize("bad", [-1, MAX_QUEUE_CONCURRENCY + 1, True, 2.5, "3", None])
def test_a_bad_concurrency_is_refused(store, bad):
    with pytest.raises(InvalidOptionError):
        store.set_queue_concurrency("default", bad)
    assert store.get_queue("default").concurrency == 0


@pytest.mark.parametrize("bad", ["", "has space", "x" * 65, "../up"])
def test_a_bad_queue_name_is_refused(store, bad):
    with pytest.raises(InvalidOptionError):
        store.set_queue_paused(bad, True)
    with pytest.raises(InvalidOptionError):
        store.set_queue_concurrency(bad, 1)
    assert [q.name for q in store.list_queues()] == ["default"]


def test_a_queue_setting_keeps_the_other(store):
    store.set_queue_concurrency("media", MAX_QUEUE_CONCURRENCY)
    store.set_queue_paused("media", True)
    info = store.get_queue("media")
    assert (info.concurrency, info.paused) == (MAX_QUEUE_CONCURRENCY, True)
    store.set_queue_concurrency("media", 0)
    assert store.get_queue("media").paused is True


def test_every_event_names_its_source(store):
    (job_id,) = add(store)  # JobQueue's default source: api
    store.cancel_job(job_id, "cli")
    store.retry_job(job_id, "socket")
    (job,) = claim(store)
    finish(store, job, JobState.FAILED, ME, error="x" * 600)
    assert [(e[0], e[1], e[2]) for e in events(store, job_id)] == [
        ("api", None, "queued"), ("cli", "queued", "cancelled"), ("socket", "cancelled", "queued"),
        ("worker", "queued", "running"), ("worker", "running", "failed")]  # fmt: skip
    assert events(store, job_id)[3][3] == "attempt 1" and events(store, job_id)[4][3] == "x" * 500  # the error, cut short
    times = [e["at"] for e in store.get_events(job_id)]
    assert times == sorted(times)
