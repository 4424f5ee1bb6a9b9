"""PoolWorker on a real SQLite file: outcomes, retries, timeouts, cancel, priorities, pause, stop."""

from __future__ import annotations

import logging
import sys
import threading
import time

from acacia_gui.core.context import Context
from acacia_gui.core.errors import Retry
from acacia_gui.core.job import Job


def test_success_result_and_events(engine):
    engine.registry.register_handler("add", lambda ctx, job: {"sum": job.payload["a"] + job.payload["b"]})
    engine.start()
    job_id = engine.enqueue("add", {"a": 2, "b": 3})
    job = engine.wait_state(job_id, "succeeded")
    assert job.result == {"sum": 5}
    assert job.attempts == 1 and job.progress == 1.0
    assert job.started_at and job.finished_at and job.finished_at >= job.started_at
    states = [(e["source"], e["new_state"]) for e in engine.store.get_events(job_id)]
    assert states == [("api", "queued"), ("worker", "running"), ("worker", "succeeded")]
    announced = [e.state for e in engine.events if e.job_id == job_id and e.kind == "state"]
    assert announced == ["running", "succeeded"]


def test_exception_fails_with_message_and_traceback(engine):
    def broken(ctx, job):
        raise ValueError("bad input file")

    engine.registry.register_handler("broken", broken)
    engine.start()
    job = engine.wait_state(engine.enqueue("broken", {}), "failed")
    assert job.error == "ValueError: bad input file"
    assert "Traceback" in job.traceback and "broken" in job.traceback


def test_junk_result_fails_and_sys_exit_is_contained(engine):
    engine.registry.register_handler("junk", lambda ctx, job: {1, 2})
    engine.registry.register_handler("exit", lambda ctx, job: sys.exit(3))
    engine.registry.register_handler("ok", lambda ctx, job: "fine")
    engine.start()
    junk, bye, ok = engine.enqueue("junk"), engine.enqueue("exit"), engine.enqueue("ok")
    assert "not JSON" in engine.wait_state(junk, "failed").error
    assert "SystemExit" in engine.wait_state(bye, "failed").error
    assert engine.wait_state(ok, "succeeded").result == "fine"


def test_unknown_type_fails_clearly(engine):
    engine.start()
    job = engine.wait_state(engine.enqueue("nobody.handles.this"), "failed")
    assert "no handler is registered" in job.error


def test_retries_with_backoff_then_succeeds(engine):
    calls = []

    def flaky(ctx, job):
        calls.append(time.monotonic())
        if len(calls) < 3:
            raise RuntimeError(f"flake {len(calls)}")
        return len(calls)

    engine.registry.register_handler("flaky", flaky, max_attempts=3, retry_backoff=0.2)
    engine.start()
    job = engine.wait_state(engine.enqueue("flaky"), "succeeded", timeout=15)
    assert job.result == 3 and job.attempts == 3
    # backoff 0.2·2^0 then 0.2·2^1, each ±25 %
    assert calls[1] - calls[0] >= 0.15 - 0.05
    assert calls[2] - calls[1] >= 0.3 - 0.05
    sequence = [e["new_state"] for e in engine.store.get_events(job.id)]
    assert sequence.count("scheduled") == 2 and sequence[-1] == "succeeded"


def test_attempts_used_up_fails(engine):
    engine.registry.register_handler("never", lambda ctx, job: 1 / 0, max_attempts=2, retry_backoff=0)
    engine.start()
    job = engine.wait_state(engine.enqueue("never"), "failed")
    assert job.attempts == 2 and "after 2 attempts" in job.error


def test_retry_exception_uses_its_delay(engine):
    seen = []

    def later(ctx, job):
        seen.append(time.time())
        if len(seen) == 1:
            raise Retry(delay=0.5)
        return "done"

    engine.registry.register_handler("later", later, max_attempts=5)
    engine.start()
    job = engine.wait_state(engine.enqueue("later"), "succeeded")
    assert seen[1] - seen[0] >= 0.45
    assert job.attempts == 2


def test_timeout_cancels_context_and_fails(engine):
    def slow(ctx, job):
        while not ctx.wait(0.05):
            pass
        ctx.check()

    engine.registry.register_handler("slow", slow)
    engine.start()
    job = engine.wait_state(engine.enqueue("slow", timeout=0.3), "failed")
    assert "timed out" in job.error and "0.3" in job.error


def test_cancel_queued_job_never_runs(engine):
    ran = []
    engine.registry.register_handler("mark", lambda ctx, job: ran.append(job.id))
    engine.queue.pause("default")
    engine.start()
    job_id = engine.enqueue("mark")
    cancelled = engine.queue.cancel(job_id)
    assert cancelled.state == "cancelled"
    engine.queue.resume("default")
    other = engine.enqueue("mark")
    engine.wait_state(other, "succeeded")
    assert ran == [other]
    assert engine.job(job_id).state == "cancelled"


def test_cancel_running_job_ends_cancelled_without_retry(engine):
    started = threading.Event()

    def wait_forever(ctx, job):
        started.set()
        ctx.wait()
        ctx.check()

    engine.registry.register_handler("waiter", wait_forever, max_attempts=5)
    engine.start()
    job_id = engine.enqueue("waiter")
    engine.qtbot.waitUntil(started.is_set)
    engine.queue.cancel(job_id, source="gui")
    job = engine.wait_state(job_id, "cancelled")
    assert job.attempts == 1
    assert [e["source"] for e in engine.store.get_events(job_id)][-1] == "worker"


def test_priorities_then_fifo(engine):
    order = []
    engine.registry.register_handler("rec", lambda ctx, job: order.append(job.payload))
    engine.worker.set_concurrency(1)
    engine.queue.pause("default")
    engine.start()
    for name, priority in [("low1", 0), ("high1", 10), ("low2", 0), ("high2", 10), ("mid", 5)]:
        engine.enqueue("rec", name, priority=priority)
    engine.queue.resume("default")
    engine.qtbot.waitUntil(lambda: len(order) == 5)
    assert order == ["high1", "high2", "mid", "low1", "low2"]


def test_delayed_job_is_scheduled_then_runs(engine):
    engine.registry.register_handler("t", lambda ctx, job: time.time())
    engine.start()
    before = time.time()
    job_id = engine.enqueue("t", delay=0.6)
    assert engine.job(job_id).state == "scheduled"
    job = engine.wait_state(job_id, "succeeded")
    assert job.result >= before + 0.6


def test_pause_and_resume_a_queue(engine):
    engine.registry.register_handler("q", lambda ctx, job: "ok", queue="slowlane")
    engine.queue.pause("slowlane")
    engine.start()
    paused_job = engine.enqueue("q")
    other = engine.enqueue("q", queue="default")
    engine.wait_state(other, "succeeded")
    assert engine.job(paused_job).state == "queued" and engine.job(paused_job).queue == "slowlane"
    engine.queue.resume("slowlane")
    engine.wait_state(paused_job, "succeeded")


class PeakCounter:
    """A handler that holds its slot for `seconds` and records how many ran at once."""

    def __init__(self, seconds: float) -> None:
        self.seconds = seconds
        self.lock = threading.Lock()
        self.live = self.peak = 0

    def __call__(self, ctx, job) -> None:
        with self.lock:
            self.live += 1
            self.peak = max(self.peak, self.live)
        ctx.wait(self.seconds)
        with self.lock:
            self.live -= 1


def test_queue_concurrency_limit(engine):
    busy = PeakCounter(0.1)
    engine.registry.register_handler("busy", busy, queue="narrow")
    engine.worker.set_concurrency(4)
    engine.queue.set_concurrency("narrow", 1)
    engine.start()
    ids = [engine.enqueue("busy") for _ in range(4)]
    for job_id in ids:
        engine.wait_state(job_id, "succeeded")
    assert busy.peak == 1


def test_overall_concurrency(engine):
    busy = PeakCounter(0.15)
    engine.registry.register_handler("busy", busy)
    engine.start()
    ids = [engine.enqueue("busy") for _ in range(6)]
    for job_id in ids:
        engine.wait_state(job_id, "succeeded")
    assert busy.peak == 2


def test_progress_is_coalesced(engine):
    def chatty(ctx, job):
        for i in range(200_000):
            job.report_progress(i / 200_000, f"step {i}")
        return "done"

    engine.registry.register_handler("chatty", chatty)
    engine.start()
    job_id = engine.enqueue("chatty")
    engine.wait_state(job_id, "succeeded", timeout=30)
    progress_events = [e for e in engine.events if e.kind == "progress" and e.job_id == job_id]
    assert len(progress_events) < 100  # ~10 per second, not 200,000


def test_progress_reaches_listeners_and_database(engine):
    release = threading.Event()

    def halfway(ctx, job):
        job.report_progress(0.5, "half way")
        release.wait(10)

    engine.registry.register_handler("half", halfway)
    engine.start()
    job_id = engine.enqueue("half")
    engine.qtbot.waitUntil(lambda: any(e.kind == "progress" and e.job_id == job_id for e in engine.events))
    event = next(e for e in engine.events if e.kind == "progress" and e.job_id == job_id)
    assert event.data == {"progress": 0.5, "message": "half way"}
    engine.qtbot.waitUntil(lambda: engine.job(job_id).progress == 0.5, timeout=3000)
    assert engine.job(job_id).progress_message == "half way"
    release.set()
    engine.wait_state(job_id, "succeeded")


def test_handler_logging_is_captured_into_the_job(engine):
    def talker(ctx, job):
        log = logging.getLogger("my.plugin")
        log.info("starting %s", job.payload)
        log.warning("careful")
        return None

    engine.registry.register_handler("talk", talker)
    engine.start()
    job_id = engine.enqueue("talk", "x")
    engine.wait_state(job_id, "succeeded")
    lines = [(line["level"], line["message"]) for line in engine.store.get_logs(job_id)]
    assert lines == [("INFO", "starting x"), ("WARNING", "careful")]
    assert any(e.kind == "log" and e.job_id == job_id for e in engine.events)


def test_handler_ignoring_cancellation_is_abandoned_and_others_keep_running(engine):
    stuck_forever = threading.Event()

    def stubborn(ctx, job):
        stuck_forever.wait(30)  # ignores ctx entirely

    engine.registry.register_handler("stubborn", stubborn)
    engine.registry.register_handler("ok", lambda ctx, job: "ok")
    engine.start()
    stuck = engine.enqueue("stubborn")
    engine.wait_state(stuck, "running")
    engine.queue.cancel(stuck)
    job = engine.wait_state(stuck, "failed", timeout=10)
    assert "ignored cancellation" in job.error
    others = [engine.enqueue("ok") for _ in range(5)]
    for job_id in others:
        engine.wait_state(job_id, "succeeded")
    assert engine.worker.busy_abandoned_threads == 1  # the app exits without waiting for it
    stuck_forever.set()
    engine.qtbot.waitUntil(lambda: engine.worker.busy_abandoned_threads == 0)


def test_graceful_stop_lets_running_jobs_finish(engine):
    def short(ctx, job):
        time.sleep(0.3)
        return "finished"

    engine.registry.register_handler("short", short)
    engine.start()
    job_id = engine.enqueue("short")
    engine.wait_state(job_id, "running")
    engine.stop(5.0)
    assert engine.job(job_id).state == "succeeded"


def test_stop_deadline_returns_unfinished_jobs_to_the_queue(engine):
    def long(ctx, job):
        ctx.wait(60)
        ctx.check()

    engine.registry.register_handler("long", long)
    engine.start()
    a, b = engine.enqueue("long"), engine.enqueue("long")
    engine.wait_state(a, "running")
    engine.wait_state(b, "running")
    started = time.monotonic()
    engine.worker.stop(Context.background().with_timeout(0.3))
    assert time.monotonic() - started < 5
    for job_id in (a, b):
        job = engine.job(job_id)
        assert job.state == "queued" and job.attempts == 0
    assert not engine.store.owners_of_running_jobs()


def test_another_connection_enqueue_is_picked_up(engine, tmp_path):
    from acacia_gui.core.job import Job
    from acacia_gui.core.queue import JobQueue
    from acacia_gui.store.sqlite import SqliteJobStore

    engine.registry.register_handler("x", lambda ctx, job: "ok")
    engine.start()
    other = SqliteJobStore(tmp_path / "acacia.db")
    job_id = JobQueue(other, engine.registry).enqueue(Context.background(), Job("x"), source="cli")
    engine.wait_state(job_id, "succeeded", timeout=3)
    other.close()


def test_disk_full_keeps_results_in_memory_until_it_can_write(engine):
    def chatty(ctx, job):
        logging.getLogger("fill").info("x" * 3000)
        return "y" * 5000

    engine.registry.register_handler("chatty", chatty)
    engine.start()
    first = engine.enqueue("chatty")
    engine.wait_state(first, "succeeded")
    conn = engine.store.conn  # the worker writes on this (main) thread's connection
    pages = conn.execute("PRAGMA page_count").fetchone()[0]
    ids = [engine.enqueue("chatty") for _ in range(30)]
    conn.execute(f"PRAGMA max_page_count = {pages + 2}")
    engine.qtbot.waitUntil(lambda: engine.worker.unsaved_results > 0, timeout=5000)
    assert engine.store.count_jobs(state="succeeded") < len(ids) + 1
    conn.execute("PRAGMA max_page_count = 1073741823")
    for job_id in ids:
        engine.wait_state(job_id, "succeeded")
    assert engine.store.integrity_check() == "ok"


def test_finished_runs_are_freed(engine):
    import gc
    import weakref

    contexts = []
    engine.registry.register_handler("noop", lambda ctx, job: contexts.append(weakref.ref(ctx)))
    engine.start()
    ids = engine.queue.enqueue_many(engine.ctx, [Job("noop") for _ in range(300)])
    engine.wait_state(ids[-1], "succeeded")
    engine.qtbot.waitUntil(lambda: not engine.worker.running_job_ids())
    gc.collect()
    assert len(contexts) == 300
    assert sum(ref() is not None for ref in contexts) == 0, "finished jobs' contexts are still referenced"


def test_a_finished_run_waiting_for_its_write_is_not_taken_for_a_stuck_handler(engine, caplog):
    def slow(ctx, job):
        ctx.wait(30)  # returns at the timeout; the result is still a success
        return "y" * 200_000

    engine.registry.register_handler("slow", slow)
    engine.start()
    job_id = engine.enqueue("slow", timeout=0.5)
    engine.wait_state(job_id, "running")
    conn = engine.store.conn  # the worker writes on this (main) thread's connection
    conn.execute(f"PRAGMA max_page_count = {conn.execute('PRAGMA page_count').fetchone()[0]}")
    engine.qtbot.waitUntil(lambda: engine.worker.unsaved_results > 0, timeout=5000)
    engine.qtbot.wait(int((engine.worker.cancel_grace + 1.0) * 1000))  # the watchdog's grace passes, disk still full
    conn.execute("PRAGMA max_page_count = 1073741823")
    assert engine.wait_state(job_id, "succeeded").result == "y" * 200_000
    assert "ignored cancellation" not in caplog.text
    assert engine.worker.scheduler._run_queue.tasks >= 0


def test_start_after_stop_runs_jobs_again(engine):
    engine.registry.register_handler("x", lambda ctx, job: job.id)
    engine.start()
    engine.wait_state(engine.enqueue("x"), "succeeded")
    engine.stop()
    assert not engine.worker.is_running
    engine.start()
    assert engine.worker.is_running
    job_id = engine.enqueue("x")
    assert engine.wait_state(job_id, "succeeded").result == job_id
