"""Claiming ahead: short jobs are claimed into a buffer; cancel, pause and stop still hold for them."""

from __future__ import annotations

import threading
import time

from acacia_gui.core.context import Context


def warm_up(engine, n: int = 20) -> None:
    """Run a few no-op jobs so the worker knows its jobs are short and starts claiming ahead."""
    ids = [engine.enqueue("noop") for _ in range(n)]
    for job_id in ids:
        engine.wait_state(job_id, "succeeded")


def occupy_every_slot(engine, release: threading.Event) -> list[int]:
    def blocker(ctx, job):
        while not release.is_set() and not ctx.wait(0.01):
            pass
        ctx.check()

    if engine.registry.get_handler("blocker") is None:
        engine.registry.register_handler("blocker", blocker)
    ids = [engine.enqueue("blocker") for _ in range(engine.worker.concurrency)]
    for job_id in ids:
        engine.wait_state(job_id, "running")
    return ids


def setup(engine, concurrency: int = 2):
    ran: list[int] = []
    engine.worker.set_concurrency(concurrency)
    engine.registry.register_handler("noop", lambda ctx, job: None)
    engine.registry.register_handler("mark", lambda ctx, job: ran.append(job.id))
    engine.start()
    warm_up(engine)
    return ran


def test_short_jobs_are_claimed_ahead_and_run_in_order(engine):
    ran = setup(engine, concurrency=1)
    release = threading.Event()
    occupy_every_slot(engine, release)
    marks = [engine.enqueue("mark") for _ in range(10)]
    engine.qtbot.waitUntil(lambda: engine.store.count_jobs(state="running", type="mark") == 10)
    assert ran == []  # claimed (owned by this worker), not started
    release.set()
    for job_id in marks:
        engine.wait_state(job_id, "succeeded")
    assert ran == marks
    assert all(engine.job(job_id).attempts == 1 for job_id in marks)


def test_cancel_a_claimed_ahead_job_never_runs_it(engine):
    ran = setup(engine)
    release = threading.Event()
    occupy_every_slot(engine, release)
    marks = [engine.enqueue("mark") for _ in range(5)]
    engine.qtbot.waitUntil(lambda: engine.store.count_jobs(state="running", type="mark") == 5)
    engine.queue.cancel(marks[2], source="gui")
    job = engine.wait_state(marks[2], "cancelled")
    assert job.error == "cancelled before it ran" and job.attempts == 0
    release.set()
    for job_id in marks[:2] + marks[3:]:
        engine.wait_state(job_id, "succeeded")
    assert marks[2] not in ran


def test_pausing_a_queue_returns_its_claimed_ahead_jobs(engine):
    ran = setup(engine)
    release = threading.Event()
    occupy_every_slot(engine, release)
    engine.registry.register_handler("side", lambda ctx, job: ran.append(job.id), queue="side")
    marks = [engine.enqueue("side") for _ in range(4)]
    engine.qtbot.waitUntil(lambda: engine.store.count_jobs(state="running", queue="side") == 4)
    engine.queue.pause("side")
    engine.qtbot.waitUntil(lambda: engine.store.count_jobs(state="queued", queue="side") == 4)
    assert all(engine.job(job_id).attempts == 0 for job_id in marks) and ran == []
    release.set()
    engine.queue.resume("side")
    for job_id in marks:
        engine.wait_state(job_id, "succeeded")
    assert sorted(ran) == marks


def test_stop_returns_claimed_ahead_jobs_to_the_queue(engine):
    ran = setup(engine)
    release = threading.Event()
    blockers = occupy_every_slot(engine, release)
    marks = [engine.enqueue("mark") for _ in range(6)]
    engine.qtbot.waitUntil(lambda: engine.store.count_jobs(state="running", type="mark") == 6)
    engine.worker.stop(Context.background().with_timeout(0.2))
    for job_id in marks + blockers:
        job = engine.job(job_id)
        assert job.state == "queued" and job.attempts == 0
    assert ran == [] and not engine.store.owners_of_running_jobs()


def test_handlers_not_safe_to_repeat_are_never_claimed_ahead(engine):
    ran = setup(engine)
    engine.registry.register_handler("fragile", lambda ctx, job: ran.append(job.id), on_interrupt="fail")
    release = threading.Event()
    occupy_every_slot(engine, release)
    fragile = engine.enqueue("fragile")
    behind = engine.enqueue("mark")  # behind it in order, so not claimed ahead of it either
    engine.enqueue("noop")  # another wake-up for the worker
    assert engine.job(fragile).state == "queued" and engine.job(behind).state == "queued"
    release.set()
    engine.wait_state(fragile, "succeeded")
    engine.wait_state(behind, "succeeded")
    assert sorted(ran) == [fragile, behind]


def test_long_jobs_are_not_claimed_ahead(engine):
    release = threading.Event()
    engine.registry.register_handler("slowish", lambda ctx, job: ctx.wait(0.3))
    engine.registry.register_handler("mark", lambda ctx, job: None)
    engine.start()
    first = [engine.enqueue("slowish"), engine.enqueue("slowish")]
    for job_id in first:
        engine.wait_state(job_id, "succeeded")
    occupy_every_slot(engine, release)
    waiting = [engine.enqueue("mark") for _ in range(3)]
    engine.enqueue("mark")
    assert all(engine.job(job_id).state == "queued" for job_id in waiting)
    release.set()
    for job_id in waiting:
        engine.wait_state(job_id, "succeeded")


def test_a_batch_of_completions_applies_only_where_the_run_still_owns_its_job(tmp_path):
    from acacia_gui.core.job import Job, JobState
    from acacia_gui.core.runner import Completion
    from acacia_gui.store.sqlite import SqliteJobStore

    store = SqliteJobStore(tmp_path / "acacia.db")
    store.insert_jobs([Job("t", i, queue="default", max_attempts=1) for i in range(3)], "api")
    _, claimed = store.complete_and_claim([], "me", 3)
    a, b, c = (job.id for job in claimed)
    done = [Completion(job.id, 1, JobState.SUCCEEDED, result="1") for job in claimed]
    stale = Completion(b, 7, JobState.FAILED, error="from an attempt that no longer owns the job")
    applied, _ = store.complete_and_claim([done[0], stale, done[2]], "me", 0)
    assert [x.job_id for x in applied] == [a, c]
    assert [store.get_job(i).state for i in (a, b, c)] == ["succeeded", "running", "succeeded"]
    assert [e["new_state"] for e in store.get_events(b)] == ["queued", "running"]
    applied, _ = store.complete_and_claim([done[1]], "me", 0)
    assert [x.job_id for x in applied] == [b] and store.get_job(b).result == 1
    store.close()


def test_pool_tasks_end_when_idle_and_come_back_for_new_work(engine, monkeypatch):
    import acacia_gui.engine.run_queue as worker_module

    monkeypatch.setattr(worker_module, "IDLE_TASK_EXIT", 0.05)
    ran = setup(engine)
    pool = engine.worker.thread_pool
    engine.qtbot.waitUntil(lambda: pool.activeThreadCount() == 0)  # no work: the tasks ended
    later = [engine.enqueue("mark") for _ in range(5)]
    for job_id in later:
        engine.wait_state(job_id, "succeeded")
    assert sorted(ran) == later


def test_stop_ends_the_pool_tasks(engine):
    setup(engine)
    engine.stop(2.0)
    engine.qtbot.waitUntil(lambda: engine.worker.thread_pool.activeThreadCount() == 0, timeout=1000)


def test_wal_checkpoints_run_in_the_background_while_the_worker_runs(engine, tmp_path):
    import os

    from acacia_gui.core.job import Job
    from acacia_gui.store.sqlite import BACKSTOP_CHECKPOINT_PAGES

    def checkpoint_threads() -> int:
        return sum(t.name == "acacia-wal-checkpoint" for t in threading.enumerate())

    def autocheckpoint() -> int:
        return engine.store.conn.execute("PRAGMA wal_autocheckpoint").fetchone()[0]

    engine.start()
    assert checkpoint_threads() == 1 and autocheckpoint() == BACKSTOP_CHECKPOINT_PAGES
    started = time.monotonic()
    for i in range(1500):
        engine.store.insert_jobs([Job("t", i, queue="nowhere", max_attempts=1)], "api")
    while time.monotonic() - started < 0.5:  # long enough for several background checkpoints
        engine.store.insert_jobs([Job("t", queue="nowhere", max_attempts=1)], "api")
    # Unchecked, these commits would leave a WAL of 100+ MB; the backstop bounds it.
    assert os.path.getsize(tmp_path / "acacia.db-wal") < 3 * BACKSTOP_CHECKPOINT_PAGES * 4120  # 4 KiB pages
    engine.stop()
    assert checkpoint_threads() == 0 and autocheckpoint() == 1000


def test_pool_tasks_take_buffered_jobs_within_the_limit_and_running_is_announced_first(engine):
    """Pool tasks start claimed-ahead jobs themselves; the concurrency limit (also a lowered one)
    holds, and each job's `running` event comes before its outcome on the bus."""
    setup(engine, concurrency=2)
    lock = threading.Lock()
    now = [0]
    peak = [0]

    def counted(ctx, job):
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        time.sleep(0.0005)  # short: the buffer fills, and pool tasks feed themselves from it
        with lock:
            now[0] -= 1

    engine.registry.register_handler("counted", counted)
    first = [engine.enqueue("counted") for _ in range(300)]
    for job_id in first:
        engine.wait_state(job_id, "succeeded")
    assert peak[0] <= 2
    engine.worker.set_concurrency(1)
    peak[0] = 0
    second = [engine.enqueue("counted") for _ in range(200)]
    for job_id in second:
        engine.wait_state(job_id, "succeeded")
    assert peak[0] == 1
    order: dict[int, list[str]] = {}
    for event in engine.events:
        if event.kind == "state" and event.job_id in order.keys() | set(first + second):
            order.setdefault(event.job_id, []).append(event.state)
    for job_id in first + second:
        states = order[job_id]
        assert states.index("running") < states.index("succeeded"), (job_id, states)
