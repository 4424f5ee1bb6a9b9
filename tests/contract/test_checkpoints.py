"""JobStore/WorkerStore contract: a job's checkpoint (job.save_checkpoint) — committed at once, the
last one wins, refused for a stale attempt or an unknown job, kept by a retry, deleted with the job."""

from __future__ import annotations

import pytest

from acacia_gui.core.errors import StoreError
from acacia_gui.core.job import JobState

from .helpers import add, claim, finish


def test_a_checkpoint_is_committed_at_once_and_the_last_one_wins(store, open_store):
    (job_id,) = add(store)
    (job,) = claim(store)
    assert store.get_checkpoint(job_id) is None
    first = store.save_checkpoint(job_id, job.attempts, '{"next":10}')
    second = store.save_checkpoint(job_id, job.attempts, '{"next":20}')
    assert isinstance(first, float) and second >= first
    got = open_store().get_checkpoint(job_id)  # another connection sees it: committed before the return
    assert got == {"data": {"next": 20}, "saved_at": second, "attempt": job.attempts}


def test_a_stale_attempt_or_an_unknown_job_saves_nothing(store):
    (job_id,) = add(store)
    (job,) = claim(store)
    assert store.save_checkpoint(job_id, job.attempts + 1, '{"late":true}') is None
    assert store.save_checkpoint(job_id + 1000, 1, "1") is None
    assert store.get_checkpoint(job_id) is None and store.get_checkpoint(job_id + 1000) is None


def test_a_retry_keeps_the_checkpoint_and_the_next_claim_reads_it_in_one_batch(store):
    ids = add(store, 3)
    jobs = claim(store, slots=3)
    store.save_checkpoint(ids[0], jobs[0].attempts, '{"next":5}')
    store.save_checkpoint(ids[2], jobs[2].attempts, '[1,2]')
    for job in jobs:
        finish(store, job, JobState.FAILED, error="boom")
    store.retry_job(ids[0], "cli")
    (again,) = claim(store)
    assert again.id == ids[0] and store.get_checkpoint(ids[0])["data"] == {"next": 5}
    found = store.get_checkpoints(ids)
    assert {job_id: value["data"] for job_id, value in found.items()} == {ids[0]: {"next": 5}, ids[2]: [1, 2]}
    assert store.save_checkpoint(ids[0], again.attempts, '{"next":6}') is not None


def test_the_checkpoint_is_deleted_with_its_job(store):
    (job_id,) = add(store)
    (job,) = claim(store)
    store.save_checkpoint(job_id, job.attempts, '"half way"')
    finish(store, job)
    assert store.delete_jobs([job_id], "cli") == 1
    assert store.get_checkpoint(job_id) is None


@pytest.mark.parametrize("bad", ["{not json", ""])
def test_text_that_is_not_json_is_refused_by_the_store_itself(store, bad):
    (job_id,) = add(store)
    (job,) = claim(store)
    with pytest.raises(StoreError):
        store.save_checkpoint(job_id, job.attempts, bad)
    assert store.get_checkpoint(job_id) is None


def test_a_checkpoint_saved_after_the_claim_wins_over_what_the_claim_read(store):
    """Both stores answer the engine from what its claim read; a checkpoint saved since then (by
    the attempt just claimed) is what the next read gives, never the older one."""
    ids = add(store, 1)
    (job,) = claim(store)
    store.save_checkpoint(ids[0], job.attempts, '{"next":1}')
    finish(store, job, JobState.FAILED, error="boom")
    store.retry_job(ids[0], "cli")
    (again,) = claim(store)
    assert store.save_checkpoint(ids[0], again.attempts, '{"next":2}') is not None
    assert store.get_checkpoints([ids[0]])[ids[0]]["data"] == {"next": 2}


def test_the_checkpoints_of_the_jobs_just_claimed_are_their_saved_ones(store):
    """The engine asks for the checkpoints of the jobs it has just claimed (PostgreSQL answers
    from what its claim read); asking again, or for other jobs, reads the table: same answer."""
    ids = add(store, 2)
    jobs = claim(store, slots=2)
    store.save_checkpoint(ids[0], jobs[0].attempts, '{"next":7}')
    for job in jobs:
        finish(store, job, JobState.FAILED, error="boom")
    for job_id in ids:
        store.retry_job(job_id, "cli")
    again = claim(store, slots=2)
    assert sorted(job.id for job in again) == ids
    first = store.get_checkpoints([job.id for job in again])
    assert {job_id: value["data"] for job_id, value in first.items()} == {ids[0]: {"next": 7}}
    assert first[ids[0]]["attempt"] == jobs[0].attempts
    assert store.get_checkpoints([job.id for job in again]) == first
    assert store.get_checkpoints([ids[0]]) == {ids[0]: first[ids[0]]}
