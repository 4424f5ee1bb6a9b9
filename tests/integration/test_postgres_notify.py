"""LISTEN/NOTIFY wake-ups across processes (store/postgres/notify.py, migrations/0002_notify.sql,
engine/wakeups.py), with real processes on a real PostgreSQL server.

An "instance" is a child process running the engine as the app wires it (PostgresJobStore,
JobQueue, PoolWorker on a QCoreApplication, and start_wakeups with PoolWorker.claim_here as app.py calls it) with a poll
interval of an hour, so nothing but a NOTIFY can make it claim a job another process enqueued:
a job that runs within the deadline was started by a wake-up, without asserting any speed.
A control instance without the listener shows the poll does not start it.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
POLL_INTERVAL = 3600.0  # the child engine's poll: far beyond every deadline below
DEADLINE = 20.0  # seconds for a woken job to run (generous: a loaded CI machine)
QUIET = 2.0  # control: how long a job must stay queued without a listener
BUSY_FOR = 3 * DEADLINE  # a busy-loop instance's main thread sleeps this long: beyond the deadline


@pytest.fixture
def database() -> Iterator[str]:
    from tests.support.postgres_server import server_or_skip

    server = server_or_skip()
    with server.database() as url:
        yield url


@pytest.fixture
def store(database: str):
    from acacia_gui.store.postgres.store import PostgresJobStore

    store = PostgresJobStore(database, max_size=2)
    yield store
    store.close()


class Instance:
    """A child process running the engine on the database (see _child below)."""

    def __init__(self, url: str, workdir: Path, *, listen: bool, busy_loop: bool = False) -> None:
        workdir.mkdir(parents=True, exist_ok=True)
        env = dict(os.environ, QT_QPA_PLATFORM="offscreen", PYTHONPATH=str(REPO))
        mode = "busy-loop" if busy_loop else "listen" if listen else "no-listen"
        self.proc = subprocess.Popen([sys.executable, __file__, url, str(workdir), mode],
                                     stdout=subprocess.PIPE, text=True, env=env, cwd=REPO)  # fmt: skip
        line = self.proc.stdout.readline() if self.proc.stdout else ""
        assert line.strip() == "ready", f"the instance did not start: {line!r} (exit {self.proc.poll()})"

    def read_line(self) -> str:
        return self.proc.stdout.readline().strip() if self.proc.stdout else ""

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(10)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait(10)


@pytest.fixture
def instances(database: str, tmp_path: Path) -> Iterator:
    started: list[Instance] = []

    def start(listen: bool = True, busy_loop: bool = False) -> Instance:
        instance = Instance(database, tmp_path / f"instance{len(started)}", listen=listen, busy_loop=busy_loop)
        started.append(instance)
        return instance

    yield start
    for instance in started:
        instance.stop()


def listener_pids(store) -> list[int]:
    """Backends of this database that LISTEN (connected as the listener and idle after its LISTEN)."""
    rows = store.db.fetchall("SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                             " AND application_name = 'acacia-listen' AND state = 'idle' AND query LIKE 'LISTEN%%'")  # fmt: skip
    return [row[0] for row in rows]


def wait_for(predicate, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.02)
    raise AssertionError(f"timed out after {timeout:g} s waiting for {what}")


def enqueue(store, queue: str = "default", job_type: str = "noop") -> int:
    from acacia_gui.core.job import Job

    return store.insert_jobs([Job(job_type, {}, queue=queue)], "api")[0]


def state_of(store, job_id: int) -> str:
    return store.require_job(job_id).state.value


def test_an_enqueue_in_another_process_wakes_an_idle_instance(store, instances) -> None:
    instances()
    wait_for(lambda: listener_pids(store), DEADLINE, "the instance's listener")
    time.sleep(0.3)  # let the start-up wakes settle: the instance is idle
    for _ in range(3):  # each one is claimed only because of its NOTIFY (the poll is an hour away)
        job_id = enqueue(store)
        wait_for(lambda job_id=job_id: state_of(store, job_id) == "succeeded", DEADLINE, f"job {job_id} to run")


def test_a_wake_up_starts_a_job_while_the_loop_thread_is_busy(store, instances) -> None:
    """The claim a NOTIFY asks for runs on the listening thread: an instance whose main thread is
    stuck (in the window: painting, a modal dialog's work) still starts another process's job.
    Its end is written once the loop is back, so `running` is what is waited for."""
    instance = instances(busy_loop=True)
    assert instance.read_line() == "busy"  # the loop thread sleeps from now on, for BUSY_FOR seconds
    job_id = enqueue(store)
    wait_for(lambda: state_of(store, job_id) != "queued", DEADLINE, "the job claimed while the loop is busy")
    assert instance.read_line() == "ran"  # the handler ran (on a pool thread), not just the claim
    assert state_of(store, job_id) == "running"  # its end waits for the loop thread


def test_without_the_listener_the_job_waits_for_the_poll(store, instances) -> None:
    """The control: the same instance without LISTEN leaves the job queued, so in the other
    tests only the NOTIFY can have started it."""
    instances(listen=False)
    time.sleep(0.5)
    job_id = enqueue(store)
    time.sleep(QUIET)
    assert state_of(store, job_id) == "queued"


def test_a_resumed_queue_and_a_retry_wake_other_instances(store, instances) -> None:
    instances()
    wait_for(lambda: listener_pids(store), DEADLINE, "the instance's listener")
    store.set_queue_paused("renders", True)
    job_id = enqueue(store, "renders")
    time.sleep(QUIET / 2)
    assert state_of(store, job_id) == "queued"  # paused: the NOTIFY of the enqueue claimed nothing
    store.set_queue_paused("renders", False)
    wait_for(lambda: state_of(store, job_id) == "succeeded", DEADLINE, "the resumed queue's job to run")
    # A failed job retried by a user (another process) becomes queued: that wakes too.
    failing = enqueue(store, job_type="fail")
    wait_for(lambda: state_of(store, failing) == "failed", DEADLINE, "the failing job to run")
    store.retry_job(failing, "api")
    wait_for(lambda: [e["new_state"] for e in store.get_events(failing)].count("failed") == 2, DEADLINE,
             "the retried job to run again")  # fmt: skip


def test_a_released_dependent_wakes_other_instances(store, instances) -> None:
    """A dependency finishing in one instance releases its dependent (waiting → queued) in the
    same transaction; the NOTIFY of that change wakes the other instances. Here the dependency
    is completed by the user cancelling it (a 'finished' dependent is released)."""
    from acacia_gui.core.job import Job

    instances()
    wait_for(lambda: listener_pids(store), DEADLINE, "the instance's listener")
    store.set_queue_paused("held", True)
    parent = store.insert_jobs([Job("noop", {}, queue="held")], "api")[0]
    child = store.insert_jobs([Job("noop", {}, after=[parent], after_policy="finished")], "api")[0]
    time.sleep(QUIET / 2)
    assert state_of(store, child) == "waiting"
    store.cancel_job(parent, "api")
    wait_for(lambda: state_of(store, child) == "succeeded", DEADLINE, "the released dependent to run")


def test_a_killed_listener_connection_reconnects_and_still_wakes(store, instances) -> None:
    instances()
    first = wait_for(lambda: listener_pids(store), DEADLINE, "the instance's listener")[0]
    store.db.fetchone("SELECT pg_terminate_backend(%s)", (first,))
    during = enqueue(store)  # lands while it is disconnected or just after: the wake on reconnecting covers both
    second = wait_for(lambda: [p for p in listener_pids(store) if p != first], DEADLINE, "the listener to reconnect")[0]
    assert second != first
    wait_for(lambda: state_of(store, during) == "succeeded", DEADLINE, "the job enqueued around the reconnect to run")
    time.sleep(0.3)
    after = enqueue(store)
    wait_for(lambda: state_of(store, after) == "succeeded", DEADLINE, "a job enqueued after the reconnect to run")


def test_notifications_are_small_and_one_per_queue_per_transaction(store) -> None:
    """The payload is the queue's name; a batch of jobs in one transaction sends one per queue."""
    import psycopg

    from acacia_gui.core.job import Job
    from acacia_gui.store.postgres.notify import CHANNEL

    with psycopg.connect(store.db.url, autocommit=True) as conn:
        conn.execute(f"LISTEN {CHANNEL}")
        store.insert_jobs([Job("noop", {"i": i}, queue="a" if i % 2 else "b") for i in range(500)], "api")
        got = sorted(n.payload for n in conn.notifies(timeout=1.0))
    assert got == ["a", "b"]


def test_a_burst_of_notifications_costs_one_wake_and_stop_ends_the_listener(store) -> None:
    import threading

    from acacia_gui.store.postgres.notify import CHANNEL, WakeListener

    wakes, payloads = [], []
    first = threading.Event()
    listener = WakeListener(store.db.url, lambda: (wakes.append(1), first.set()), on_payloads=payloads.append).start()
    try:
        assert listener.wait_listening(DEADLINE)
        assert first.wait(DEADLINE)  # the wake after LISTEN: what was committed before it is rescanned
        with store.db.write() as conn:  # 200 notifications delivered together at this commit
            for i in range(200):
                conn.execute("SELECT pg_notify(%s, %s)", (CHANNEL, f"q{i}"))
        wait_for(lambda: listener.notifications == 200, DEADLINE, "the notifications")
        assert len(wakes) - 1 < 200 / 10  # read together, woken together (usually once)
        assert set().union(*payloads) == {f"q{i}" for i in range(200)}
    finally:
        listener.stop()
    assert not listener.listening.is_set()
    assert not any(t.name == "acacia-listen" and t.is_alive() for t in threading.enumerate())


def _child(url: str, workdir: str, mode: str) -> None:
    """One instance: the engine as app.py wires it, polling once an hour; `mode`: "listen",
    "no-listen", or "busy-loop" (listening, its main thread asleep BUSY_FOR seconds once ready)."""
    from PySide6.QtCore import QCoreApplication

    from acacia_gui.core.context import Context
    from acacia_gui.core.queue import JobQueue
    from acacia_gui.core.registry import Registry
    from acacia_gui.engine.wakeups import start_wakeups
    from acacia_gui.qt.worker import PoolWorker
    from acacia_gui.store.postgres.store import PostgresJobStore

    app = QCoreApplication([])
    store = PostgresJobStore(url, max_size=4)
    registry = Registry()
    registry.register_handler("noop", lambda ctx, job: print("ran", flush=True) if mode == "busy-loop" else True)
    registry.register_handler("fail", lambda ctx, job: 1 / 0)
    queue = JobQueue(store, registry)
    worker = PoolWorker(queue, concurrency=2, instances_dir=Path(workdir) / "instances", poll_interval=POLL_INTERVAL)
    worker.start(Context.background(), registry)
    if mode != "no-listen":
        app.aboutToQuit.connect(start_wakeups(store, worker.claim_here))
    if mode == "busy-loop":
        from PySide6.QtCore import QTimer

        def busy() -> None:
            print("busy", flush=True)
            time.sleep(BUSY_FOR)

        QTimer.singleShot(500, busy)  # after the start-up pumps
    print("ready", flush=True)
    app.exec()


if __name__ == "__main__":
    _child(sys.argv[1], sys.argv[2], sys.argv[3])
