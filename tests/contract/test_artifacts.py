"""JobStore/WorkerStore contract: a job's artifacts (job.add_artifact) — recorded at once, bounded, deleted with the job."""

from __future__ import annotations

import time

import pytest

from acacia_gui.core.definitions import MAX_ARTIFACTS_PER_JOB
from acacia_gui.core.errors import InvalidTransitionError
from acacia_gui.core.job import JobState

from .helpers import add, claim, finish


def artifact(path: str, size: int = 10, kind: str = "txt", label: str | None = None) -> dict:
    return {"path": path, "label": label, "size": size, "kind": kind, "at": time.time()}


def test_artifacts_are_recorded_at_once_in_order_and_read_by_another_handle(store, open_store):
    (job_id,) = add(store)
    claim(store)
    assert store.add_artifact(job_id, artifact("/data/out/1/a.txt", 5, label="first"))
    assert store.add_artifact(job_id, artifact("/data/out/1/b.sha256", 80, "sha256"))
    other = open_store()  # committed before add_artifact returned: another connection sees both
    got = other.get_artifacts(job_id)
    assert [(a["name"], a["size"], a["kind"], a["label"]) for a in got] == [("a.txt", 5, "txt", "first"),
                                                                            ("b.sha256", 80, "sha256", None)]
    assert got[0]["path"] == "/data/out/1/a.txt" and isinstance(got[0]["at"], float) and got[0]["id"] < got[1]["id"]


def test_the_same_path_again_updates_its_row(store):
    (job_id,) = add(store)
    store.add_artifact(job_id, artifact("/o/stdout.txt", 0))
    store.add_artifact(job_id, artifact("/o/stdout.txt", 1234, label="full output"))
    (only,) = store.get_artifacts(job_id)
    assert (only["size"], only["label"]) == (1234, "full output")


def test_an_unknown_job_gets_none_and_reads_empty(store):
    assert store.add_artifact(404, artifact("/x")) is False
    assert store.get_artifacts(404) == []


def test_a_job_s_artifacts_are_bounded(store):
    (job_id,) = add(store)
    for i in range(MAX_ARTIFACTS_PER_JOB):
        assert store.add_artifact(job_id, artifact(f"/o/{i}"))
    assert store.add_artifact(job_id, artifact("/o/one-too-many")) is False
    assert store.add_artifact(job_id, artifact("/o/0", 99))  # an update is not one more
    assert len(store.get_artifacts(job_id)) == MAX_ARTIFACTS_PER_JOB


def test_artifacts_outlive_the_run_and_go_with_the_job(store):
    keep, gone, cleared = add(store, 3)
    for job_id in (keep, gone, cleared):
        store.add_artifact(job_id, artifact(f"/o/{job_id}.txt"))
    for job in claim(store, 3):
        finish(store, job, JobState.SUCCEEDED if job.id != gone else JobState.FAILED, error=None)
    assert len(store.get_artifacts(keep)) == 1  # a finished job keeps them
    store.delete_jobs([gone], "api")
    assert store.get_artifacts(gone) == []
    store.clear_finished("api")
    assert store.get_artifacts(cleared) == [] and store.get_artifacts(keep) == []


def test_a_running_job_cannot_be_deleted_so_its_artifacts_stay(store):
    (job_id,) = add(store)
    claim(store)
    store.add_artifact(job_id, artifact("/o/a"))
    with pytest.raises(InvalidTransitionError):
        store.delete_jobs([job_id], "api")
    assert len(store.get_artifacts(job_id)) == 1
