"""A worker process: runs handlers for one slot of the app, one job at a time, many jobs in its life.

Started by the app with exec (never fork), as `python -m acacia_gui.engine.processes.child
CONN_FD SENTINEL_FD PARENT_PID` (or the bundle's `--acacia-worker`). Imports the jobs
module and the plugins, never Qt. The handler sees exactly the API it sees in the app:
its context (cancelled by a `cancel` message, with the job's deadline), progress, logging
into the job's log, return value and exceptions decided by run_job. Its stdout and stderr
are pipes the app reads into the job's log.

Dying with the app: PR_SET_PDEATHSIG kills this process when the app does; a small
`sh` sentinel in this process group, reading a pipe only the app holds, kills the whole
group (the handler's subprocesses too) when that pipe closes.
"""

from __future__ import annotations

import dataclasses
import faulthandler
import os
import queue
import signal
import subprocess
import sys
import threading
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from ...core.context import Context
from ...core.errors import Cancelled, DeadlineExceeded, InvalidOptionError, Shutdown
from ...core.job import Job, JobState
from ...core.logcapture import JobLogCapture
from ...core.registry import RegisteredHandler
from ...core.runner import Completion, run_job
from . import limits
from .handlers import HandlerCache
from .messages import completion_to_message, decode, encode, job_from_message

FLUSH_EVERY = 0.1  # seconds: progress and log lines reach the app at most this late
MAX_PENDING_LOG_LINES = 10_000  # between two flushes; past it the logging thread flushes (backpressure)
MAX_PENDING_LOG_BYTES = 4 * 1024 * 1024  # likewise: a fast logger waits for the pipe, it loses nothing
MAX_EARLY_CANCELS = 1_000  # cancels kept for jobs not started here (bounds those that came too late)

CAUSES = {"cancel": lambda: Cancelled("cancelled"), "deadline": lambda: DeadlineExceeded("deadline exceeded"),
          "shutdown": lambda: Shutdown("the app is stopping")}  # fmt: skip


def _die_with_parent(parent_pid: int) -> None:
    if sys.platform.startswith("linux"):
        import ctypes

        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL, 0, 0, 0)  # PR_SET_PDEATHSIG
    if os.getppid() != parent_pid:  # the app died before the prctl
        os._exit(0)


def _start_group_sentinel(sentinel_fd: int) -> None:
    """`sh` waits for EOF on a pipe only the app holds, then kills this whole process group."""
    subprocess.Popen(["/bin/sh", "-c", "read x; kill -s KILL 0"], stdin=sentinel_fd, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, close_fds=True)  # fmt: skip
    os.close(sentinel_fd)


class Outbox:
    """Messages to the app from any thread: progress and logs coalesced, `done` at once."""

    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self._lock = threading.Lock()  # one writer at a time on the pipe
        self._pending_lock = threading.Lock()
        self._progress: dict[int, tuple[float | None, str]] = {}
        self._logs: list[tuple[int, float, str, str]] = []
        self._pending_bytes = 0

    def send(self, message: dict[str, Any]) -> None:
        data = encode(message)
        with self._lock:
            self._conn.send_bytes(data)

    def progress(self, job: Job, fraction: float | None, message: str) -> None:
        with self._pending_lock:
            self._progress[job.id] = (fraction, message)

    def log(self, job_id: int, at: float, level: str, message: str) -> None:
        """Queue a log line; past MAX_PENDING_LOG_* the calling thread sends the batch itself,
        so memory stays bounded and the app (which keeps a run's head and tail) sees every line."""
        message = message[:10_000]
        with self._pending_lock:
            self._logs.append((job_id, at, level, message))
            self._pending_bytes += len(message)
            full = len(self._logs) >= MAX_PENDING_LOG_LINES or self._pending_bytes >= MAX_PENDING_LOG_BYTES
        if full:
            try:
                self.flush()
            except OSError:
                os._exit(0)  # the app is gone

    def flush(self) -> None:
        with self._lock:  # taken first, so batches reach the pipe in the order they were taken
            with self._pending_lock:
                if not self._progress and not self._logs:
                    return
                progress, self._progress = self._progress, {}
                logs, self._logs = self._logs, []
                self._pending_bytes = 0
            data = encode({"op": "out", "progress": [[i, p, m] for i, (p, m) in progress.items()], "logs": logs})
            self._conn.send_bytes(data)

    def flush_forever(self) -> None:
        while True:
            time.sleep(FLUSH_EVERY)
            try:
                self.flush()
            except OSError:
                os._exit(0)  # the app is gone


class PipeArtifacts:
    """The worker process's ArtifactSink: the handler made the folder and the file itself; the
    app records each artifact when this message reaches it, before the job's `done`."""

    def __init__(self, root: Path, outbox: Outbox) -> None:
        self.root = root
        self._outbox = outbox

    def add(self, job_id: int, artifact: dict[str, Any]) -> None:
        self._outbox.send({"op": "artifact", "job_id": job_id, "artifact": artifact})


class PipeCheckpoints:
    """The worker process's CheckpointSink: a request over the pipe, and save returns once the
    app answers `checkpoint_saved`, which it sends after the commit (one at a time: a lock)."""

    def __init__(self, outbox: Outbox, replies: queue.SimpleQueue[dict[str, Any]]) -> None:
        self._outbox = outbox
        self._replies = replies
        self._lock = threading.Lock()

    def save(self, job_id: int, attempt: int, text: str) -> None:
        with self._lock:
            self._outbox.send({"op": "checkpoint", "job_id": job_id, "attempt": attempt, "data": text})
            reply = self._replies.get()
        if reply.get("error"):
            raise InvalidOptionError(str(reply["error"]))


class WorkerMain:
    """The loop: jobs arrive on the pipe (a reader thread), run on the main thread (or a thread
    of their own when they ask for a nice level), outcomes go back."""

    def __init__(self, conn: Connection) -> None:
        self.conn = conn
        self.outbox = Outbox(conn)
        self.jobs: queue.SimpleQueue[dict[str, Any] | None] = queue.SimpleQueue()
        self.current: tuple[int, Context] | None = None
        self.current_lock = threading.Lock()
        self.early_cancels: dict[Any, str] = {}  # job id → cause, for a cancel that came before its job
        self.handlers = HandlerCache()
        self.checkpoint_replies: queue.SimpleQueue[dict[str, Any]] = queue.SimpleQueue()
        self.capture = JobLogCapture(self.outbox.log)

    def read_forever(self) -> None:
        try:
            while True:
                message = decode(self.conn.recv_bytes())
                op = message["op"]
                if op == "run":
                    for run in message["runs"]:
                        self.jobs.put(run)
                elif op == "checkpoint_saved":
                    self.checkpoint_replies.put(message)
                elif op == "cancel":
                    self._cancel(message.get("job_id"), message.get("cause", "cancel"))
                elif op == "init":
                    sys.path[:] = [p for p in message.get("sys_path", []) if isinstance(p, str)]
                elif op == "exit":
                    self.jobs.put(None)
                    return
        except (EOFError, OSError, ValueError):
            os._exit(0)  # the app closed the pipe or died: nothing here may outlive it

    def _cancel(self, job_id: Any, cause: str) -> None:
        """A cancel may come for a job still waiting here (the app hands over short jobs ahead):
        it is kept, and that job is skipped when its turn comes."""
        with self.current_lock:
            current = self.current
            if current is None or current[0] != job_id:
                if len(self.early_cancels) >= MAX_EARLY_CANCELS:  # cancels of jobs long done: forget them
                    self.early_cancels.clear()
                self.early_cancels[job_id] = cause
                return
        current[1].cancel(CAUSES.get(cause, CAUSES["cancel"])())

    def serve(self) -> None:
        self.capture.install()
        threading.Thread(target=self.read_forever, name="acacia-worker-reader", daemon=True).start()
        threading.Thread(target=self.outbox.flush_forever, name="acacia-worker-flush", daemon=True).start()
        self.outbox.send({"op": "ready", "pid": os.getpid()})
        root = Context.background()
        while True:
            message = self.jobs.get()
            if message is None:
                break
            completion, recycle = self.run_one(root, message)
            sys.stdout.flush()
            sys.stderr.flush()
            self.outbox.flush()
            self.outbox.send({"op": "done", "completion": completion_to_message(completion), "recycle": recycle})
        self.outbox.flush()
        os._exit(0)  # never wait for a handler's leftover non-daemon threads

    def run_one(self, root: Context, message: dict[str, Any]) -> tuple[Completion, bool]:
        job = job_from_message(message["job"])
        remaining = message.get("remaining")
        ctx = root.with_timeout(remaining) if remaining is not None else root.with_cancel()
        job.context = ctx
        job.attach_reporter(self.outbox.progress)
        if message.get("outputs_root"):
            job.attach_outputs(PipeArtifacts(Path(message["outputs_root"]), self.outbox))
        job.checkpoint = message.get("checkpoint")
        job.attach_checkpoints(PipeCheckpoints(self.outbox, self.checkpoint_replies))
        with self.current_lock:
            early = self.early_cancels.pop(job.id, None)
            if early is None:
                self.current = (job.id, ctx)
        if early is not None:  # cancelled while it waited here: it never starts
            ctx.release()
            return _not_started(job, early), False
        try:
            handler, problem = self.handlers.get(message["origin"], job.type)
            if handler is None:
                return Completion(job.id, job.attempts, JobState.FAILED, error=problem, message="failed"), False
            if handler.retry_backoff != message.get("retry_backoff", handler.retry_backoff):
                handler = dataclasses.replace(handler, retry_backoff=message["retry_backoff"])  # the app's options rule
            job_limits = message.get("limits") or {}
            return self._run_limited(ctx, job, handler, job_limits)
        finally:
            with self.current_lock:
                self.current = None
            ctx.release()

    def _run_limited(self, ctx: Context, job: Job, handler: RegisteredHandler,
                     job_limits: dict[str, Any]) -> tuple[Completion, bool]:  # fmt: skip
        nice = job_limits.get("nice")
        applied = limits.apply(job_limits)
        try:
            if nice:
                completion = self._run_on_niced_thread(ctx, job, handler, nice)
            else:
                completion = self._run(ctx, job, handler)
        finally:
            limits.reset(applied)
        completion = limits.explain(completion, job_limits)
        return completion, limits.should_recycle(completion)

    def _run(self, ctx: Context, job: Job, handler: RegisteredHandler) -> Completion:
        self.capture.bind(job.id)
        try:
            return run_job(ctx, job, handler)
        finally:
            self.capture.unbind()

    def _run_on_niced_thread(self, ctx: Context, job: Job, handler: RegisteredHandler, nice: int) -> Completion:
        """Linux keeps a nice level per thread, and raising it cannot be undone without
        privileges: a thread of its own takes the level, and the process stays at 0."""
        box: list[Completion] = []

        def body() -> None:
            limits.set_thread_nice(nice)
            box.append(self._run(ctx, job, handler))

        thread = threading.Thread(target=body, name=f"acacia-job-{job.id}", daemon=True)
        thread.start()
        thread.join()
        return box[0]


def _not_started(job: Job, cause: str) -> Completion:
    """The outcome of a job cancelled before it started here: its attempt is given back."""
    if cause == "cancel":
        return Completion(job.id, job.attempts, JobState.CANCELLED, error="cancelled before it ran", refund_attempt=True,
                          message="cancelled")  # fmt: skip
    why = "the app is stopping" if cause == "shutdown" else "its timeout passed while it waited for its turn"
    return Completion(job.id, job.attempts, JobState.QUEUED, run_at=time.time(), refund_attempt=True,
                      message=f"returned to the queue before it started: {why}")  # fmt: skip


def main(argv: list[str] | None = None) -> int:
    args = sys.argv[1:] if argv is None else argv
    conn_fd, sentinel_fd, parent_pid = (int(a) for a in args[:3])
    _die_with_parent(parent_pid)
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C in the app's terminal is the app's to handle
    _start_group_sentinel(sentinel_fd)
    faulthandler.enable()  # a crash prints the Python stack to stderr, which is the job's log
    for stream in (sys.stdout, sys.stderr):
        stream.reconfigure(line_buffering=True)
    limits.set_process_limits()
    WorkerMain(Connection(conn_fd)).serve()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
