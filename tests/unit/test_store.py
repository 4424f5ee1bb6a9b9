"""SqliteJobStore: schema, constraints, atomic claims, recovery, durability levels."""

from __future__ import annotations

import shutil
import sqlite3
import threading
from pathlib import Path

import pytest

from acacia_gui.core.context import Context
from acacia_gui.core.errors import InvalidOptionError, StoreError
from acacia_gui.core.job import Job, JobState
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.recovery import RecoveryPolicy
from acacia_gui.core.registry import Registry
from acacia_gui.core.runner import Completion
from acacia_gui.store.sqlite import SCHEMA_VERSION, SqliteJobStore

DATA = Path(__file__).resolve().parents[1] / "data"


@pytest.fixture
def store(tmp_path):
    s = SqliteJobStore(tmp_path / "acacia.db")
    yield s
    s.close()


def add(store, n=1, **options):
    return JobQueue(store, Registry()).enqueue_many(Context.background(), [Job("t", {"i": i}, **options) for i in range(n)])


def test_new_database_is_wal_with_schema_version(store):
    conn = store.conn
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    assert conn.execute("PRAGMA user_version").fetchone()[0] == SCHEMA_VERSION
    assert conn.execute("PRAGMA synchronous").fetchone()[0] == 1  # NORMAL


def test_full_durability_sets_synchronous_full(tmp_path):
    s = SqliteJobStore(tmp_path / "f.db", synchronous="full")
    assert s.conn.execute("PRAGMA synchronous").fetchone()[0] == 2
    with pytest.raises(InvalidOptionError):
        SqliteJobStore(tmp_path / "g.db", synchronous="sometimes")


def test_check_constraints_refuse_invalid_states(store):
    add(store)
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("UPDATE jobs SET state = 'exploded'")
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("UPDATE jobs SET state = 'running'")  # running needs an owner
    with pytest.raises(sqlite3.IntegrityError):
        store.conn.execute("UPDATE jobs SET max_attempts = 0")


def test_the_checked_in_v1_database_still_opens(tmp_path):
    copy = tmp_path / "old.db"
    shutil.copy(DATA / "acacia-v1.db", copy)
    old = SqliteJobStore(copy)
    jobs = old.list_jobs()
    assert [j.state for j in jobs] == ["succeeded", "failed", "queued"]
    assert jobs[0].result == {"ok": True} and jobs[1].error == "boom"
    assert old.integrity_check() == "ok"


def test_a_newer_schema_is_refused_clearly(tmp_path):
    path = tmp_path / "new.db"
    SqliteJobStore(path).close()
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StoreError, match="newer Acacia"):
        SqliteJobStore(path)


def test_claims_from_many_threads_never_overlap(tmp_path):
    path = tmp_path / "race.db"
    ids = add(SqliteJobStore(path), 400)
    claimed: list[int] = []
    lock = threading.Lock()

    def claimer(n):
        store = SqliteJobStore(path)
        while True:
            _, jobs = store.complete_and_claim([], f"instance-{n}", 3)
            if not jobs:
                return
            with lock:
                claimed.extend(j.id for j in jobs)

    threads = [threading.Thread(target=claimer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(claimed) == ids


def test_completion_applies_only_to_its_own_run(store):
    (job_id,) = add(store)
    _, (job,) = store.complete_and_claim([], "me", 1)
    stale = Completion(job_id, job.attempts, JobState.SUCCEEDED, result="1")
    wrong_owner, _ = store.complete_and_claim([stale], "someone-else", 0)
    assert wrong_owner == [] and store.get_job(job_id).state == "running"
    wrong_attempt, _ = store.complete_and_claim([Completion(job_id, 99, JobState.SUCCEEDED)], "me", 0)
    assert wrong_attempt == []
    applied, _ = store.complete_and_claim([stale], "me", 0)
    assert applied == [stale] and store.get_job(job_id).state == "succeeded"


def test_recovery_requeues_without_using_an_attempt_or_interrupts(store):
    queue = JobQueue(store, Registry())
    ctx = Context.background()
    again = queue.enqueue(ctx, Job("t", max_attempts=3))
    one_attempt = queue.enqueue(ctx, Job("t", max_attempts=1))
    fragile = queue.enqueue(ctx, Job("fragile", max_attempts=3))
    store.complete_and_claim([], "dead", 10)
    changed = dict(store.recover_instance("dead", RecoveryPolicy(not_repeatable=frozenset({"fragile"}))))
    assert changed == {again: "queued", one_attempt: "queued", fragile: "interrupted"}
    for job_id in (again, one_attempt):
        job = store.get_job(job_id)
        assert (job.attempts, job.interruptions) == (0, 1)
        assert "does not use up an attempt" in store.get_events(job_id)[-1]["message"]
    assert "not safe to repeat" in store.get_job(fragile).error
    assert store.get_events(fragile)[-1]["source"] == "recovery"


def test_recovery_ends_a_job_interrupted_max_interruptions_times(store):
    (job_id,) = add(store)
    policy = RecoveryPolicy(max_interruptions={"t": 2})
    store.complete_and_claim([], "dead", 1)
    assert dict(store.recover_instance("dead", policy)) == {job_id: "queued"}
    store.complete_and_claim([], "dead", 1)
    assert dict(store.recover_instance("dead", policy)) == {job_id: "interrupted"}
    job = store.get_job(job_id)
    assert job.interruptions == 2 and "2 time(s)" in job.error and "max_interruptions=2" in job.error


def test_recovery_names_the_jobs_beside_a_thread_isolated_one(store):
    first, second = add(store, 2)
    store.complete_and_claim([], "dead", 2)
    store.recover_instance("dead", RecoveryPolicy(thread_isolated=frozenset({"t"})))
    message = store.get_events(first)[-1]["message"]
    assert f"beside job(s) {second}" in message and "isolation='thread'" in message


def test_paused_queue_and_concurrency_limit_are_respected_by_claims(store):
    add(store, 3, queue="a")
    add(store, 3, queue="b")
    store.set_queue_paused("a", True)
    store.set_queue_concurrency("b", 2)
    _, jobs = store.complete_and_claim([], "me", 10)
    assert [j.queue for j in jobs] == ["b", "b"]
    _, more = store.complete_and_claim([], "other", 10)
    assert more == []  # b's limit counts every instance's running jobs


def test_scheduled_jobs_are_promoted_when_due(store):
    (job_id,) = add(store, delay=100)
    assert store.get_job(job_id).state == "scheduled"
    assert store.promote_due() == []
    job = store.get_job(job_id)
    assert store.promote_due(now=job.run_at + 1) == [(job_id, "default")]
    assert store.get_job(job_id).state == "queued"


def test_list_filters_search_and_order(store):
    queue = JobQueue(store, Registry())
    ctx = Context.background()
    queue.enqueue(ctx, Job("image.resize", {"path": "/photos/cat_1.png"}, queue="media", priority=5))
    queue.enqueue(ctx, Job("backup.run", {"path": "/home"}))
    queue.enqueue(ctx, Job("image.resize", {"path": "/photos/100%.png"}))
    assert [j.type for j in store.list_jobs(type="image.resize")] == ["image.resize", "image.resize"]
    assert [j.id for j in store.list_jobs(search="100%")] == [3]
    assert [j.id for j in store.list_jobs(search="cat_")] == [1]
    assert [j.id for j in store.list_jobs(order_by="priority", descending=True, limit=1)] == [1]
    assert store.count_jobs(queue=["media", "default"]) == 3
    with pytest.raises(InvalidOptionError):
        store.list_jobs(order_by="payload; DROP TABLE jobs")


def test_disk_full_raises_store_error_and_keeps_the_file_sound(store):
    add(store, 5)
    pages = store.conn.execute("PRAGMA page_count").fetchone()[0]
    store.conn.execute(f"PRAGMA max_page_count = {pages}")
    with pytest.raises(StoreError, match="full"):
        add(store, 2000)
    store.conn.execute("PRAGMA max_page_count = 1073741823")
    assert store.count_jobs() == 5
    assert store.integrity_check() == "ok"


def test_jobs_read_back_have_every_attribute_set(tmp_path):
    """row_to_job fills a Job's slots directly; a slot it missed would raise AttributeError."""
    from acacia_gui.core.job import Job

    store = SqliteJobStore(tmp_path / "acacia.db")
    job_id = store.insert_jobs([Job("t", {"x": [1, "é"]}, queue="default", max_attempts=2)], "api")[0]
    job = store.get_job(job_id)
    values = {name: getattr(job, name) for name in Job.__slots__}
    assert values["payload"] == {"x": [1, "é"]} and values["state"] == "queued" and values["context"] is None
    assert job.to_dict()["max_attempts"] == 2
    job.report_progress(0.5)  # no reporter attached: a no-op, not an error
    store.close()


def test_recovery_refunds_jobs_claimed_ahead_that_never_started(store):
    ran, ahead = add(store, 2, max_attempts=1)
    _, claimed = store.complete_and_claim([], "dead", 1, prefetch=1)
    assert [j.id for j in claimed] == [ran, ahead]
    assert store.get_job(ran).started_at is not None and store.get_job(ahead).started_at is None
    changed = dict(store.recover_instance("dead"))
    assert changed == {ran: "queued", ahead: "queued"}
    assert store.get_job(ran).interruptions == 1
    job = store.get_job(ahead)
    assert (job.attempts, job.interruptions) == (0, 0) and "had not started" in store.get_events(ahead)[-1]["message"]


def test_a_started_mark_makes_a_claimed_ahead_job_count_as_run(store):
    ran, ahead = add(store, 2, max_attempts=1)
    store.complete_and_claim([], "dead", 1, prefetch=1)
    store.complete_and_claim([], "dead", 0, started=[(ahead, 123.0)])
    assert store.get_job(ahead).started_at == 123.0
    assert dict(store.recover_instance("dead")) == {ran: "queued", ahead: "queued"}
    assert store.get_job(ahead).interruptions == 1


def test_a_start_journal_entry_makes_a_claimed_ahead_job_count_as_run(store):
    ran, ahead, other = add(store, 3, max_attempts=1)
    store.complete_and_claim([], "dead", 1, prefetch=2)
    store.recover_instance("dead", RecoveryPolicy(started=frozenset({(ahead, 1), (other, 2)})))  # other: a stale attempt
    assert [store.get_job(i).interruptions for i in (ran, ahead, other)] == [1, 1, 0]


def test_logs_page_forward_or_give_the_last_lines(store):
    (job_id,) = add(store)
    store.append_logs([(job_id, float(i), "INFO", f"line {i}") for i in range(50)])
    assert [line["message"] for line in store.get_logs(job_id, last=3)] == ["line 47", "line 48", "line 49"]
    first = store.get_logs(job_id, limit=2)
    assert [line["message"] for line in first] == ["line 0", "line 1"]
    assert store.get_logs(job_id, after=first[-1]["id"], limit=1)[0]["message"] == "line 2"
    assert store.count_logs(job_id) == 50
