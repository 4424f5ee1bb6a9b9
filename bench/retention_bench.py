"""Claim latency while retention prunes 1,000,000 finished jobs (issue 13).

A claimer thread does what the engine does per job: enqueue one job, then one claim
transaction (complete_and_claim), timing enqueue → claimed (what a user waits for a
job to start, without the handler). It runs once with nothing else writing, then while the
app's Pruner (engine/pruner.py, on its own thread as in the app) deletes 1,000,000 finished
jobs past `--keep-finished`. Printed: p50/p99/max of both runs, how long the pruning took,
the jobs per second and the file size before and after.

    .venv/bin/python bench/retention_bench.py [WORKDIR] [JOBS]
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

from acacia_gui.core.definitions import EventKind
from acacia_gui.core.durations import RetentionPolicy
from acacia_gui.core.job import Job
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.engine.pruner import Pruner
from acacia_gui.store.sqlite import SqliteJobStore

JOBS = 1_000_000
CHUNK = 50_000


def fill(store: SqliteJobStore, jobs: int) -> None:
    """`jobs` succeeded jobs that finished 2 days ago, each with one event row, as the app leaves them."""
    old = time.time() - 2 * 86400
    for start in range(0, jobs, CHUNK):
        n = min(CHUNK, jobs - start)
        with store.db.write() as c:
            first = c.execute("SELECT coalesce(max(id), 0) FROM jobs").fetchone()[0] + 1
            c.executemany("INSERT INTO jobs (type, queue, state, payload, attempts, max_attempts, run_at, created_at,"
                          " finished_at) VALUES ('done', 'default', 'succeeded', '{}', 1, 1, ?, ?, ?)",
                          [(old, old, old + i * 1e-6) for i in range(n)])  # fmt: skip
            c.executemany("INSERT INTO events (job_id, at, source, old_state, new_state, message) VALUES"
                          " (?, ?, 'worker', 'running', 'succeeded', '')", [(first + i, old) for i in range(n)])  # fmt: skip
    store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")


def latencies(store: SqliteJobStore, stop: threading.Event, at_most: int) -> list[float]:
    """Enqueue one job and claim it, timing both; until `stop` or `at_most` claims."""
    instance = "bench-instance"
    store.register_instance(instance)
    samples = []
    while not stop.is_set() and len(samples) < at_most:
        began = time.perf_counter()
        store.insert_jobs([Job("work", {})], "api")
        store.complete_and_claim([], instance, 1)  # the job stays `running`: pruning leaves it
        samples.append(time.perf_counter() - began)
        time.sleep(0.002)  # a steady trickle of jobs, not a flood
    return samples


def summary(samples: list[float]) -> str:
    ordered = sorted(samples)
    p99 = ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))]
    return (f"{len(samples):6d} claims  p50 {statistics.median(ordered) * 1000:6.2f} ms  p99 {p99 * 1000:6.2f} ms"
            f"  max {ordered[-1] * 1000:7.2f} ms")


def main() -> None:
    workdir = Path(sys.argv[1]) if len(sys.argv) > 1 else Path(tempfile.mkdtemp(prefix="acacia-retention-bench-"))
    jobs = int(sys.argv[2]) if len(sys.argv) > 2 else JOBS
    store = SqliteJobStore(workdir / "acacia.db")
    fill(store, jobs)
    before = os.path.getsize(store.db.path)
    stop_checkpoints = store.db.checkpoint_in_background()  # as the app does
    quiet = latencies(store, threading.Event(), 2_000)

    queue = JobQueue(store, Registry())
    events = [0, 0]  # deleted events, ids in them: what a window would have to take in

    def count(event) -> None:
        if event.kind == EventKind.DELETED:
            events[0] += 1
            events[1] += len(event.data.get("ids") or ())

    queue.bus.subscribe(count)
    pruner = Pruner(queue, RetentionPolicy(keep_finished=86400))
    stop, took, result = threading.Event(), [0.0], []

    def claim() -> None:
        result.append(latencies(store, stop, 10**9))
        store.db.release_thread_connection()

    claimer = threading.Thread(target=claim)
    claimer.start()
    began = time.perf_counter()
    pruner.start()  # its first sweep runs at once
    while pruner.pruned < jobs and claimer.is_alive():
        time.sleep(0.05)
    took[0] = time.perf_counter() - began
    stop.set()
    claimer.join()
    pruner.stop()
    stop_checkpoints()
    store.db.conn.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    after = os.path.getsize(store.db.path)
    print(f"enqueue→claim, nothing else writing:       {summary(quiet)}")
    print(f"enqueue→claim, while {jobs:,} jobs are pruned: {summary(result[0])}")
    print(f"pruned {pruner.pruned:,} finished jobs in {took[0]:.1f} s ({pruner.pruned / took[0]:,.0f} jobs/s) "
          f"in {events[0]:,} deleted events; file {before / 1e6:.1f} MB -> {after / 1e6:.1f} MB")
    store.close()


if __name__ == "__main__":
    main()
