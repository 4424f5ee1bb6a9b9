"""The engine without Qt: the Scheduler on a ManualLoop and plain threads, over a real SQLite file.

Thread-isolated handlers here are lambdas (a worker process cannot import those); the
process-isolated ones are module-level functions in tests/unit/engine_handlers.py.
"""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Iterator

import pytest

from acacia_gui.core.context import Context
from acacia_gui.core.job import Job
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.engine.loop import ManualLoop
from acacia_gui.engine.processes.messages import completion_from_message, job_to_message
from acacia_gui.engine.processes.pool import ProcessPool
from acacia_gui.engine.processes.spawner import Spawner
from acacia_gui.engine.processes.worker_process import WorkerProcess
from acacia_gui.engine.run_queue import ThreadExecutor
from acacia_gui.engine.scheduler import Scheduler
from acacia_gui.store.sqlite import SqliteJobStore
from tests.conftest import wait_until
from tests.unit import engine_handlers


class Harness:
    def __init__(self, tmp_path, *, concurrency: int = 2, processes: bool = False) -> None:
        self.store = SqliteJobStore(tmp_path / "acacia.db")
        self.registry = Registry()
        self.queue = JobQueue(self.store, self.registry)
        self.loop = ManualLoop()
        self.pool = ProcessPool() if processes else None
        self.scheduler = Scheduler(self.queue, self.loop, ThreadExecutor(), concurrency=concurrency,
                                   instances_dir=tmp_path / "instances", cancel_grace=0.5, processes=self.pool)  # fmt: skip
        self.ctx = Context.background()

    def start(self) -> Harness:
        self.scheduler.start(self.ctx, self.registry)
        return self

    def enqueue(self, job_type: str, payload=None, **options) -> int:
        return self.queue.enqueue(self.ctx, Job(job_type, payload, **options))

    def wait(self, job_id: int, *states: str, timeout: float = 20.0):
        self.loop.run_until(lambda: self.store.require_job(job_id).state in states, timeout)
        return self.store.require_job(job_id)

    def close(self) -> None:
        self.scheduler.stop(Context.background().with_timeout(2))
        self.store.close()


@pytest.fixture
def harness(tmp_path) -> Iterator[Harness]:
    h = Harness(tmp_path)
    yield h
    h.close()


@pytest.fixture
def processes(tmp_path) -> Iterator[Harness]:
    h = Harness(tmp_path, processes=True)
    yield h
    h.close()


def test_runs_jobs_and_writes_their_results(harness):
    harness.registry.register_handler("add", lambda ctx, job: job.payload["a"] + job.payload["b"], isolation="thread")
    harness.start()
    ids = [harness.enqueue("add", {"a": i, "b": 1}) for i in range(20)]
    for i, job_id in enumerate(ids):
        assert harness.wait(job_id, "succeeded").result == i + 1


def test_never_runs_more_than_its_concurrency(harness):
    lock, now, peak = threading.Lock(), [0], [0]

    def counted(ctx, job):
        with lock:
            now[0] += 1
            peak[0] = max(peak[0], now[0])
        time.sleep(0.002)
        with lock:
            now[0] -= 1

    harness.registry.register_handler("counted", counted)
    harness.start()
    ids = [harness.enqueue("counted") for _ in range(100)]
    for job_id in ids:
        harness.wait(job_id, "succeeded")
    assert 1 <= peak[0] <= 2


def test_a_cancelled_thread_handler_that_ignores_it_is_abandoned_and_the_slot_freed(harness):
    release = threading.Event()
    harness.registry.register_handler("stubborn", lambda ctx, job: release.wait(30))
    harness.registry.register_handler("ok", lambda ctx, job: "ok")
    harness.start()
    stubborn = harness.enqueue("stubborn")
    harness.wait(stubborn, "running")
    harness.queue.cancel(stubborn)
    job = harness.wait(stubborn, "failed")
    assert "ignored cancellation" in job.error and "process isolation would have stopped it" in job.error
    assert harness.wait(harness.enqueue("ok"), "succeeded").result == "ok"
    release.set()


def test_lambdas_run_on_threads_and_module_functions_in_processes(processes):
    processes.registry.register_handler("where.process", engine_handlers.where)
    processes.registry.register_handler("where.thread", lambda ctx, job: {"pid": os.getpid()})
    processes.start()
    assert processes.scheduler.isolation_of("where.process") == "process"
    assert processes.scheduler.isolation_of("where.thread") == "thread"
    in_process = processes.wait(processes.enqueue("where.process"), "succeeded").result["pid"]
    in_thread = processes.wait(processes.enqueue("where.thread"), "succeeded").result["pid"]
    assert in_thread == os.getpid() and in_process != os.getpid()
    assert in_process in processes.pool.pids  # a worker process of this pool, reused


def test_worker_processes_are_reused_and_prewarmed(processes):
    processes.registry.register_handler("where", engine_handlers.where)
    processes.start()
    processes.loop.run_until(lambda: len(processes.pool.idle_pids) == 2)  # one ready per slot before any job
    pids = {processes.wait(processes.enqueue("where"), "succeeded").result["pid"] for _ in range(20)}
    assert pids <= set(processes.pool.pids) and processes.pool.spawned == 2


def test_a_crash_fails_only_its_job_and_the_slot_gets_a_new_process(processes):
    processes.registry.register_handler("crash", engine_handlers.crash, max_attempts=2, retry_backoff=0)
    processes.registry.register_handler("where", engine_handlers.where)
    processes.start()
    crash = processes.enqueue("crash")
    job = processes.wait(crash, "failed")
    assert job.error.startswith("the handler's process died: SIGSEGV (segmentation fault)")
    assert job.attempts == 2  # retries apply to a crash like to an exception
    logs = [line["message"] for line in processes.store.get_logs(crash)]
    assert any("Segmentation fault" in line for line in logs)  # faulthandler's report, from the process's stderr
    assert processes.wait(processes.enqueue("where"), "succeeded").result["pid"] in processes.pool.pids


def test_hard_cancel_kills_a_spinning_handler_after_its_grace(processes, tmp_path):
    processes.registry.register_handler("spin", engine_handlers.spin, cancel_grace=0)
    processes.registry.register_handler("where", engine_handlers.where)
    processes.start()
    pid_file = tmp_path / "spin.pid"
    spin = processes.enqueue("spin", {"pid_file": str(pid_file)})
    processes.loop.run_until(lambda: pid_file.exists() and pid_file.read_text())
    pid = int(pid_file.read_text())
    processes.queue.cancel(spin)
    job = processes.wait(spin, "cancelled")
    assert "did not stop within its 0 s grace period, so its process was killed" in job.error
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)  # killed and reaped
    assert processes.wait(processes.enqueue("where"), "succeeded").result["pid"] != pid


def test_a_polite_handler_stops_on_cancel_and_keeps_its_process(processes, tmp_path):
    processes.registry.register_handler("polite", engine_handlers.polite)
    processes.registry.register_handler("where", engine_handlers.where)
    processes.start()
    started = tmp_path / "started"
    polite = processes.enqueue("polite", {"started_file": str(started)})
    processes.loop.run_until(started.exists)  # its handler runs (the row says `running` from the claim on)
    before = set(processes.pool.pids)
    processes.queue.cancel(polite)
    assert processes.wait(polite, "cancelled").error == "cancelled while running"
    assert processes.wait(processes.enqueue("where"), "succeeded").result["pid"] in before


def test_logging_stdout_and_progress_of_a_process_handler_reach_the_job(processes):
    processes.registry.register_handler("chatty", engine_handlers.chatty)
    processes.start()
    job_id = processes.enqueue("chatty")
    assert processes.wait(job_id, "succeeded").result == "ok"
    lines = {(line["level"], line["message"]) for line in processes.store.get_logs(job_id)}
    assert ("INFO", f"logged {job_id}") in lines and ("stdout", f"printed {job_id}") in lines
    assert processes.store.require_job(job_id).progress == 1.0


def test_a_timeout_fails_the_job_and_kills_a_handler_that_ignores_it(processes, tmp_path):
    processes.registry.register_handler("spin", engine_handlers.spin, cancel_grace=0, timeout=0.3)
    processes.start()
    job = processes.wait(processes.enqueue("spin", {"pid_file": str(tmp_path / "p")}), "failed")
    assert job.error.startswith("timed out after 0.3 s")


def test_a_job_cancelled_while_it_waits_in_a_worker_process_never_starts(tmp_path):
    """The app hands short jobs to a worker process ahead; one cancelled before its turn is
    skipped there, its attempt given back, and the running one is not disturbed."""
    process = WorkerProcess.start(Spawner(), 0)
    try:
        started = tmp_path / "started"
        first = _job(1, {"started_file": str(started)})
        second = _job(2, {"started_file": str(tmp_path / "never")})
        process.send({"op": "run", "runs": [{"job": job_to_message(job), "origin": "module:tests.unit.engine_handlers:polite",
                                             "remaining": None, "limits": {}, "retry_backoff": 0}
                                            for job in (first, second)]})  # fmt: skip
        wait_until(started.exists)
        process.send({"op": "cancel", "job_id": 2, "cause": "cancel"})
        process.send({"op": "cancel", "job_id": 1, "cause": "cancel"})
        done = []
        while len(done) < 2:
            process.selector.select(1.0)
            while (message := process.receive()) is not None:
                if message["op"] == "done":
                    done.append(completion_from_message(message["completion"]))
        assert [(c.job_id, c.state.value, c.error, c.refund_attempt) for c in done] == [
            (1, "cancelled", "cancelled while running", False), (2, "cancelled", "cancelled before it ran", True)]
        assert not (tmp_path / "never").exists()
    finally:
        process.close()


def _job(job_id: int, payload: dict) -> Job:
    job = Job("polite", payload, queue="default", max_attempts=1)
    job.id, job.attempts = job_id, 1
    return job


def test_short_jobs_are_handed_to_a_worker_process_ahead_and_all_succeed_in_order(tmp_path):
    harness = Harness(tmp_path, concurrency=1, processes=True)
    try:
        harness.registry.register_handler("where", engine_handlers.where)
        harness.start()
        ids = [harness.enqueue("where") for _ in range(300)]
        for job_id in ids:
            harness.wait(job_id, "succeeded")
        jobs = [harness.store.require_job(job_id) for job_id in ids]
        assert [j.started_at for j in jobs] == sorted(j.started_at for j in jobs)  # one slot: one after another
        assert len({j.result["pid"] for j in jobs}) == 1 and all(j.attempts == 1 for j in jobs)
    finally:
        harness.close()


def test_plugin_reload_replaces_idle_processes(processes):
    processes.registry.register_handler("where", engine_handlers.where)
    processes.start()
    first = processes.wait(processes.enqueue("where"), "succeeded").result["pid"]
    processes.scheduler.plugins_reloaded()
    processes.loop.run_until(lambda: first not in processes.pool.pids)
    assert processes.wait(processes.enqueue("where"), "succeeded").result["pid"] != first


def foreign_write(harness: Harness, *statements: str) -> None:
    """Another program writing the file past the schema's rules (a plain sqlite3 connection)."""
    conn = sqlite3.connect(harness.store.path, isolation_level=None)
    try:
        conn.execute("PRAGMA ignore_check_constraints = ON")
        for statement in statements:
            conn.execute(statement)
    finally:
        conn.close()


def test_rows_another_program_broke_fail_alone_and_every_other_job_runs(harness):
    harness.registry.register_handler("add", lambda ctx, job: job.payload["a"] + 1, isolation="thread")
    ids = [harness.enqueue("add", {"a": i}) for i in range(6)]
    orphan = harness.enqueue("add", {"a": 100}, queue="orphan")
    foreign_write(
        harness,
        f"UPDATE jobs SET payload = '{{oops' WHERE id = {ids[1]}",
        f"UPDATE jobs SET payload = '\"' || CAST(x'ff' AS TEXT) || '\"', priority = 'high' WHERE id = {ids[4]}",
        "DELETE FROM queues WHERE name = 'orphan'",
    )
    harness.start()
    for i, job_id in enumerate(ids):
        if job_id in (ids[1], ids[4]):
            assert harness.wait(job_id, "failed").error.startswith("set aside: its row in the database was broken")
        else:
            assert harness.wait(job_id, "succeeded").result == i + 1
    assert harness.wait(orphan, "succeeded").result == 101
    assert harness.store.get_queue("orphan").counts["succeeded"] == 1
    # Written while the worker runs: the next claim meets it, sets it aside and goes on.
    foreign_write(harness, "INSERT INTO jobs (type, queue, state, payload, run_at, created_at)"
                           " VALUES ('add', 'default', 'queued', 'a = 1', 0, 0)")  # fmt: skip
    broken = harness.store.list_jobs(descending=True, limit=1)[0].id
    later = harness.enqueue("add", {"a": 7})
    assert harness.wait(later, "succeeded").result == 8
    assert "payload is not valid JSON" in harness.wait(broken, "failed").error


def test_a_damaged_database_stops_claiming_once_with_one_error_and_no_spin(harness, caplog, monkeypatch):
    from acacia_gui.core.errors import CorruptDatabaseError

    harness.registry.register_handler("noop", lambda ctx, job: "done", isolation="thread")
    harness.start()
    first = harness.enqueue("noop")
    assert harness.wait(first, "succeeded").state == "succeeded"
    calls = []

    def damaged(*args, **kwargs):
        calls.append(args)
        raise CorruptDatabaseError("the database x.db is damaged (database disk image is malformed); "
                                   "run `acacia db recover OUT`")  # fmt: skip

    monkeypatch.setattr(harness.store, "complete_and_claim", damaged)
    queued = [harness.enqueue("noop") for _ in range(3)]
    harness.scheduler.wake()
    harness.loop.process_events(2.0)
    harness.scheduler.wake()
    harness.loop.process_events(1.0)
    assert len(calls) == 1  # no retry loop
    assert "is damaged" in (harness.scheduler.problem or "")
    errors = [r for r in caplog.records if r.levelname == "ERROR" and "stopped claiming" in r.getMessage()]
    assert len(errors) == 1 and errors[0].exc_info is None  # one clear line, no traceback
    assert all(harness.store.require_job(job_id).state == "queued" for job_id in queued)
    monkeypatch.undo()
