"""Acacia's engine, measured the way an app uses it: JobQueue on SqliteJobStore, PoolWorker on Qt.

Each case builds its own store in a fresh directory. The worker cases run a
QCoreApplication; completion is observed through the queue's event bus (the worker
announces a state only after it is committed), so nothing polls the database.
"""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

from common import (
    BATCH_JOBS,
    BATCH_SIZE,
    ENQUEUE_MAX_JOBS,
    ENQUEUE_MAX_SECONDS,
    LATENCY_SAMPLES,
    LATENCY_WARMUP,
    THROUGHPUT_JOBS,
    latency_summary,
    rate,
    timed_loop,
)

from acacia_gui.core.context import Context
from acacia_gui.core.events import JobEvent
from acacia_gui.core.job import Job
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.store.sqlite import SqliteJobStore


def _queue(workdir: Path, sync: str) -> tuple[JobQueue, Registry]:
    store = SqliteJobStore(workdir / "acacia.db", synchronous=sync)
    registry = Registry()
    registry.register_handler("noop", lambda ctx, job: True)
    return JobQueue(store, registry), registry


def ours_enqueue_single(workdir: Path, sync: str) -> dict[str, Any]:
    queue, _ = _queue(workdir, sync)
    ctx = Context.background()
    return timed_loop(lambda i: queue.enqueue(ctx, Job("noop", {"i": i})), ENQUEUE_MAX_JOBS, ENQUEUE_MAX_SECONDS)


def ours_enqueue_batch(workdir: Path, sync: str) -> dict[str, Any]:
    queue, _ = _queue(workdir, sync)
    ctx = Context.background()
    start = time.perf_counter()
    for first in range(0, BATCH_JOBS, BATCH_SIZE):
        queue.enqueue_many(ctx, [Job("noop", {"i": i}) for i in range(first, first + BATCH_SIZE)])
    return rate(BATCH_JOBS, time.perf_counter() - start)


def _app():
    from PySide6.QtCore import QCoreApplication

    return QCoreApplication.instance() or QCoreApplication([])


def _worker(queue: JobQueue, workdir: Path):
    from acacia_gui.qt.worker import PoolWorker

    return PoolWorker(queue, concurrency=2, instances_dir=workdir / "instances")


def _run_loop_until(loop, deadline_s: float, what: str) -> None:
    """Run a QEventLoop until something calls loop.quit(); fail after deadline_s."""
    from PySide6.QtCore import QTimer

    timed_out = []
    timer = QTimer()
    timer.setSingleShot(True)
    timer.timeout.connect(lambda: (timed_out.append(True), loop.quit()))
    timer.start(int(deadline_s * 1000))
    loop.exec()
    timer.stop()
    if timed_out:
        raise TimeoutError(f"timed out after {deadline_s:g} s waiting for {what}")


def ours_throughput(workdir: Path, sync: str, jobs: int = THROUGHPUT_JOBS, profiler=None) -> dict[str, Any]:
    """N no-op jobs enqueued first; time from worker.start to the N-th 'succeeded' event.

    `profiler` (a cProfile.Profile) is enabled for exactly the timed part.
    """
    from PySide6.QtCore import QEventLoop

    _app()
    queue, registry = _queue(workdir, sync)
    ctx = Context.background()
    for first in range(0, jobs, BATCH_SIZE):
        queue.enqueue_many(ctx, [Job("noop", {"i": i}) for i in range(first, min(jobs, first + BATCH_SIZE))])
    worker = _worker(queue, workdir)
    loop = QEventLoop()
    done = [0]

    def on_event(event: JobEvent) -> None:
        if event.kind == "state" and event.state == "succeeded":
            done[0] += 1
            if done[0] == jobs:
                loop.quit()

    queue.bus.subscribe(on_event)
    if profiler is not None:
        profiler.enable()
    start, cpu = time.perf_counter(), time.process_time()
    worker.start(ctx, registry)
    _run_loop_until(loop, 120, f"{jobs} no-op jobs")
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    if profiler is not None:
        profiler.disable()
    worker.stop(Context.background().with_timeout(5))
    assert queue.store.count_jobs(state="succeeded") == jobs
    queue.store.close()
    return rate(jobs, seconds, cpu)


def ours_latency(workdir: Path, sync: str) -> dict[str, Any]:
    """One job at a time into an idle, running worker; the handler stamps when it starts.

    Between samples the main thread waits in a Qt event loop (as an app idles), so the
    pool thread never competes with a busy main thread for the GIL.
    """
    from PySide6.QtCore import QEventLoop

    _app()
    queue, registry = _queue(workdir, sync)
    stamps: dict[int, float] = {}
    registry.register_handler("stamp", lambda ctx, job: stamps.__setitem__(job.payload, time.perf_counter()))
    ctx = Context.background()
    worker = _worker(queue, workdir)
    worker.start(ctx, registry)
    loop = QEventLoop()
    worker.job_finished.connect(lambda event: loop.quit())
    samples = []
    for i in range(LATENCY_WARMUP + LATENCY_SAMPLES):
        t0 = time.perf_counter()
        queue.enqueue(ctx, Job("stamp", i))
        _run_loop_until(loop, 10, "a job to finish")  # completions reach the worker through the event loop
        if i >= LATENCY_WARMUP:
            samples.append(stamps[i] - t0)
    worker.stop(Context.background().with_timeout(5))
    queue.store.close()
    return latency_summary(samples)


CASES = {
    "enqueue_single": {"ours": ours_enqueue_single},
    "enqueue_batch": {"ours": ours_enqueue_batch},
    "throughput": {"ours": ours_throughput},
    "latency": {"ours": ours_latency},
}
