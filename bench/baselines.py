"""The baselines Acacia is measured against: a hand-written raw-SQLite queue and SqliteHuey.

Raw: the least a durable SQLite queue can do — one table, WAL, the same `synchronous`
level as ours, one INSERT per commit, and per job a claim transaction (BEGIN IMMEDIATE;
UPDATE … WHERE id = (SELECT … LIMIT 1) RETURNING; COMMIT) plus a completion transaction.
No events table, no validation, no retries: the floor cost of the work, not a product.

Huey: SqliteHuey with a 2-thread consumer run in-process, tasks returning a value so
each result is stored (Huey's equivalent of our result column). Its storage is put on
WAL (Huey's default) and on our `synchronous` level.
"""

from __future__ import annotations

import json
import sqlite3
import threading
import time
from pathlib import Path
from typing import Any

from common import (
    BATCH_JOBS,
    BATCH_SIZE,
    ENQUEUE_MAX_JOBS,
    ENQUEUE_MAX_SECONDS,
    HUEY_LATENCY_SAMPLES,
    HUEY_THROUGHPUT_JOBS,
    LATENCY_SAMPLES,
    LATENCY_WARMUP,
    SYNC_PRAGMA,
    THROUGHPUT_JOBS,
    latency_summary,
    rate,
    timed_loop,
    wait_for,
)

RAW_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id INTEGER PRIMARY KEY, type TEXT NOT NULL, payload TEXT NOT NULL, state TEXT NOT NULL,
    created_at REAL NOT NULL, started_at REAL, finished_at REAL, result TEXT);
CREATE INDEX IF NOT EXISTS jobs_queued ON jobs (id) WHERE state = 'queued';
"""
RAW_INSERT = "INSERT INTO jobs (type, payload, state, created_at) VALUES ('noop', ?, 'queued', ?)"
RAW_CLAIM = (
    "UPDATE jobs SET state = 'running', started_at = ?"
    " WHERE id = (SELECT id FROM jobs WHERE state = 'queued' ORDER BY id LIMIT 1) RETURNING id, payload"
)
RAW_COMPLETE = "UPDATE jobs SET state = 'succeeded', finished_at = ?, result = ? WHERE id = ?"


# -- raw SQLite ------------------------------------------------------------------------
def raw_connect(path: Path, sync: str) -> sqlite3.Connection:
    conn = sqlite3.connect(path, isolation_level=None, check_same_thread=False, timeout=30)
    conn.execute("PRAGMA journal_mode = WAL")
    conn.execute(f"PRAGMA synchronous = {SYNC_PRAGMA[sync]}")
    conn.executescript(RAW_SCHEMA)
    return conn


def _raw_fill(conn: sqlite3.Connection, n: int) -> None:
    now = time.time()
    conn.execute("BEGIN IMMEDIATE")
    conn.executemany(RAW_INSERT, ((json.dumps({"i": i}), now) for i in range(n)))
    conn.execute("COMMIT")


def raw_enqueue_single(workdir: Path, sync: str) -> dict[str, Any]:
    conn = raw_connect(workdir / "raw.db", sync)

    def step(i: int) -> None:
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(RAW_INSERT, (json.dumps({"i": i}), time.time()))
        conn.execute("COMMIT")

    return timed_loop(step, ENQUEUE_MAX_JOBS, ENQUEUE_MAX_SECONDS)


def raw_enqueue_batch(workdir: Path, sync: str) -> dict[str, Any]:
    conn = raw_connect(workdir / "raw.db", sync)
    start = time.perf_counter()
    for first in range(0, BATCH_JOBS, BATCH_SIZE):
        now = time.time()
        conn.execute("BEGIN IMMEDIATE")
        conn.executemany(RAW_INSERT, ((json.dumps({"i": i}), now) for i in range(first, first + BATCH_SIZE)))
        conn.execute("COMMIT")
    return rate(BATCH_JOBS, time.perf_counter() - start)


def _raw_claim(conn: sqlite3.Connection) -> tuple[int, str] | None:
    conn.execute("BEGIN IMMEDIATE")
    row = conn.execute(RAW_CLAIM, (time.time(),)).fetchone()
    conn.execute("COMMIT")
    return row


def _raw_complete(conn: sqlite3.Connection, job_id: int, result: str) -> None:
    conn.execute("BEGIN IMMEDIATE")
    conn.execute(RAW_COMPLETE, (time.time(), result, job_id))
    conn.execute("COMMIT")


def raw_throughput(workdir: Path, sync: str, threads: int = 2) -> dict[str, Any]:
    """`threads` threads (two by default), each: claim one (one transaction), run a no-op, complete it (another).
    With one thread it is the floor of a chain, where each job may start only once the one before is committed."""
    path = workdir / "raw.db"
    _raw_fill(raw_connect(path, sync), THROUGHPUT_JOBS)
    done = [0] * threads

    def work(slot: int) -> None:
        conn = raw_connect(path, sync)
        while (row := _raw_claim(conn)) is not None:
            json.loads(row[1])  # what a real worker does with the payload
            _raw_complete(conn, row[0], "true")
            done[slot] += 1

    workers = [threading.Thread(target=work, args=(slot,)) for slot in range(threads)]
    start, cpu = time.perf_counter(), time.process_time()
    for t in workers:
        t.start()
    for t in workers:
        t.join()
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    assert sum(done) == THROUGHPUT_JOBS, done
    return rate(THROUGHPUT_JOBS, seconds, cpu)


def raw_latency(workdir: Path, sync: str) -> dict[str, Any]:
    """Main thread enqueues one job (one commit) at a time; a poller thread claims it.

    The poller reads `PRAGMA data_version` (a lock-free read that changes when another
    connection commits) every ~50 µs and, when it changed, runs the claim transaction;
    the start time is taken right after the claim commits (where a handler would start).
    """
    path = workdir / "raw.db"
    producer = raw_connect(path, sync)
    poller_conn = raw_connect(path, sync)
    started = threading.Event()
    stop = threading.Event()
    stamp: list[float] = [0.0]

    failure: list[BaseException] = []

    def poll() -> None:
        try:
            poll_loop()
        except BaseException as exc:  # reported by the producer instead of a silent thread death
            failure.append(exc)
            raise

    def poll_loop() -> None:
        version = None  # the first look always claims: a job may be in before this thread runs
        while not stop.is_set():
            now_version = poller_conn.execute("PRAGMA data_version").fetchone()[0]
            if now_version != version:
                version = now_version
                row = _raw_claim(poller_conn)
                if row is not None:
                    stamp[0] = time.perf_counter()
                    _raw_complete(poller_conn, row[0], "null")
                    started.set()
                    continue
            time.sleep(50e-6)

    thread = threading.Thread(target=poll, daemon=True)
    thread.start()
    samples = []
    for i in range(LATENCY_WARMUP + LATENCY_SAMPLES):
        started.clear()
        t0 = time.perf_counter()
        producer.execute("BEGIN IMMEDIATE")
        producer.execute(RAW_INSERT, (json.dumps({"i": i}), time.time()))
        producer.execute("COMMIT")
        if not started.wait(10):
            raise TimeoutError(f"the raw poller did not claim job {i}: {failure or 'no error in the poller'}")
        if i >= LATENCY_WARMUP:
            samples.append(stamp[0] - t0)
    stop.set()
    thread.join()
    return latency_summary(samples)


# -- SqliteHuey ------------------------------------------------------------------------
def _make_huey(workdir: Path, sync: str):
    """A SqliteHuey on WAL at our synchronous level, with a no-op task that returns a value."""
    from huey import SqliteHuey
    from huey.storage import SqliteStorage

    level = SYNC_PRAGMA[sync]

    class Storage(SqliteStorage):
        def _create_connection(self):
            conn = super()._create_connection()
            conn.execute(f"PRAGMA synchronous = {level}")
            return conn

    class BenchHuey(SqliteHuey):
        storage_class = Storage

    huey = BenchHuey("bench", filename=str(workdir / "huey.db"), journal_mode="wal")
    stamps: dict[int, float] = {}

    @huey.task()
    def noop(i):
        return i

    @huey.task()
    def stamp(i):
        stamps[i] = time.perf_counter()
        return i

    return huey, noop, stamp, stamps


def _start_consumer(huey):
    consumer = huey.create_consumer(workers=2, worker_type="thread", periodic=False)
    consumer._set_signal_handlers = lambda: None  # in-process: leave the bench's signal handling alone
    consumer.start()
    return consumer


def huey_enqueue_single(workdir: Path, sync: str) -> dict[str, Any]:
    _huey, noop, _stamp, _stamps = _make_huey(workdir, sync)
    return timed_loop(noop, ENQUEUE_MAX_JOBS, ENQUEUE_MAX_SECONDS)


def huey_throughput(workdir: Path, sync: str) -> dict[str, Any]:
    """N tasks enqueued first; time from consumer start until every result is stored."""
    huey, noop, _stamp, _stamps = _make_huey(workdir, sync)
    for i in range(HUEY_THROUGHPUT_JOBS):
        noop(i)
    start, cpu = time.perf_counter(), time.process_time()
    consumer = _start_consumer(huey)
    try:
        wait_for(lambda: huey.storage.result_store_size() >= HUEY_THROUGHPUT_JOBS, 120, "Huey's results", interval=0.01)
        seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    finally:
        consumer.stop(graceful=True)
    return rate(HUEY_THROUGHPUT_JOBS, seconds, cpu)


def huey_latency(workdir: Path, sync: str) -> dict[str, Any]:
    """Huey's consumer polls: its default initial_delay is 0.1 s (x1.15 per empty poll)."""
    huey, _noop, stamp, stamps = _make_huey(workdir, sync)
    consumer = _start_consumer(huey)
    samples = []
    try:
        for i in range(LATENCY_WARMUP // 2 + HUEY_LATENCY_SAMPLES):
            t0 = time.perf_counter()
            stamp(i)
            wait_for(lambda i=i: i in stamps, 30, "a Huey task to start", interval=0.0005)
            if i >= LATENCY_WARMUP // 2:
                samples.append(stamps[i] - t0)
    finally:
        consumer.stop(graceful=True)
    return latency_summary(samples)


CASES = {
    "enqueue_single": {"raw": raw_enqueue_single, "huey": huey_enqueue_single},
    "enqueue_batch": {"raw": raw_enqueue_batch},
    "throughput": {"raw": raw_throughput, "huey": huey_throughput},
    "latency": {"raw": raw_latency, "huey": huey_latency},
}
