"""Slots: the runs a scheduler holds, its claim-ahead buffer, and the marks pool threads must see.

Shared by the scheduler's loop thread and pool threads (which take buffered jobs
themselves), so everything here is guarded by one lock, and every check-then-act on it
(is a slot free? take the job, register its run) happens under that lock in one step.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable

from ..core.job import Job
from ..core.runner import Completion
from .claim_ahead import ClaimAhead
from .run import Run


class Slots:
    """`make_run` builds a job's run (its context, handler, journaled start); `record` journals
    several starts in one write."""

    def __init__(self, make_run: Callable[[Job], Run], record: Callable[..., None]) -> None:
        self.lock = threading.Lock()
        self.running: dict[int, Run] = {}
        self.ahead = ClaimAhead()  # claimed ahead, not started (their rows are `running`, owned by us)
        self.cancel_before_start: set[int] = set()
        self.paused_queues: set[str] = set()
        self.unannounced: deque[Job] = deque()  # taken from the buffer by pool tasks; `running` not yet published
        self.accepting = False  # False before start() and while stopping: pool threads take nothing
        self._make_run = make_run
        self._record = record

    # -- counts (any thread; a snapshot) -----------------------------------------------------
    def live(self, *, thread_only: bool = False) -> list[Run]:
        """Runs whose handler is still running (not finished, even if its write waits; not abandoned)."""
        return [run for run in list(self.running.values())
                if run.finished is None and not run.abandoned and not (thread_only and run.isolation == "process")]  # fmt: skip

    def busy(self) -> int:
        """Runs holding a slot: a finished run whose write waits has freed its slot already, and
        one waiting in a worker process behind another holds none yet."""
        return sum(1 for run in list(self.running.values())
                   if run.finished is None and not run.abandoned and not run.queued_behind)  # fmt: skip

    def abandoned(self) -> int:
        return sum(1 for run in list(self.running.values()) if run.abandoned)

    def owned_ids(self) -> list[int]:
        with self.lock:
            return [*self.running, *(job.id for job in self.ahead.ready)]

    # -- taking jobs ------------------------------------------------------------------------
    def register(self, job: Job) -> Run:
        """Under `lock`: the job's run holds a slot from here on (a cancel that came first applies)."""
        run = self._make_run(job)
        self.running[job.id] = run
        if job.id in self.cancel_before_start:
            self.cancel_before_start.discard(job.id)
            run.ctx.cancel()
        return run

    def _may_take(self) -> bool:
        return bool(self.ahead.ready) and self.accepting and not self.cancel_before_start and not self.paused_queues

    def take_into_free_slot(self, concurrency: int) -> Run | None:
        """The next buffered job, if a slot is free (loop thread or a pool thread that just
        finished a run). Declines while a cancel or pause is unsettled: the loop thread decides."""
        with self.lock:
            if not self._may_take() or self.busy() >= concurrency:
                return None
            run = self.register(self.ahead.ready.popleft())
            self.unannounced.append(run.job)
            return run

    def take_behind(self, limit: int, is_process_job: Callable[[Job], bool]) -> list[Run]:
        """Up to `limit` buffered process jobs for a worker process that is running another
        (`queued_behind`: no slot yet), in buffer order; their starts journaled in one write."""
        with self.lock:
            if not self._may_take():
                return []
            ready = self.ahead.ready
            jobs: list[Job] = []
            while ready and len(jobs) < limit and is_process_job(ready[0]):
                jobs.append(ready.popleft())
            self._record(*jobs)
            runs = []
            for job in jobs:
                run = self.register(job)
                run.queued_behind = True
                self.unannounced.append(job)
                runs.append(run)
            return runs

    def add_ahead(self, jobs: list[Job]) -> None:
        with self.lock:
            self.ahead.ready.extend(jobs)

    def take_unannounced(self) -> list[Job]:
        jobs = []
        while self.unannounced:
            jobs.append(self.unannounced.popleft())
        return jobs

    # -- marks --------------------------------------------------------------------------------
    def request_cancel(self, job_id: int) -> Run | None:
        """The run to cancel, or None after marking the job (not started: maybe buffered).
        One lock for the look-up and the mark, so a pool task cannot take the job between them."""
        with self.lock:
            run = self.running.get(job_id)
            if run is None:
                self.cancel_before_start.add(job_id)
            return run

    def pause(self, queue: str) -> None:
        with self.lock:
            self.paused_queues.add(queue)  # its buffered jobs go back to the queue

    def settle(self, stopping: bool) -> list[tuple[Job, Completion]]:
        """Buffered jobs that were cancelled, whose queue was paused, or that stopping returns."""
        if not (stopping or self.cancel_before_start or self.paused_queues):
            return []
        with self.lock:  # every job we own is in the buffer or running now, so older marks are stale
            cancelled, self.cancel_before_start = self.cancel_before_start, set()
            paused, self.paused_queues = self.paused_queues, set()
            return self.ahead.settle(cancelled, paused, stopping)

    def queue_of(self, job_id: int) -> str | None:
        run = self.running.get(job_id)
        return run.job.queue if run else None
