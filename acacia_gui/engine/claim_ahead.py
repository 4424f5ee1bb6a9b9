"""Claim-ahead (prefetch) policy: how many short jobs the worker holds claimed but not started.

A buffered job's row is `running`, owned by this instance, so a slot that frees up
starts the next job without waiting for a commit. The buffer holds about
PREFETCH_WINDOW seconds of work, judged from recent run times; with long jobs it stays
empty and every claim is for a free slot. Buffered jobs that were cancelled, whose queue
was paused, or that a stopping worker gives back are settled here too.
"""

from __future__ import annotations

import time
from collections import deque

from ..core.job import Job, JobState
from ..core.registry import Registry
from ..core.runner import Completion
from .run import Run

PREFETCH_WINDOW = 0.05  # seconds of work claimed ahead into the buffer (0: never claim ahead)
PREFETCH_MAX = 64  # jobs claimed ahead at most


class ClaimAhead:
    """The buffer of claimed-ahead jobs and the policy that sizes it.

    The policy runs on the main thread. `ready` is shared: pool threads pop it too (the
    scheduler's take_buffered), so every access to `ready` holds the Slots lock."""

    def __init__(self) -> None:
        self.ready: deque[Job] = deque()
        self.avg_run: float | None = None  # recent run time (moving average, seconds)

    def note_run_time(self, run: Run) -> None:
        if run.finished is not None:
            took = run.finished - run.started
            self.avg_run = took if self.avg_run is None else 0.8 * self.avg_run + 0.2 * took

    def depth(self, concurrency: int) -> int:
        """How many jobs to hold claimed ahead: about PREFETCH_WINDOW seconds of work."""
        if self.avg_run is None or PREFETCH_WINDOW <= 0:
            return 0
        return min(PREFETCH_MAX, int(PREFETCH_WINDOW * concurrency / max(self.avg_run, 1e-6)))

    def refill(self, depth: int) -> int:
        """Jobs to claim ahead now: top up to `depth` once the buffer is half empty."""
        return depth - len(self.ready) if len(self.ready) <= depth // 2 else 0

    @staticmethod
    def no_prefetch_types(registry: Registry | None) -> list[str]:
        """Handlers not safe to repeat are never buffered, so a crash never marks a job that
        did not start as `interrupted` (a buffered row is `running`, and counts as started)."""
        return registry.not_repeatable_types() if registry is not None else []

    def settle(self, cancelled: set[int], paused: set[str], stopping: bool) -> list[tuple[Job, Completion]]:
        """Take out buffered jobs that were cancelled, whose queue was paused, or (stopping) all;
        returns each with the outcome to write."""
        keep: deque[Job] = deque()
        out: list[tuple[Job, Completion]] = []
        for job in self.ready:
            if job.id in cancelled:
                outcome = Completion(job.id, job.attempts, JobState.CANCELLED, error="cancelled before it ran",
                                     refund_attempt=True, message="cancelled")  # fmt: skip
            elif stopping or job.queue in paused:
                why = "the app is stopping" if stopping else "its queue was paused"
                outcome = Completion(job.id, job.attempts, JobState.QUEUED, run_at=time.time(), refund_attempt=True,
                                     message=f"returned to the queue before it started: {why}")  # fmt: skip
            else:
                keep.append(job)
                continue
            out.append((job, outcome))
        self.ready = keep
        return out
