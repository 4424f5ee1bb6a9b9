"""PoolWorker: the engine's Scheduler on Qt — QThreadPool for the slots, QTimers, a queued wake signal.

No scheduling decision is made here (see engine/scheduler.py); this adapter only gives
the scheduler Qt's event loop and thread pool, and re-emits finished runs as a signal.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, Qt, QThreadPool, QTimer, Signal

from ..core.context import Context
from ..core.queue import JobQueue
from ..core.registry import Registry
from ..engine.processes.pool import ProcessPool
from ..engine.scheduler import Scheduler

__all__ = ["PoolWorker"]


class _QtTimer:
    def __init__(self, parent: QObject, seconds: float, fn: Callable[[], None], single_shot: bool) -> None:
        self._timer = QTimer(parent)
        self._timer.setSingleShot(single_shot)
        self._timer.setInterval(max(0, int(seconds * 1000)))
        self._timer.timeout.connect(fn)
        self._timer.start()

    def stop(self) -> None:
        self._timer.stop()
        self._timer.deleteLater()


class _QtLoop(QObject):
    """The scheduler's EventLoop on the Qt thread that owns this object."""

    _posted = Signal(object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        # Always queued, even from this thread: a burst of wakes (one ENQUEUED event per job of a
        # batch) then costs one pump on the next loop turn, not one claim transaction each.
        self._posted.connect(lambda fn: fn(), Qt.ConnectionType.QueuedConnection)

    def post(self, fn: Callable[[], None]) -> None:
        self._posted.emit(fn)

    def call_later(self, seconds: float, fn: Callable[[], None]) -> _QtTimer:
        return _QtTimer(self, seconds, fn, True)

    def call_every(self, seconds: float, fn: Callable[[], None]) -> _QtTimer:
        return _QtTimer(self, seconds, fn, False)

    def process_events(self, seconds: float) -> None:
        QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, int(seconds * 1000))
        Context.background().wait(0.005)


class _QtPool:
    """The slots' QThreadPool. Tasks are plain callables, not QRunnable subclasses: PySide6
    keeps Python QRunnable wrappers (and so each job, context and run) alive."""

    def __init__(self, parent: QObject) -> None:
        self.pool = QThreadPool(parent)
        # Threads never expire (at most the slots' count, idle threads cost nothing): a thread that wrote
        # a chain's step keeps its store connection, so new threads would leave connections behind.
        self.pool.setExpiryTimeout(-1)

    def start(self, task: Callable[[], None]) -> None:
        self.pool.start(task)

    def set_max_threads(self, count: int) -> None:
        self.pool.setMaxThreadCount(count)


class PoolWorker(QObject):
    """The Worker for the app: create, start() and stop() on the main thread."""

    job_finished = Signal(object)  # JobEvent of a run's final (or retry) state, after it is committed

    def __init__(
        self,
        queue: JobQueue,
        *,
        concurrency: int | None = None,
        instances_dir: Path | None = None,
        poll_interval: float = 0.2,
        cancel_grace: float = 10.0,
        processes: ProcessPool | None = None,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self._loop = _QtLoop(self)
        self._pool = _QtPool(self)
        self.scheduler = Scheduler(queue, self._loop, self._pool, concurrency=concurrency, instances_dir=instances_dir,
                                   poll_interval=poll_interval, cancel_grace=cancel_grace, processes=processes,
                                   on_finished=self.job_finished.emit)  # fmt: skip

    # The Worker interface, and what the dispatcher and window read: all from the scheduler.
    def start(self, ctx: Context, registry: Registry) -> None:
        self.scheduler.start(ctx, registry)

    def stop(self, ctx: Context) -> None:
        self.scheduler.stop(ctx)

    def wake(self) -> None:
        self.scheduler.wake()

    def claim_here(self) -> None:
        """For wake-ups heard on another thread (engine/wakeups.py): see Scheduler.claim_here."""
        self.scheduler.claim_here()

    def plugins_reloaded(self) -> None:
        self.scheduler.plugins_reloaded()

    @property
    def instance_id(self) -> str:
        return self.scheduler.instance_id

    @property
    def concurrency(self) -> int:
        return self.scheduler.concurrency

    def set_concurrency(self, concurrency: int) -> None:
        self.scheduler.set_concurrency(concurrency)

    def running_job_ids(self) -> set[int]:
        return self.scheduler.running_job_ids()

    def isolation_of(self, job_type: str) -> str:
        return self.scheduler.isolation_of(job_type)

    @property
    def is_running(self) -> bool:
        return self.scheduler.is_running

    @property
    def problem(self) -> str | None:
        """Why the engine stopped claiming jobs (a damaged database), or None."""
        return self.scheduler.problem

    @property
    def unsaved_results(self) -> int:
        return self.scheduler.unsaved_results

    @property
    def stuck_runs(self) -> int:
        return self.scheduler.stuck_runs

    @property
    def busy_abandoned_threads(self) -> int:
        return self.scheduler.busy_abandoned_threads

    @property
    def thread_pool(self) -> QThreadPool:
        return self._pool.pool

    @property
    def cancel_grace(self) -> float:
        return self.scheduler.cancel_grace
