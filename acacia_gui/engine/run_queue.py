"""Long-lived pool tasks: a run queue feeding a few thread-pool tasks that run jobs.

Starting a job costs a queue put, not a pool start. The pool is anything with
`start(callable)` (Qt's QThreadPool in the app, `ThreadExecutor` in unit tests). A task
runs a job in its own thread (thread isolation) or supervises the slot's worker process
while it runs one (process isolation); either way `execute` decides the outcome.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from queue import Empty, SimpleQueue
from typing import Protocol

from .run import Run

IDLE_TASK_EXIT = 2.0  # seconds a pool task waits for its next job before it ends


class Executor(Protocol):
    """A thread pool: Qt's (qt/worker.py) fits, and so does ThreadExecutor."""

    def start(self, task: Callable[[], None]) -> None: ...

    def set_max_threads(self, count: int) -> None: ...


class ThreadExecutor:
    """One plain thread per task: the pool for tests and Qt-free embedding."""

    threads_end_with_tasks = True  # what a task's thread holds (its store connection) may be let go when it ends

    def start(self, task: Callable[[], None]) -> None:
        threading.Thread(target=task, name="acacia-pool-task", daemon=True).start()

    def set_max_threads(self, count: int) -> None:
        """Unbounded: the RunQueue already starts no more tasks than there are slots."""


class RunQueue:
    """Hands runs to long-lived pool tasks.

    A task runs jobs until it is handed None (stop), its run is abandoned (the thread is
    stuck in a handler; `lost_task` lets a new task take its place), or it waited
    IDLE_TASK_EXIT seconds for work. Thread-safe; `submit` runs on the scheduler's thread.
    """

    def __init__(self, pool: Executor, execute: Callable[[Run], Run | None],
                 take: Callable[[], Run | None] = lambda: None, ended: Callable[[], None] = lambda: None) -> None:  # fmt: skip
        self._pool = pool
        self._execute = execute  # runs one job to its outcome and posts it (or writes it: then maybe the next run); never raises
        self._take = take  # the next run straight from the claim-ahead buffer, or None
        self._ended = ended  # a task ends (its thread may run other tasks, or end)
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

    @property
    def tasks(self) -> int:
        with self._lock:
            return self._tasks

    def close(self) -> None:
        with self._lock:
            tasks = self._tasks
        for _ in range(tasks):
            self._runs.put(None)

    def _serve(self) -> None:
        try:
            self._serve_runs()
        finally:
            self._ended()

    def _serve_runs(self) -> None:
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
            while run is not None:  # `execute` may hand back the next run for this task (a chain's step)
                after = self._execute(run)
                ran = True
                if run.abandoned:  # (then `after` is None: a run's end is written here only if not abandoned)
                    return  # the scheduler counted this task as lost when it abandoned the run
                run = after
            del run, after  # waiting for the next one must not keep this job and its context alive
