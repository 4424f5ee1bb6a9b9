"""Long-lived pool tasks: a run queue feeding a few QThreadPool tasks that run jobs.

Starting a job costs a queue put, not a pool start. Pool tasks are plain callables, not
QRunnable subclasses: PySide6 keeps Python QRunnable wrappers (and so each job, context
and run) alive.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from queue import Empty, SimpleQueue

from PySide6.QtCore import QThreadPool

from ..core.context import Context
from ..core.job import Job
from ..core.logcapture import JobLogCapture
from ..core.registry import RegisteredHandler
from ..core.runner import Completion, abandoned_completion, run_job

IDLE_TASK_EXIT = 2.0  # seconds a pool task waits for its next job before it ends


@dataclass
class Run:
    """One attempt of a job in this process, from its start to its written outcome."""

    job: Job
    ctx: Context
    handler: RegisteredHandler | None
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    cancelled_at: float | None = None
    abandoned: bool = False


def run_in_pool(run: Run, log_capture: JobLogCapture, post: Callable[[Run, Completion], None]) -> None:
    """Run one job on a pool thread and hand its Completion to `post` (never raises)."""
    log_capture.bind(run.job.id)
    try:
        completion = run_job(run.ctx, run.job, run.handler)
    except BaseException as exc:  # noqa: BLE001 - run_job never raises; belt and braces for the pool thread
        completion = abandoned_completion(run.job, f"internal error running the job: {exc!r}")
    finally:
        log_capture.unbind()
    post(run, completion)


class RunQueue:
    """Hands runs to long-lived pool tasks.

    A task runs jobs until it is handed None (stop), its run is abandoned (the thread is
    stuck in a handler; `lost_task` lets a new task take its place), or it waited
    IDLE_TASK_EXIT seconds for work. Thread-safe; `submit` runs on the worker's thread.
    """

    def __init__(self, pool: QThreadPool, log_capture: JobLogCapture, post: Callable[[Run, Completion], None],
                 take: Callable[[], Run | None] = lambda: None) -> None:  # fmt: skip
        self._pool = pool
        self._log_capture = log_capture
        self._post = post
        self._take = take  # the next run straight from the claim-ahead buffer, or None
        self._runs: SimpleQueue[Run | None] = SimpleQueue()
        self._lock = threading.Lock()
        self._tasks = 0  # tasks that will come back for another run

    def submit(self, run: Run, concurrency: int) -> None:
        self._runs.put(run)
        with self._lock:
            start = self._tasks < concurrency
            if start:
                self._tasks += 1
        if start:
            self._pool.start(self._serve)

    def lost_task(self) -> None:
        with self._lock:
            self._tasks -= 1

    def close(self) -> None:
        with self._lock:
            tasks = self._tasks
        for _ in range(tasks):
            self._runs.put(None)

    def _serve(self) -> None:
        ran = False
        while True:
            try:  # runs handed over first, so none waits behind the buffer
                run = self._runs.get_nowait()
            except Empty:
                run = self._take() if ran else None
                if run is None:
                    try:
                        run = self._runs.get(timeout=IDLE_TASK_EXIT)
                    except Empty:
                        with self._lock:  # a run put before this check is ours to take; after it, submit starts a task
                            if not self._runs.empty():
                                continue
                            self._tasks -= 1
                            return
            if run is None:
                with self._lock:
                    self._tasks -= 1
                return
            run_in_pool(run, self._log_capture, self._post)
            ran = True
            if run.abandoned:
                return  # the worker counted this task as lost when it abandoned the run
            del run  # waiting for the next one must not keep this job and its context alive
