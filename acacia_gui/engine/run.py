"""Run: one attempt of a job in this app, from its start to its written outcome."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field

from ..core.context import Context
from ..core.job import Job
from ..core.limits import DEFAULT_CANCEL_GRACE
from ..core.registry import RegisteredHandler


@dataclass(eq=False)
class Run:
    """Shared by the scheduler (main thread) and the pool thread that runs or supervises it.

    `finished` is set by the pool thread once the outcome is decided; `abandoned` by the
    watchdog (thread isolation only: a process run is killed instead). `wake` is set by
    a process supervisor so that a cancel reaches it at once instead of at its next poll.
    `queued_behind` marks a short job handed to a worker process while another runs there.
    """

    job: Job
    ctx: Context
    handler: RegisteredHandler | None
    isolation: str = "thread"
    started: float = field(default_factory=time.monotonic)
    finished: float | None = None
    cancelled_at: float | None = None
    abandoned: bool = False
    wake: Callable[[], None] | None = None
    queued_behind: bool = False  # handed to a worker process behind the job it runs: holds no slot yet
    chained: bool = False  # claimed by the transaction that ended its dependency: a chain's step (Scheduler._finish)

    @property
    def cancel_grace(self) -> float:
        """Seconds its worker process gets after a cancel before it is killed: the job's, else its handler's."""
        if self.job.cancel_grace is not None:
            return self.job.cancel_grace
        return getattr(self.handler, "cancel_grace", DEFAULT_CANCEL_GRACE)

    def cancel(self, cause: BaseException | None = None) -> None:
        """Cancel the run's context and wake its supervisor (any thread)."""
        self.ctx.cancel(cause)
        wake = self.wake
        if wake is not None:
            wake()
