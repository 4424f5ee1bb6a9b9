"""PoolWorker: the Worker on Qt's QThreadPool, fed by the SQLite queue.

Threads: the PoolWorker lives on the main thread and is the only writer of run outcomes
in this process. Pool threads run handlers and hand back Completions through a
thread-safe deque; the main thread then applies finished runs and claims new ones in
one transaction (group commit), so throughput does not pay one commit per job.
Progress and log lines are coalesced (job_output) and flushed by a 100 ms timer.

When jobs are short, each transaction also claims a few jobs ahead into a local buffer
(claim_ahead), so a slot that frees up starts the next job without waiting for a
commit, and completions are group-committed. Runs reach long-lived pool tasks through
a queue (pool_tasks); a pool task that finished a run takes the next buffered job
itself (take_buffered), and the main thread announces its start. Polling, crash
recovery and the cancel watchdog are in worker_upkeep.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QEventLoop, QObject, QThreadPool, QTimer, Signal, Slot

from ..core.context import Context
from ..core.errors import Shutdown, StoreError
from ..core.events import JobEvent
from ..core.job import Job, JobState
from ..core.logcapture import JobLogCapture
from ..core.queue import JobQueue
from ..core.registry import Registry
from ..core.runner import Completion
from ..store.instances import InstanceLock, new_instance_id
from .claim_ahead import ClaimAhead
from .job_output import JobOutput
from .pool_tasks import Run, RunQueue
from .worker_upkeep import UpkeepMixin

__all__ = ["PoolWorker"]

log = logging.getLogger(__name__)

FLUSH_INTERVAL_MS = 100  # progress and logs reach listeners at most ~10 times a second
GROUP_COMMIT_MS = 2  # a finished run waits at most this long for its write while the buffer feeds the slots
GROUP_COMMIT_MAX = 256  # ...or until this many are waiting


class _Mailbox(QObject):
    """Owned by the worker (not by pool tasks: a task must not own a QObject)."""

    wake = Signal()


class PoolWorker(UpkeepMixin, QObject):
    """Runs queued jobs on a QThreadPool. Create, start() and stop() on the main thread."""

    job_finished = Signal(object)  # JobEvent of a run's final (or retry) state, after it is committed

    def __init__(
        self,
        queue: JobQueue,
        *,
        concurrency: int | None = None,
        instances_dir: Path | None = None,
        poll_interval: float = 0.2,
        cancel_grace: float = 10.0,
        parent: QObject | None = None,
    ) -> None:
        super().__init__(parent)
        self.queue = queue
        self.store = queue.store
        self.bus = queue.bus
        self.instance_id = new_instance_id()
        self._instances_dir = instances_dir or Path(self.store.path).parent / "instances"
        self._lock_file = InstanceLock(self._instances_dir, self.instance_id)
        self._concurrency = max(1, concurrency or os.cpu_count() or 2)
        self.cancel_grace = cancel_grace
        self._pool = QThreadPool(self)
        self._pool.setMaxThreadCount(self._concurrency)
        self._output = JobOutput(self.store, self._publish, self._queue_of)
        self.log_capture = JobLogCapture(self._output.capture_log)
        self._run_queue: RunQueue  # made by each start(): stop() closes it
        self._registry: Registry | None = None
        self._root = Context.background()
        self._running: dict[int, Run] = {}
        self._done: deque[tuple[Run, Completion]] = deque()
        self._started_unannounced: deque[Job] = deque()  # taken from the buffer by pool tasks
        self._unmarked_starts: deque[tuple[int, float]] = deque()  # claimed-ahead jobs that started
        self._pending: list[tuple[Run, Completion]] = []  # decided, not yet written (group commit, disk full)
        self._ahead = ClaimAhead()  # claimed ahead, not started (their rows are `running`, owned by us)
        self._state_lock = threading.Lock()  # _running, the buffer (_ahead.ready), cancel and pause marks
        self._cancel_before_start: set[int] = set()
        self._paused_queues: set[str] = set()
        self._force_write = False
        self._wake_lock = threading.Lock()
        self._wake_posted = False
        self._mailbox = _Mailbox(self)
        self._mailbox.wake.connect(self._pump)
        self._started = False
        self._stopping = False
        self._stuck: list[Run] = []  # runs whose handler ignored stop()'s cancel
        self._abandoned: list[Run] = []  # runs the watchdog gave up on (their jobs failed); threads maybe still busy
        self._data_version = -1
        self._next_recovery = 0.0
        self._poll = QTimer(self)
        self._poll.setInterval(int(poll_interval * 1000))
        self._poll.timeout.connect(self._on_poll)
        self._flush_timer = QTimer(self)
        self._flush_timer.setInterval(FLUSH_INTERVAL_MS)
        self._flush_timer.timeout.connect(self._flush)
        self._group_timer = QTimer(self)
        self._group_timer.setSingleShot(True)
        self._group_timer.setInterval(GROUP_COMMIT_MS)
        self._group_timer.timeout.connect(self._write_soon)
        self._unsubscribe = None

    # -- public API -------------------------------------------------------------------
    @property
    def concurrency(self) -> int:
        return self._concurrency

    def set_concurrency(self, concurrency: int) -> None:
        """Change the overall limit; running jobs are never interrupted by a smaller one."""
        self._concurrency = max(1, int(concurrency))
        self._pool.setMaxThreadCount(self._concurrency + self._abandoned_count())
        self.wake()

    @property
    def unsaved_results(self) -> int:
        """Finished runs not yet written (the disk was full or locked); retried every second."""
        return len(self._pending) + len(self._done)

    def running_job_ids(self) -> set[int]:
        return {job_id for job_id, run in list(self._running.items()) if not run.abandoned}

    @property
    def is_running(self) -> bool:
        return self._started and not self._stopping

    def start(self, ctx: Context, registry: Registry) -> None:
        """Recover what dead instances left running, then start claiming jobs (again after a stop())."""
        if self._started:
            return
        ctx.check()
        self._stopping = False
        self._stuck = [run for run in self._stuck if run.finished is None]
        self._registry = registry
        self._root = ctx.with_cancel()
        self._lock_file.acquire()
        self._stop_checkpoints = self.store.checkpoint_in_background()
        self._run_queue = RunQueue(self._pool, self.log_capture, self.post_completion, self.take_buffered)
        self.store.register_instance(self.instance_id)
        self.log_capture.install()
        self.recover_dead_instances()
        self._unsubscribe = self.bus.subscribe(self._on_bus_event)
        self._data_version = self.store.data_version()  # from here on, a change means another process wrote
        self._started = True
        self._poll.start()
        self._flush_timer.start()
        self.wake()

    def stop(self, ctx: Context) -> None:
        """Claim nothing new; let running jobs finish until ctx's deadline; then cancel them.

        Jobs whose handler returns after the cancel go back to `queued` (the attempt is
        refunded). A handler that ignores the cancel past the grace period is left running:
        its row stays `running` and owned by this instance, and the instance stays
        registered with its lock held, so no other process can claim the job while the
        handler may still be running it. `stuck_runs` counts them; the caller should then
        exit the process without waiting (the OS drops the lock, and the next start's
        recovery settles the job). Blocks, running the Qt event loop, meanwhile.
        """
        if not self._started or self._stopping:
            return
        self._stopping = True
        self._poll.stop()
        self._wait_until(lambda: not self._live_runs() or ctx.cancelled)
        live = self._live_runs()
        if live:
            log.info("stopping: cancelling %d running job(s); they return to the queue", len(live))
            for run in live:
                run.ctx.cancel(Shutdown("the app is stopping"))
            grace = Context.background().with_timeout(min(self.cancel_grace, 5.0))
            self._wait_until(lambda: not self._live_runs() or grace.cancelled)
            self._stuck = self._live_runs()
            for run in self._stuck:
                log.warning("job %s did not stop; it stays `running` until this process exits", run.job.id)
        self._pump()
        self._flush()
        self._flush_timer.stop()
        self._group_timer.stop()
        self._run_queue.close()
        if self._unsubscribe:
            self._unsubscribe()
        self.log_capture.uninstall()
        self._root.cancel(Shutdown("the app is stopping"))
        if not self._pending and not self._stuck:
            try:
                self.store.unregister_instance(self.instance_id)
            except StoreError:
                log.exception("could not unregister this instance")
        if not self._stuck:
            self._lock_file.release()
        self._stop_checkpoints()
        self._started = False

    @property
    def stuck_runs(self) -> int:
        """Handlers that ignored the stop's cancel and have not returned: their jobs stay
        `running` (owned by this instance) until the process exits."""
        return sum(1 for run in self._stuck if run.finished is None)

    @property
    def busy_abandoned_threads(self) -> int:
        """Pool threads still inside a handler the watchdog abandoned (its job already failed).
        Exiting normally would wait for them."""
        self._abandoned = [run for run in self._abandoned if run.finished is None]
        return len(self._abandoned)

    def wake(self) -> None:
        """Ask for a claim soon (thread-safe); many calls before it runs cost one pump."""
        with self._wake_lock:
            if self._wake_posted:
                return
            self._wake_posted = True
        self._mailbox.wake.emit()

    # -- called from pool threads -----------------------------------------------------
    def post_completion(self, run: Run, completion: Completion) -> None:
        run.finished = time.monotonic()
        self._done.append((run, completion))
        self.wake()

    def take_buffered(self) -> Run | None:
        """A pool task that finished a run takes the next claimed-ahead job itself, so a
        slot does not wait for the main thread. Declines (the main thread decides) while
        a cancel or pause is unsettled, or while stopping. The job's `running` state is
        already committed; the main thread announces it before the job's outcome."""
        with self._state_lock:
            ready = self._ahead.ready
            if not ready or self._stopping or not self._started or self._cancel_before_start or self._paused_queues:
                return None
            if self._busy_slots() >= self._concurrency:  # the limit was lowered
                return None
            job = ready.popleft()
            run = self._make_run(job)
            self._running[job.id] = run
            self._started_unannounced.append(job)
        self.wake()
        return run

    # -- main thread ----------------------------------------------------------------------
    def _live_runs(self) -> list[Run]:
        """Runs whose handler is still running (not finished, even if its write waits; not abandoned)."""
        return [run for run in list(self._running.values()) if run.finished is None and not run.abandoned]

    def _busy_slots(self) -> int:
        """Runs holding a slot: a finished run whose write waits has freed its slot already."""
        return sum(1 for run in list(self._running.values()) if run.finished is None and not run.abandoned)

    def _abandoned_count(self) -> int:
        return sum(1 for run in list(self._running.values()) if run.abandoned)

    def _wait_until(self, condition) -> None:
        loop_ctx = Context.background()
        while not condition():
            QCoreApplication.processEvents(QEventLoop.ProcessEventsFlag.AllEvents, 20)
            self._pump()
            loop_ctx.wait(0.005)

    def _on_bus_event(self, event: JobEvent) -> None:
        """Called in the publisher's thread."""
        if event.kind == "cancel_requested":
            self._request_cancel(event.job_id)
        elif event.kind == "queue" and event.data.get("paused") and event.queue:
            with self._state_lock:
                self._paused_queues.add(event.queue)  # its buffered jobs go back to the queue
            self.wake()
        elif event.kind in ("enqueued", "queue") or (event.kind == "state" and event.data.get("source") != "worker"):
            self.wake()

    def _request_cancel(self, job_id: int) -> None:
        """Cancel a run, or mark a job not started yet (maybe buffered: the pump settles it).
        One lock for the look-up and the mark, so a pool task cannot take the job between them."""
        with self._state_lock:
            run = self._running.get(job_id)
            if run is None:
                self._cancel_before_start.add(job_id)
        if run is not None:
            run.ctx.cancel()
        else:
            self.wake()

    @Slot()
    def _pump(self) -> None:
        """Start buffered jobs in free slots; then write finished runs and claim, in one transaction.

        The write waits (GROUP_COMMIT_MS at most) while the buffer still feeds every slot;
        an idle slot, a low buffer or stopping writes at once.
        """
        with self._wake_lock:
            self._wake_posted = False
        done = []
        while self._done:
            done.append(self._done.popleft())
        self._announce_started()  # after taking the outcomes: each one's start is announced first
        for run, completion in done:
            self._ahead.note_run_time(run)
            self._pending.append((run, completion))
        if not self._started:
            return
        self._settle_buffer()
        free = self._free_slots()
        while free > 0:
            with self._state_lock:
                job = self._ahead.ready.popleft() if self._ahead.ready else None
            if job is None:
                break
            self._start_run(job)
            free -= 1
        refill = self._ahead.refill(0 if self._stopping else self._ahead.depth(self._concurrency))
        urgent = free or refill or self._stopping or self._force_write or len(self._pending) >= GROUP_COMMIT_MAX
        if not urgent:
            if (self._pending or self._unmarked_starts) and not self._group_timer.isActive():
                self._group_timer.start()
            return
        if not self._pending and not self._unmarked_starts and not free and not refill:
            return
        self._write_and_claim(free, refill)

    def _write_and_claim(self, free: int, prefetch: int) -> None:
        completions = [c for _, c in self._pending]
        starts = [self._unmarked_starts.popleft() for _ in range(len(self._unmarked_starts))]
        written = False
        try:
            applied, claimed = self.store.complete_and_claim(
                completions, self.instance_id, free, prefetch,
                self._ahead.no_prefetch_types(self._registry) if prefetch else (), started=starts,
            )  # fmt: skip
            written = True
        except StoreError:
            log.exception("could not write job states; keeping %d result(s) in memory to retry", len(completions))
            QTimer.singleShot(1000, self.wake)
            return
        finally:
            if not written:  # whatever failed, these starts are written with the next transaction
                self._unmarked_starts.extendleft(reversed(starts))
        self._force_write = False
        settled, self._pending = self._pending, []
        applied_ids = {(c.job_id, c.attempt) for c in applied}
        if applied:
            self._output.flush_logs()  # once per transaction: a job's log lines come before its outcome
        for run, completion in settled:
            current = self._running.get(completion.job_id)
            if current is run:
                del self._running[completion.job_id]
                run.ctx.release()
                if run.abandoned:
                    self._pool.setMaxThreadCount(self._concurrency + self._abandoned_count())
            if (completion.job_id, completion.attempt) in applied_ids:
                self._announce_completion(run, completion)
        for job in claimed[:free]:
            self._start_run(job)
        with self._state_lock:
            self._ahead.ready.extend(claimed[free:])
        if claimed and len(claimed) == free + prefetch:
            self.wake()  # maybe more waiting

    @Slot()
    def _write_soon(self) -> None:
        if self._pending or self._unmarked_starts:
            self._force_write = True
            self._pump()

    def _free_slots(self) -> int:
        if self._stopping:
            return 0
        return max(0, self._concurrency - self._busy_slots())

    def _settle_buffer(self) -> None:
        """Buffered jobs that were cancelled, whose queue was paused, or that stopping returns."""
        if not (self._stopping or self._cancel_before_start or self._paused_queues):
            return
        with self._state_lock:  # every job we own is in the buffer or _running now, so older marks are stale
            cancelled, self._cancel_before_start = self._cancel_before_start, set()
            paused, self._paused_queues = self._paused_queues, set()
            settled = self._ahead.settle(cancelled, paused, self._stopping)
        for job, outcome in settled:
            self._pending.append((Run(job, self._root, None), outcome))

    def _announce_completion(self, run: Run, completion: Completion) -> None:
        self._output.forget(completion.job_id)
        if completion.progress is not None or completion.progress_message:
            self._publish(JobEvent("progress", completion.job_id, run.job.queue, completion.state.value,
                                   {"progress": 1.0 if completion.state is JobState.SUCCEEDED else completion.progress,
                                    "message": completion.progress_message}))  # fmt: skip
        data = {"type": run.job.type, "error": completion.error, "attempt": completion.attempt, "source": "worker"}
        event = JobEvent("state", completion.job_id, run.job.queue, completion.state.value, data)
        self._publish(event)
        self.job_finished.emit(event)

    def _make_run(self, job: Job) -> Run:
        """The run of a job about to start (any thread): its context, with its timeout, and handler."""
        if job.started_at is None:  # claimed ahead: its start is written with the next transaction
            job.started_at = time.time()
            self._unmarked_starts.append((job.id, job.started_at))
        handler = self._registry.get_handler(job.type) if self._registry else None
        ctx = self._root.with_timeout(job.timeout) if job.timeout else self._root.with_cancel()
        job.context = ctx
        job.attach_reporter(self._output.report_progress)
        return Run(job, ctx, handler)

    def _announce_started(self) -> None:
        """Publish `running` for the jobs pool tasks took from the buffer."""
        while self._started_unannounced:
            self._announce_running(self._started_unannounced.popleft())

    def _announce_running(self, job: Job) -> None:
        self._publish(JobEvent("state", job.id, job.queue, JobState.RUNNING.value,
                               {"type": job.type, "attempt": job.attempts, "source": "worker"}))  # fmt: skip

    def _start_run(self, job: Job) -> None:
        run = self._make_run(job)
        ctx = run.ctx
        with self._state_lock:
            self._running[job.id] = run
            cancelled = job.id in self._cancel_before_start
            self._cancel_before_start.discard(job.id)
        if cancelled:
            ctx.cancel()
        self._announce_running(job)
        self._run_queue.submit(run, self._concurrency)

    @Slot()
    def _flush(self) -> None:
        """Coalesced progress (~10/s per job to listeners, ~1/s to disk) and log lines."""
        self._announce_started()  # a job's `running` comes before its progress
        self._output.flush()

    def _queue_of(self, job_id: int) -> str | None:
        run = self._running.get(job_id)
        return run.job.queue if run else None

    def _publish(self, event: JobEvent) -> None:
        self.bus.publish(event)
