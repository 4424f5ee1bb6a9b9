"""JobStore contract: a job's events with their ids, paged forward or read from the end (a watch replays them)."""

from __future__ import annotations

from acacia_gui.core.job import JobState

from .helpers import add, claim, events, finish, run_to


def test_event_pages_carry_increasing_ids_in_commit_order(store):
    job_id, other = add(store, 2)
    (job,) = claim(store)
    assert job.id == job_id
    finish(store, job, JobState.FAILED, error="boom")
    store.retry_job(job_id, "cli")
    page = store.get_events_page(job_id)
    assert [(e["source"], e["old_state"], e["new_state"], e["message"]) for e in page] == events(store, job_id)
    assert [e["new_state"] for e in page] == ["queued", "running", "failed", "queued"]
    ids = [e["id"] for e in page]
    assert ids == sorted(ids) and len(set(ids)) == 4
    assert [e["at"] for e in page] == [e["at"] for e in store.get_events(job_id)]
    (other_event,) = store.get_events_page(other)
    assert other_event["new_state"] == "queued" and other_event["id"] not in ids
    later = run_to(store, JobState.SUCCEEDED)
    assert min(e["id"] for e in store.get_events_page(later)) > max(ids)  # ids increase across jobs


def test_event_pages_after_an_id_with_a_limit_or_the_last_ones(store):
    (job_id,) = add(store)
    (job,) = claim(store)
    finish(store, job)
    everything = store.get_events_page(job_id)
    assert store.get_events_page(job_id, after=everything[0]["id"], limit=1) == everything[1:2]
    assert store.get_events_page(job_id, after=everything[-1]["id"]) == []
    assert store.get_events_page(job_id, last=1) == everything[-1:]
    assert store.get_events_page(job_id, last=2) == everything[-2:]
    assert store.get_events_page(job_id + 1000) == [] and store.get_events_page(job_id + 1000, last=1) == []
    store.delete_jobs([job_id], "gui")
    assert store.get_events_page(job_id) == []
