"""WorkerStore contract: progress, log lines, instances, data_version and background upkeep."""

from __future__ import annotations

import os
import socket
import threading
import time

from acacia_gui.core.job import JobState

from .helpers import ME, OTHER, add, claim, finish


def test_progress_is_saved_for_running_jobs_only(store):
    running, queued = add(store, 2)
    claim(store)
    store.save_progress([(running, 0.5, "half"), (queued, 0.9, "not running"), (404, 0.1, "")])
    job = store.get_job(running)
    assert (job.progress, job.progress_message) == (0.5, "half")
    assert (store.get_job(queued).progress, store.get_job(queued).progress_message) == (None, "")
    store.save_progress([(running, None, "indeterminate")])
    assert (store.get_job(running).progress, store.get_job(running).progress_message) == (None, "indeterminate")
    store.save_progress([])
    assert len(store.get_events(running)) == 2  # progress records no event


def test_a_run_s_last_progress_survives_its_end_unless_it_succeeded(store):
    failed, succeeded = add(store, 2)
    first, second = claim(store, 2)
    store.save_progress([(failed, 0.3, "step 3"), (succeeded, 0.3, "step 3")])
    finish(store, first, JobState.FAILED, error="boom", progress_message="step 3")  # no progress in the completion
    finish(store, second, JobState.SUCCEEDED, progress=0.3, progress_message="done")
    assert (store.get_job(failed).progress, store.get_job(failed).progress_message) == (0.3, "step 3")
    assert (store.get_job(succeeded).progress, store.get_job(succeeded).progress_message) == (1.0, "done")
    (again,) = add(store, max_attempts=2)
    (job,) = claim(store)
    store.save_progress([(again, 0.7, "x")])
    finish(store, job, JobState.QUEUED, refund_attempt=True)
    assert store.get_job(again).progress == 0.7
    (job,) = claim(store)
    assert (job.progress, job.progress_message) == (None, "")  # a new run starts clean


def test_logs_page_forward_or_give_the_last_lines(store):
    job_id, other = add(store, 2)
    store.append_logs([(job_id, float(i), "INFO", f"line {i}") for i in range(50)] + [(other, 0.5, "ERROR", "other")])
    assert [line["message"] for line in store.get_logs(job_id, last=3)] == ["line 47", "line 48", "line 49"]
    first = store.get_logs(job_id, limit=2)
    assert [(line["message"], line["at"], line["level"]) for line in first] == [("line 0", 0.0, "INFO"), ("line 1", 1.0, "INFO")]
    assert store.get_logs(job_id, after=first[-1]["id"], limit=1)[0]["message"] == "line 2"
    assert len(store.get_logs(job_id)) == 50 and store.count_logs(job_id) == 50
    assert store.get_logs(job_id, after=store.get_logs(job_id, last=1)[0]["id"]) == []
    assert [line["message"] for line in store.get_logs(other)] == ["other"] and store.count_logs(other) == 1
    ids = [line["id"] for line in store.get_logs(job_id)]
    assert ids == sorted(ids) and len(set(ids)) == 50
    store.append_logs([])
    assert store.count_logs(job_id) == 50


def test_instances_register_beat_and_leave(store):
    before = time.time()
    store.register_instance(ME)
    store.register_instance(OTHER)
    (mine,) = [i for i in store.instances() if i["id"] == ME]
    assert (mine["pid"], mine["hostname"]) == (os.getpid(), socket.gethostname())
    assert before <= mine["started_at"] <= mine["heartbeat_at"] <= time.time()
    time.sleep(0.01)
    store.heartbeat(ME)
    (beat,) = [i for i in store.instances() if i["id"] == ME]
    assert beat["heartbeat_at"] > mine["heartbeat_at"] and beat["started_at"] == mine["started_at"]
    store.register_instance(ME)  # again: still one row, its start kept
    assert [i["started_at"] for i in store.instances() if i["id"] == ME] == [mine["started_at"]]
    store.heartbeat("never-registered")
    store.unregister_instance(ME)
    assert [i["id"] for i in store.instances()] == [OTHER]


def test_unregistering_leaves_the_instance_s_jobs_alone(store):
    (job_id,) = add(store)
    store.register_instance(ME)
    claim(store)
    store.unregister_instance(ME)
    assert store.get_job(job_id).instance_id == ME and store.owners_of_running_jobs() == [ME]


def test_data_version_changes_when_another_connection_commits(open_store):
    mine, theirs = open_store(), open_store()
    version = mine.data_version()
    assert mine.data_version() == version  # nothing happened
    add(theirs)
    changed = mine.data_version()
    assert changed != version
    theirs.set_queue_paused("default", True)
    assert mine.data_version() != changed


def test_data_version_sees_another_thread_s_commit(store):
    version = store.data_version()
    thread = threading.Thread(target=add, args=(store,))
    thread.start()
    thread.join()
    assert store.data_version() != version


def test_background_upkeep_starts_and_stops(store):
    stop = store.checkpoint_in_background(every=0.01)
    try:
        add(store, 20)
        assert len(claim(store, 20)) == 20
    finally:
        stop()
    assert store.count_jobs(state="running") == 20  # the store still works afterwards
