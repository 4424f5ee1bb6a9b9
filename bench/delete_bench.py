"""Claim latency while `delete --finished` removes 1 M log lines (issue 10).

A claimer thread does what the engine does per job: one claim transaction
(complete_and_claim) for a job enqueued just before, timing the claim alone. It runs once
with nothing else writing, then while another thread clears 2,000 finished jobs holding
1,000,000 log lines (100 bytes each). Printed: p50/p99/max claim latency of both runs, how
long the delete took, the file size before and after, and the largest WAL seen.

    .venv/bin/python bench/delete_bench.py [WORKDIR]
"""

from __future__ import annotations

import os
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from acacia_gui.core.job import Job
from acacia_gui.store.sqlite import SqliteJobStore

JOBS = 2_000
LINES_PER_JOB = 500  # 1,000,000 lines in all
LINE = "l" * 100


def fill(store: SqliteJobStore) -> None:
    conn_db = store.db
    with conn_db.write() as c:
        c.executemany("INSERT INTO jobs (type, queue, state, payload, attempts, max_attempts, run_at, created_at,"
                      " finished_at) VALUES ('done', 'default', 'succeeded', '{}', 1, 1, 1, 1, 1)", [()] * JOBS)  # fmt: skip
    ids = [row[0] for row in conn_db.conn.execute("SELECT id FROM jobs WHERE type = 'done'")]
    for start in range(0, JOBS, 100):
        with conn_db.write() as c:
            c.executemany("INSERT INTO job_logs (job_id, at, level, message) VALUES (?, 1.0, 'INFO', ?)",
                          [(job_id, LINE) for job_id in ids[start:start + 100] for _ in range(LINES_PER_JOB)])  # fmt: skip
    conn_db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def claim_latencies(store: SqliteJobStore, stop: threading.Event, at_most: int) -> list[float]:
    """Enqueue one job and claim it (timed); until `stop` or `at_most` claims."""
    instance = "bench-instance"
    store.register_instance(instance)
    samples = []
    while not stop.is_set() and len(samples) < at_most:
        store.insert_jobs([Job("work", {})], "api")
        began = time.perf_counter()
        store.complete_and_claim([], instance, 1)  # the job stays `running`: clear_finished leaves it
        samples.append(time.perf_counter() - began)
    return samples


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"{len(samples):6d} claims  p50 {statistics.median(ordered) * 1000:7.2f} ms  p99 {p99 * 1000:7.2f} ms"
            f"  max {ordered[-1] * 1000:7.2f} ms")


def main() -> None:
    workdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="acacia-delete-bench-"))
    store = SqliteJobStore(workdir / "acacia.db")
    fill(store)
    wal = Path(str(store.db.path) + "-wal")
    before = os.path.getsize(store.db.path)

    stop_checkpoints = store.db.checkpoint_in_background()  # as the app does
    quiet = claim_latencies(store, threading.Event(), 2_000)

    stop, peak_wal, took = threading.Event(), [0], [0.0]

    def delete() -> None:
        began = time.perf_counter()
        store.clear_finished("bench")
        took[0] = time.perf_counter() - began
        store.db.release_thread_connection()
        stop.set()

    def watch_wal() -> None:
        while not stop.is_set():
            peak_wal[0] = max(peak_wal[0], wal.stat().st_size if wal.exists() else 0)
            time.sleep(0.01)

    result: list[list[float]] = []
    def claim() -> None:
        result.append(claim_latencies(store, stop, 10**9))
        store.db.release_thread_connection()

    claimer = threading.Thread(target=claim)
    watcher = threading.Thread(target=watch_wal)
    claimer.start()
    watcher.start()
    time.sleep(0.05)
    deleter = threading.Thread(target=delete)
    deleter.start()
    for thread in (deleter, claimer, watcher):
        thread.join()
    stop_checkpoints()
    store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    after = os.path.getsize(store.db.path)
    print(f"claim latency, nothing else writing:      {summary(quiet)}")
    print(f"claim latency, during a 1 M-line delete:  {summary(result[0])}")
    print(f"delete of {JOBS:,} jobs / {JOBS * LINES_PER_JOB:,} log lines: {took[0]:.2f} s;"
          f" file {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB; largest WAL {peak_wal[0] / 1e6:.1f} MB")
    store.close()


if __name__ == "__main__":
    main()
