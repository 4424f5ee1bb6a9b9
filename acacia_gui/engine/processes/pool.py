"""ProcessPool: a worker process for each slot, reused from job to job, replaced when it dies.

A pool thread asks for a process (`run`), supervises the job in it, and gives it back.
Idle processes wait for the next job, so a job never pays for a spawn: one is started
ahead for every slot (`prewarm`), and a replacement is started at once, in the
background, whenever a process dies, is killed or is recycled (after
`max_jobs_per_process` jobs, a plugin reload, or a job that may have damaged it).
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections.abc import Callable

from ...core.registry import RegisteredHandler
from ...core.runner import Completion, abandoned_completion
from ..run import Run
from .spawner import Spawner
from .supervisor import Supervision
from .worker_process import WorkerProcess

log = logging.getLogger(__name__)

STARTING_WAIT = 10.0  # seconds a slot waits for a process already being started
DEFAULT_MAX_JOBS_PER_PROCESS = 10_000  # a fresh process costs ~80 ms of CPU: about 8 µs a job at this rate


def process_isolation_available() -> bool:
    """POSIX (Linux, macOS, BSD); on Windows every handler runs on a thread (see the README)."""
    return os.name == "posix"


class ProcessPool:
    """Thread-safe. `run` is called by pool threads; the rest by the scheduler."""

    def __init__(self, *, max_jobs_per_process: int = DEFAULT_MAX_JOBS_PER_PROCESS, enabled: bool = True) -> None:
        self.max_jobs_per_process = max(1, max_jobs_per_process)
        self.available = enabled and process_isolation_available()
        self._spawner = Spawner()
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)  # notified when a started process joins the idle ones
        self._idle: list[WorkerProcess] = []
        self._busy: set[WorkerProcess] = set()
        self._starting = 0
        self._generation = 0
        self._wanted = 0  # processes to keep warm (the scheduler's concurrency)
        self._closed = False
        self.spawned = 0  # processes started in all (tests and the benchmark read it)

    def isolation_of(self, handler: RegisteredHandler) -> str:
        """'process' when the handler asked for it and a worker process can load it again."""
        return handler.runs_in if self.available else "thread"

    # -- pool threads ---------------------------------------------------------------------
    def run(self, run: Run, capture_log: Callable[[int, float, str, str], None],
            post: Callable[[Run, Completion], None], take_more: Callable[[int], list[Run]]) -> None:  # fmt: skip
        """Run `run` (and the short jobs `take_more` hands over while it runs) in a worker
        process; each one's Completion goes to `post`. Never raises for a run's fault."""
        try:
            process = self._acquire()
        except OSError as exc:
            log.exception("could not start a worker process")
            post(run, abandoned_completion(run.job, f"could not start a worker process for it: {exc}"))
            return
        reusable = Supervision(process, capture_log, post, take_more, self.max_jobs_per_process,
                               self._start_spare).supervise(run)
        self._release(process, reusable)

    def _acquire(self) -> WorkerProcess:
        stale: list[WorkerProcess] = []
        with self._lock:
            while self._idle:
                process = self._idle.pop()
                if process.generation == self._generation and process.alive():
                    self._busy.add(process)
                    break
                stale.append(process)
            else:
                process = None
        for old in stale:
            self._close_soon(old)
        if process is None:
            process = self._wait_for_starting()
        if process is None:
            process = self._start()  # only when none is ready or on its way (more slots than warm processes)
            with self._lock:
                self._busy.add(process)
        return process

    def _wait_for_starting(self) -> WorkerProcess | None:
        """A process already being started (a replacement, the prewarm) is taken when ready,
        instead of starting yet another."""
        deadline = time.monotonic() + STARTING_WAIT
        with self._ready:
            while self._starting > 0 and not self._idle:
                left = deadline - time.monotonic()
                if left <= 0:
                    return None
                self._ready.wait(left)
            while self._idle:
                process = self._idle.pop()
                if process.generation == self._generation and process.alive():
                    self._busy.add(process)
                    return process
                self._close_soon(process)
        return None

    def _release(self, process: WorkerProcess, reusable: bool) -> None:
        keep = (reusable and not process.closed and process.jobs_run < self.max_jobs_per_process
                and process.alive())  # fmt: skip
        with self._lock:
            self._busy.discard(process)
            keep = keep and process.generation == self._generation and not self._closed
            if keep:
                self._idle.append(process)
        if not keep:
            self._close_soon(process)
            self._top_up()

    # -- the scheduler ----------------------------------------------------------------------
    def prewarm(self, count: int) -> None:
        """Keep `count` processes ready (started in the background)."""
        with self._lock:
            self._wanted = count
            self._closed = False
        self._top_up()

    def retire_all(self) -> None:
        """A plugin reload: every process is replaced once its current job is done."""
        with self._lock:
            self._generation += 1
            idle, self._idle = self._idle, []
        for process in idle:
            self._close_soon(process)
        self._top_up()

    def close(self) -> None:
        """Stop: exit idle processes, kill any still busy (the scheduler waited for their runs)."""
        with self._lock:
            self._closed = True
            idle, self._idle = self._idle, []
            busy = list(self._busy)
        for process in idle:
            process.close()
        for process in busy:
            process.close(kill=True)

    @property
    def idle_pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in self._idle]

    @property
    def pids(self) -> list[int]:
        with self._lock:
            return [p.pid for p in (*self._idle, *self._busy)]

    # -- internals ------------------------------------------------------------------------
    def _start(self) -> WorkerProcess:
        with self._lock:
            generation = self._generation
            self.spawned += 1
        return WorkerProcess.start(self._spawner, generation)

    def _start_spare(self) -> None:
        """A process nears its recycling: its successor starts now, so the slot does not wait for it."""
        with self._lock:
            if self._closed:
                return
            self._starting += 1
        threading.Thread(target=self._start_idle, name="acacia-worker-start", daemon=True).start()

    def _top_up(self) -> None:
        """Start processes in the background until idle + busy + starting reaches the wanted count."""
        with self._lock:
            missing = self._wanted - len(self._idle) - len(self._busy) - self._starting
            if self._closed or missing <= 0:
                return
            self._starting += missing
        for _ in range(missing):
            threading.Thread(target=self._start_idle, name="acacia-worker-start", daemon=True).start()

    def _start_idle(self) -> None:
        try:
            process = self._start()
        except OSError:
            log.exception("could not start a worker process")
            with self._lock:
                self._starting -= 1
                self._ready.notify_all()
            return
        with self._lock:
            self._starting -= 1
            keep = not self._closed and process.generation == self._generation
            if keep:
                self._idle.append(process)
            self._ready.notify_all()
        if not keep:
            process.close()

    def _close_soon(self, process: WorkerProcess) -> None:
        """Exit (or kill) a process without holding up the caller."""
        threading.Thread(target=process.close, name="acacia-worker-exit", daemon=True).start()
