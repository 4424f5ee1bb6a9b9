"""Scheduler: the Worker, fed by the store, with no Qt in it.

Threads: the scheduler lives on its loop's thread (the app's main thread) and is the
only writer of run outcomes in this process. Pool tasks run handlers (thread isolation)
or supervise a worker process that runs them (process isolation), and hand back
Completions through a thread-safe deque; the loop thread then applies finished runs and
claims new ones in one transaction (group commit), so throughput does not pay one commit
per job. Progress and log lines are coalesced (output) and flushed by a 100 ms timer.

When jobs are short, each transaction also claims a few jobs ahead into a local buffer
(claim_ahead), so a slot that frees up starts the next job without waiting for a
commit. Runs reach long-lived pool tasks through a queue (run_queue); a pool task that
finished a run takes the next buffered job itself (take_buffered), and the loop thread
announces its start. Every start is first recorded in the instance's start journal, so
recovery never takes a job that ran for one that did not.

A chain (each job after the one before) cannot use the buffer: the next job is claimable
only once this one's end is committed. So when a thread-isolated run of a job that its
dependency's transaction released and claimed ends with nothing buffered, its pool thread
does the pump itself (`_finish`: write the end, settle, claim, announce) and runs the job
that claimed next, instead of two thread hand-offs (pool → loop → pool). The scheduler's
A wake-up another instance sent (PostgreSQL's NOTIFY) is claimed the same way on the
thread that heard it (claim_here), not through the loop. The scheduler's
state is guarded by one lock (`_mutex`), held by the loop thread's pump, flush and poll
(which never wait for a pool thread while they hold it), by such a pool thread and by the
listening thread. Timers stay the loop thread's (`_on_loop`). The runs, the buffer and the
marks pool threads share are in slots; what is published, and in which order, in
announcer; polling and crash recovery in upkeep; the stuck-handler watchdog is here.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from pathlib import Path

from ..core.context import Context
from ..core.definitions import EventKind, Source
from ..core.errors import CorruptDatabaseError, Shutdown, StoreError
from ..core.events import JobEvent
from ..core.job import Job
from ..core.logcapture import JobLogCapture
from ..core.outputs import outputs_root_of
from ..core.queue import JobQueue
from ..core.registry import Registry
from ..core.runner import Completion, abandoned_completion, run_job
from ..store.instances import InstanceLock, new_instance_id
from .announcer import Announcer
from .artifacts import ArtifactRecorder
from .checkpoints import CheckpointRecorder
from .interfaces import Pool, ProcessRunner
from .loop import EventLoop, Timer
from .output import JobOutput
from .run import Run
from .run_queue import RunQueue
from .slots import Slots
from .stalls import StallWatch
from .start_journal import StartJournal
from .upkeep import Upkeep

__all__ = ["Scheduler"]

log = logging.getLogger(__name__)

FLUSH_INTERVAL = 0.1  # progress and logs reach listeners at most ~10 times a second
GROUP_COMMIT = 0.002  # a finished run waits at most this long for its write while the buffer feeds the slots
GROUP_COMMIT_MAX = 256  # ...or until this many are waiting
STOP_GRACE_MAX = 5.0  # stop(): seconds cancelled thread-isolated handlers get before they are left behind


class Scheduler:
    """Runs queued jobs on a pool. Create, start() and stop() on the loop's thread."""

    def __init__(
        self,
        queue: JobQueue,
        loop: EventLoop,
        pool: Pool,
        *,
        concurrency: int | None = None,
        instances_dir: Path | None = None,
        poll_interval: float = 0.2,
        cancel_grace: float = 10.0,
        processes: ProcessRunner | None = None,
        on_finished: Callable[[JobEvent], None] | None = None,
    ) -> None:
        self.queue = queue
        self.store = queue.store
        self.bus = queue.bus
        self.instance_id = new_instance_id()
        self.instances_dir = instances_dir or Path(self.store.path).parent / "instances"
        self._lock_file = InstanceLock(self.instances_dir, self.instance_id)
        self._journal = StartJournal(self.instances_dir, self.instance_id)
        self._loop = loop
        self._pool = pool
        self._processes = processes
        self._concurrency = max(1, concurrency or os.cpu_count() or 2)
        self.cancel_grace = cancel_grace  # thread isolation: how long a cancelled handler may take before it is abandoned
        self._poll_interval = poll_interval
        self._pool.set_max_threads(self._concurrency)
        self._output = JobOutput(self.store, self.bus.publish, lambda job_id: self._slots.queue_of(job_id))
        self.log_capture = JobLogCapture(self._output.capture_log)
        self._stalls = StallWatch(self.store, self.bus.publish, lambda job_id: self._slots.queue_of(job_id))
        self._output.on_activity = self._stalls.heard
        outputs_root = outputs_root_of(self.store)
        self._artifacts = ArtifactRecorder(self.store, outputs_root) if outputs_root is not None else None
        self._checkpoints = CheckpointRecorder(self.store)
        self._upkeep = Upkeep(self.store, self.instances_dir, self.instance_id, self.bus.publish,
                              processes.isolation_of if processes is not None else None)  # fmt: skip
        self._run_queue: RunQueue  # made by each start(): stop() closes it
        self._registry: Registry | None = None
        self._root = Context.background()
        self._slots = Slots(self._make_run, self._journal.record)
        self._announcer = Announcer(self.bus.publish, self._output, self._slots, on_finished)
        self._done: deque[tuple[Run, Completion]] = deque()
        self._pending: list[tuple[Run, Completion]] = []  # decided, not yet written (group commit, disk full)
        self._force_write = False
        self._settling = True  # release_backlog may hold dependents a previous run left to settle
        self.problem: str | None = None  # a damaged database: claiming stopped (stats and the window show it)
        self._wake_lock = threading.Lock()
        self._mutex = threading.RLock()  # the scheduler's state: the loop thread's, a pool thread's _finish, claim_here
        self._loop_thread: int | None = None  # the loop thread's ident (timers are made there)
        self._wake_posted = False
        self._started = False
        self._stopping = False
        self._stuck: list[Run] = []  # thread runs whose handler ignored stop()'s cancel
        self._abandoned: list[Run] = []  # thread runs the watchdog gave up on (their jobs failed); threads maybe busy
        self._timers: list[Timer] = []
        self._group_timer: Timer | None = None
        self._rate_timer: Timer | None = None  # one wake for the next start a rate allows (never a poll)
        self._rate_wake_at: float | None = None
        self._unsubscribe: Callable[[], None] | None = None
        self._stop_checkpoints: Callable[[], None] = lambda: None

    # -- public API -------------------------------------------------------------------
    @property
    def concurrency(self) -> int:
        return self._concurrency

    def set_concurrency(self, concurrency: int) -> None:
        """Change the overall limit; running jobs are never interrupted by a smaller one."""
        self._concurrency = max(1, int(concurrency))
        self._pool.set_max_threads(self._concurrency + self._slots.abandoned())
        self._prewarm()
        self.wake()

    @property
    def unsaved_results(self) -> int:
        """Finished runs not yet written (the disk was full or locked); retried every second."""
        return len(self._pending) + len(self._done)

    def running_job_ids(self) -> set[int]:
        return {job_id for job_id, run in list(self._slots.running.items()) if not run.abandoned}

    def isolation_of(self, job_type: str) -> str:
        """How this app runs the handler of `job_type`: 'process' or 'thread'."""
        handler = self._registry.get_handler(job_type) if self._registry else None
        if handler is None or self._processes is None:
            return "thread"
        return self._processes.isolation_of(handler)

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
        self._journal.open()
        self._stop_checkpoints = self.store.checkpoint_in_background()
        self._loop_thread = threading.get_ident()
        ended = self._task_ended if getattr(self._pool, "threads_end_with_tasks", False) else (lambda: None)
        self._run_queue = RunQueue(self._pool, self._execute, self.take_buffered, ended)
        self.store.register_instance(self.instance_id)
        self.log_capture.install()
        self._upkeep.registry = registry
        self._prewarm()
        if self._upkeep.recover_dead_instances():
            self.wake()
        self._unsubscribe = self.bus.subscribe(self._on_bus_event)
        self._upkeep.mark_data_version()  # from here on, a change means another process wrote
        self._started = True
        self._slots.accepting = True
        self._timers = [self._loop.call_every(self._poll_interval, self._on_poll),
                        self._loop.call_every(FLUSH_INTERVAL, self._flush)]  # fmt: skip
        self.wake()

    def stop(self, ctx: Context) -> None:
        """Claim nothing new; let running jobs finish until ctx's deadline; then cancel them.

        Jobs whose handler returns after the cancel go back to `queued` (the attempt is
        refunded). A worker process that ignores the cancel is killed after its grace
        period, and its job goes back too. A thread-isolated handler that ignores it past
        STOP_GRACE_MAX is left running: its row stays `running` and owned by this
        instance, and the instance stays registered with its lock held, so no other
        process can claim the job while the handler may still be running it.
        `stuck_runs` counts them; the caller should then exit the process without
        waiting (the OS drops the lock, and the next start's recovery settles the job).
        Blocks, running the loop, meanwhile.
        """
        if not self._started or self._stopping:
            return
        with self._mutex:  # a pool thread's _finish sees the stop before its write or after it, not during
            self._stopping = True
            self._slots.accepting = False
        self._stop_timer(self._timers[0])  # the poll: nothing new is claimed
        self._wait_until(lambda: not self._slots.live() or ctx.cancelled)
        live = self._slots.live()
        if live:
            log.info("stopping: cancelling %d running job(s); they return to the queue", len(live))
            for run in live:
                run.cancel(Shutdown("the app is stopping"))
            grace = Context.background().with_timeout(min(self.cancel_grace, STOP_GRACE_MAX))
            self._wait_until(lambda: not self._slots.live(thread_only=True) or grace.cancelled)
            kill_wait = Context.background().with_timeout(self._process_kill_bound())
            self._wait_until(lambda: not self._slots.live() or kill_wait.cancelled)  # processes are killed past their grace
            self._stuck = self._slots.live()
            for run in self._stuck:
                log.warning("job %s did not stop; it stays `running` until this process exits", run.job.id)
        self.pump()
        self._flush()
        for timer in self._timers:
            self._stop_timer(timer)
        self._stop_timer(self._rate_timer)
        self._rate_timer = None
        self._run_queue.close()
        if self._unsubscribe:
            self._unsubscribe()
        self.log_capture.uninstall()
        self._root.cancel(Shutdown("the app is stopping"))
        if self._processes is not None:
            self._processes.close()
        if not self._pending and not self._stuck:
            try:
                self.store.unregister_instance(self.instance_id)
            except StoreError:
                log.exception("could not unregister this instance")
        if not self._stuck:
            self._journal.close(remove=not self._pending)
            self._lock_file.release()
        self._stop_checkpoints()
        self._started = False
        self._slots.accepting = False

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

    def plugins_reloaded(self) -> None:
        """Worker processes are replaced once idle, so new jobs run the reloaded code."""
        if self._processes is not None:
            self._processes.retire_all()
            self._prewarm()
        self.wake()

    def _prewarm(self) -> None:
        """A worker process ready for every slot, once any handler runs in one."""
        if self._processes is not None and self._registry is not None and not self._stopping:
            if any(self._processes.isolation_of(h) == "process" for h in self._registry):
                self._processes.prewarm(self._concurrency)

    def wake(self) -> None:
        """Ask for a claim soon (thread-safe); many calls before it runs cost one pump."""
        with self._wake_lock:
            if self._wake_posted:
                return
            self._wake_posted = True
        self._loop.post(self.pump)

    def claim_here(self) -> None:
        """A wake-up from another process, on the thread that heard it (the LISTEN thread): claim
        on this thread, so a start waits neither for a hop to the loop thread nor for whatever
        that thread is doing (in the window, the GUI's painting). The loop keeps what is its
        own: if it is pumping at this moment, or the claim finds nothing urgent (no free slot),
        this asks it, as wake() does."""
        if not self._mutex.acquire(blocking=False):  # the loop thread's pump: it claims, or its next one does
            self.wake()
            return
        try:
            if not self._started or self._stopping or self.problem is not None:
                self.wake()
                return
            run = self._pump(direct=True)  # the first job claimed for a free slot comes back registered
            if run is not None:
                self._launch(run)
        finally:
            self._mutex.release()

    # -- called from pool threads -----------------------------------------------------
    def post_completion(self, run: Run, completion: Completion) -> None:
        run.finished = time.monotonic()
        self._done.append((run, completion))
        self.wake()

    def take_buffered(self) -> Run | None:
        """A pool task that finished a run takes the next claimed-ahead job itself, so a slot
        does not wait for the loop thread. The job's `running` state is already committed;
        the loop thread announces it before the job's outcome."""
        run = self._slots.take_into_free_slot(self._concurrency)
        if run is not None:
            self.wake()
        return run

    def take_for_process(self, limit: int) -> list[Run]:
        """A slot's supervisor hands the next short jobs to its worker process while the current
        one runs, so the process never waits for a round trip (see Slots.take_behind)."""
        return self._slots.take_behind(limit, self._is_process_job)

    def _is_process_job(self, job: Job) -> bool:
        handler = self._registry.get_handler(job.type) if self._registry else None
        return handler is not None and self._processes is not None and self._processes.isolation_of(handler) == "process"

    def _execute(self, run: Run) -> Run | None:
        """A pool task's work for one run: run it here or in the slot's process; never raises.
        Returns the next run for this task when it wrote the outcome itself (_finish)."""
        if run.isolation == "process" and self._processes is not None:
            self._processes.run(run, self._output.capture_log, self.post_completion, self.take_for_process)
            return None  # it posted every run it took
        try:
            completion = self._run_in_thread(run)
        except BaseException as exc:
            log.exception("job %s: internal error", run.job.id)
            completion = abandoned_completion(run.job, f"internal error running the job: {exc!r}")
        return self._finish(run, completion)

    def _finish(self, run: Run, completion: Completion) -> Run | None:
        """A chain's step on the pool thread that ran it: when the run's job was a dependent its
        dependency's transaction claimed, nothing is buffered and the loop thread is not pumping,
        pump here (write this end, settle its dependents, claim) and return the run this thread
        starts next. Otherwise hand the outcome to the loop thread."""
        if not run.chained or run.abandoned or self._slots.ahead.ready:
            self.post_completion(run, completion)
            return None
        self._mutex.acquire()  # held by the loop thread at most for one pump (it never waits for a pool thread then)
        try:
            if not self._started or self._stopping or self.problem is not None or run.abandoned:
                self.post_completion(run, completion)
                return None
            run.finished = time.monotonic()
            self._done.append((run, completion))
            try:
                return self._pump(direct=True)
            except BaseException:  # the outcome is kept (pending); the loop thread writes it
                log.exception("writing job %s's outcome on its pool thread failed; the scheduler retries", run.job.id)
                self.wake()
                return None
        finally:
            self._mutex.release()

    def _task_ended(self) -> None:
        """A pool task, and with it its thread (a pool whose threads_end_with_tasks), ends: the thread's
        store connection (a _finish opened it), if the store keeps one per thread, is closed with it."""
        release = getattr(getattr(self.store, "db", None), "release_thread_connection", None)
        if release is not None:
            try:
                release()
            except Exception:
                log.debug("could not close a pool thread's store connection", exc_info=True)

    def _run_in_thread(self, run: Run) -> Completion:
        self.log_capture.bind(run.job.id)
        try:
            return run_job(run.ctx, run.job, run.handler)
        finally:
            self.log_capture.unbind()

    # -- loop thread ----------------------------------------------------------------------
    def _process_kill_bound(self) -> float:
        """How long stop() waits for worker processes: the longest grace, plus the SIGTERM→SIGKILL wait."""
        graces = [run.cancel_grace for run in self._slots.live() if run.isolation == "process"]
        return (max(graces) + 3.0) if graces else 0.0

    def _wait_until(self, condition: Callable[[], bool]) -> None:
        while not condition():
            self._loop.process_events(0.02)
            self.pump()

    def _stop_timer(self, timer: Timer | None) -> None:
        if timer is not None:
            timer.stop()

    def _on_bus_event(self, event: JobEvent) -> None:
        """Called in the publisher's thread."""
        if event.kind == EventKind.CANCEL_REQUESTED:
            if event.data.get("hard") and (run := self._slots.running.get(event.job_id)) is not None:
                run.job.cancel_grace = 0.0  # a kill: its worker process gets no grace period
            self._request_cancel(event.job_id)
        elif event.kind == EventKind.STALL and event.data.get("extend") and event.job_id is not None:
            self._stalls.extend(event.job_id, event.data.get("source", Source.SOCKET))
        elif event.kind == EventKind.QUEUE and event.data.get("paused") and event.queue:
            self._slots.pause(event.queue)
            self.wake()
        elif event.kind in (EventKind.ENQUEUED, EventKind.QUEUE) or (
            event.kind == EventKind.STATE and event.data.get("source") != Source.WORKER
        ):
            self.wake()

    def _request_cancel(self, job_id: int) -> None:
        """Cancel a run, or mark a job not started yet (maybe buffered: the pump settles it)."""
        run = self._slots.request_cancel(job_id)
        if run is not None:
            run.cancel()
        else:
            self.wake()

    def pump(self) -> None:
        """Start buffered jobs in free slots; then write finished runs and claim, in one transaction.

        The write waits (GROUP_COMMIT at most) while the buffer still feeds every slot;
        an idle slot, a low buffer or stopping writes at once.
        """
        with self._mutex:
            self._pump(direct=False)

    def _pump(self, direct: bool) -> Run | None:
        """pump(), under _mutex; `direct`: on a pool thread (_finish), which runs the returned run
        itself (the first job claimed for a free slot)."""
        with self._wake_lock:
            self._wake_posted = False
        done = []
        while self._done:
            done.append(self._done.popleft())
        self._announcer.started()  # after taking the outcomes: each one's start is announced first
        for run, completion in done:
            self._slots.ahead.note_run_time(run)
            self._pending.append((run, completion))
        if not self._started:
            return None
        for job, outcome in self._slots.settle(self._stopping):
            self._pending.append((Run(job, self._root, None), outcome))
        while not self._stopping and (run := self._slots.take_into_free_slot(self._concurrency)) is not None:
            self._launch(run)
        free = self._free_slots()
        ahead = self._slots.ahead
        refill = ahead.refill(0 if self._stopping else ahead.depth(self._concurrency))
        unmarked = self._journal.unmarked
        urgent = (free or refill or self._stopping or self._force_write or self._settling
                  or len(self._pending) >= GROUP_COMMIT_MAX)  # fmt: skip
        if not urgent:
            if direct:
                self.wake()  # the loop thread's pump decides (its group-commit timer)
            elif (self._pending or unmarked) and self._group_timer is None:
                self._group_timer = self._loop.call_later(GROUP_COMMIT, self._write_soon)
            return None
        if not self._pending and not unmarked and not free and not refill and not self._settling:
            return None
        return self._write_and_claim(free, refill, keep=direct)

    def _write_and_claim(self, free: int, prefetch: int, keep: bool = False) -> Run | None:
        """`keep`: the first job claimed for a free slot is returned (registered and announced), not
        handed to the run queue."""
        if self.problem is not None:
            return None  # the database is damaged: nothing more is claimed; results stay in memory
        completions = [c for _, c in self._pending]
        starts = self._journal.take_unmarked()
        try:
            applied, claimed = self.store.complete_and_claim(
                completions, self.instance_id, free, prefetch,
                self._slots.ahead.no_prefetch_types(self._registry) if prefetch else (), started=starts,
                type_limits=self._registry.type_limits() if self._registry is not None else None,
            )  # fmt: skip
        except BaseException as exc:
            self._journal.put_back(starts)  # whatever failed, these starts are written with the next transaction
            if not isinstance(exc, StoreError):
                raise
            if isinstance(exc, CorruptDatabaseError):
                self.problem = str(exc)
                log.error("stopped claiming jobs: %s (%d result(s) kept in memory only)", exc, len(completions))
                return None
            log.exception("could not write job states; keeping %d result(s) in memory to retry", len(completions))
            self._on_loop(lambda: self._loop.call_later(1.0, self.wake))
            return None
        self._journal.marked()
        if (at := self.store.next_claim_at()) is not None:
            self._on_loop(lambda: self._wake_for_rate(at))
        self._checkpoints.hand_out(claimed)  # before any of them starts: job.checkpoint is set when the handler runs
        self._force_write = False
        settled, self._pending = self._pending, []
        applied_ids = {(c.job_id, c.attempt) for c in applied}
        for _, completion in settled:
            self._output.end_run(completion.job_id)  # the tail of its log, kept in memory until now
            self._stalls.end(completion.job_id)
        if applied or settled:
            self._output.flush_logs()  # once per transaction: a job's log lines come before its outcome
        running = self._slots.running
        for run, completion in settled:
            if running.get(completion.job_id) is run:
                del running[completion.job_id]
                run.ctx.release()
                if run.abandoned:
                    self._pool.set_max_threads(self._concurrency + self._slots.abandoned())
            if (completion.job_id, completion.attempt) in applied_ids:
                self._announcer.completed(run, completion)
        # Dependents released or cancelled by these ends: those just claimed first (their `queued` before
        # their `running`), the rest once the claimed ones started, so a fan-out of thousands delays no start.
        notes, claimed_ids = self.store.take_notes(), {job.id for job in claimed}
        released = {note[0] for note in notes if note[0] in claimed_ids}  # claimed as their dependency ended: a chain
        self._announcer.consequences([note for note in notes if note[0] in released])
        kept = None
        for job in claimed[:free]:
            if keep and kept is None:
                with self._slots.lock:
                    kept = self._slots.register(job)
                    self._slots.unannounced.append(job)
                kept.chained = job.id in released
                self._announcer.started()
            else:
                self._start_run(job, job.id in released)
        self._slots.add_ahead(claimed[free:])
        self._announcer.consequences([note for note in notes if note[0] not in released])
        self._settling = self.store.settling_pending()  # dependents left for the next transactions
        if self._settling or (claimed and len(claimed) == free + prefetch and self.store.more_claimable()):
            self.wake()  # more waiting
        return kept

    def _on_loop(self, fn: Callable[[], None]) -> None:
        """Run `fn` (it makes a timer) on the loop thread: now, or posted from a pool thread's _finish."""
        if threading.get_ident() == self._loop_thread:
            fn()
        else:
            self._loop.post(lambda: self._locked(fn))

    def _locked(self, fn: Callable[[], None]) -> None:
        with self._mutex:
            fn()

    def _wake_for_rate(self, at: float | None) -> None:
        """A rate holds jobs back until `at`: one timer wakes the claim then (no polling). The
        timer is kept unless this time is earlier; it is gone once it fired."""
        if at is None or self._stopping or (self._rate_timer is not None and (self._rate_wake_at or 0) <= at):
            return
        self._stop_timer(self._rate_timer)
        self._rate_wake_at = at
        self._rate_timer = self._loop.call_later(max(0.0, at - time.time()) + 0.002, self._rate_fired)

    def _rate_fired(self) -> None:
        with self._mutex:
            self._rate_timer = self._rate_wake_at = None
        self.wake()

    def _write_soon(self) -> None:
        with self._mutex:
            self._group_timer = None
            if self._pending or self._journal.unmarked:
                self._force_write = True
                self.pump()

    def _free_slots(self) -> int:
        if self._stopping:
            return 0
        return max(0, self._concurrency - self._slots.busy())

    def _make_run(self, job: Job) -> Run:
        """The run of a job about to start (any thread): its context, timeout and handler.
        Its start is in the journal before the handler can start."""
        self._journal.record(job)
        handler = self._registry.get_handler(job.type) if self._registry else None
        ctx = self._root.with_timeout(job.timeout) if job.timeout else self._root.with_cancel()
        job.context = ctx
        job.attach_reporter(self._output.report_progress)
        job.attach_outputs(self._artifacts)
        job.attach_checkpoints(self._checkpoints)
        self._output.begin(job.id, getattr(handler, "log_limit", None))
        self._stalls.begin(job.id, getattr(handler, "stall_after", None))
        isolation = self._processes.isolation_of(handler) if (handler is not None and self._processes) else "thread"
        return Run(job, ctx, handler, isolation)

    def _start_run(self, job: Job, chained: bool = False) -> None:
        with self._slots.lock:
            run = self._slots.register(job)
            self._slots.unannounced.append(job)
        run.chained = chained
        self._launch(run)

    def _launch(self, run: Run) -> None:
        self._announcer.started()  # this run's `running`, after those of jobs taken before it
        self._run_queue.submit(run, self._concurrency)

    def _flush(self) -> None:
        """Coalesced progress (~10/s per job to listeners, ~1/s to disk) and log lines."""
        with self._mutex:
            self._announcer.started()  # a job's `running` comes before its progress
            self._output.flush()

    def _on_poll(self) -> None:
        """Pick up other processes' work and cancels, due jobs, dead instances; then the watchdog.

        A timer callback: nothing may escape it, and the watchdog runs whatever went wrong."""
        with self._mutex:
            self._poll()

    def _poll(self) -> None:
        try:
            changed, cancels = self._upkeep.poll(self._slots.owned_ids())
            for job_id in cancels:
                self._request_cancel(job_id)
            if changed:
                self.pump()
            self._stalls.check()
        except Exception:  # StoreError, or sqlite3/OS errors it did not wrap: the next tick tries again
            log.exception("polling the queue failed; will try again")
        finally:
            self._watchdog()

    def _watchdog(self) -> None:
        """Abandon thread-isolated handlers that ignore cancellation (or their timeout) past
        the grace period. A worker process is killed by its supervisor instead."""
        now = time.monotonic()
        for run in self._slots.live(thread_only=True):  # a finished run whose write waits (disk full) is not stuck
            if run.ctx.cancelled and run.cancelled_at is None:
                run.cancelled_at = now
            if run.cancelled_at is not None and now - run.cancelled_at > self.cancel_grace:
                run.abandoned = True
                self._abandoned.append(run)
                self._run_queue.lost_task()
                why = (f"the handler ignored cancellation for {self.cancel_grace:g} s; "
                       "its thread was abandoned and the job failed (process isolation would have stopped it)")  # fmt: skip
                log.error("job %s: %s", run.job.id, why)
                self._pool.set_max_threads(self._concurrency + self._slots.abandoned())
                self._done.append((run, abandoned_completion(run.job, why)))
                self.wake()
