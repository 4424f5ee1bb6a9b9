"""JobStore/WorkerStore contract: stalled jobs — marked with an event, cleared, listed, and never
shown once untrue (the run ended, or the app died and the job runs again)."""

from __future__ import annotations

import time

from acacia_gui.core.job import JobState
from acacia_gui.core.recovery import RecoveryPolicy

from .helpers import ME, add, claim, finish


def running_events(store, job_id):
    return [e["message"] for e in store.get_events(job_id) if e["old_state"] == e["new_state"] == "running"]


def test_a_running_job_is_marked_once_read_by_another_handle_and_listed(store, open_store):
    first, second, waiting = add(store, 3)
    claim(store, 2)
    since = time.time()
    assert store.mark_stalled(first, since, 60.0)
    assert not store.mark_stalled(first, since + 5, 60.0)  # already flagged: no second event
    assert not store.mark_stalled(waiting, since, 60.0)  # not running
    stall = open_store().get_stall(first)
    assert stall["since"] == since and stall["stall_after"] == 60.0 and 0 <= stall["for"] < 30
    assert store.get_stall(second) is None and store.get_stall(waiting) is None and store.get_stall(999) is None
    assert store.stalled_job_ids() == [first]
    assert running_events(store, first) == ["stalled: no progress or log line for 60 s"]
    assert store.get_events(first)[-1]["source"] == "worker"


def test_clearing_records_its_message_only_for_a_current_stall(store):
    (job_id,) = add(store)
    claim(store)
    assert not store.clear_stall(job_id, "resumed")  # nothing to clear: no event
    assert store.mark_stalled(job_id, time.time(), 1.0)
    assert store.clear_stall(job_id, "resumed")
    assert store.get_stall(job_id) is None and store.stalled_job_ids() == []
    assert store.clear_stall(job_id, "resumed") is False
    assert running_events(store, job_id) == ["stalled: no progress or log line for 1 s", "resumed"]
    assert store.mark_stalled(job_id, time.time(), 1.0)  # flagged again later in the same run
    assert store.clear_stall(job_id, "stall extended by 1 s", "socket")
    assert store.get_events(job_id)[-1]["source"] == "socket"


def test_a_stall_ends_with_its_run(store):
    (job_id,) = add(store)
    (job,) = claim(store)
    assert store.mark_stalled(job_id, time.time(), 1.0)
    finish(store, job, JobState.SUCCEEDED)  # the engine had no time to remove the row
    assert store.get_stall(job_id) is None and store.stalled_job_ids() == []
    store.clear_stall(job_id, "")  # the engine's tidy-up afterwards: no event
    assert running_events(store, job_id) == ["stalled: no progress or log line for 1 s"]


def test_a_stall_does_not_survive_the_app_s_death(store):
    """The app died with the job flagged: the next run is a new run, not stalled (yet)."""
    (job_id,) = add(store)
    claim(store, 1, "dead")
    assert store.mark_stalled(job_id, time.time() - 10, 1.0)
    store.recover_instance("dead", RecoveryPolicy())
    assert store.get_job(job_id).state is JobState.QUEUED
    assert store.get_stall(job_id) is None
    (again,) = claim(store, 1, ME)
    assert again.id == job_id and store.get_stall(job_id) is None and store.stalled_job_ids() == []
