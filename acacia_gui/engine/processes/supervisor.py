"""supervise(): a slot's jobs in its worker process, from the `run` messages to their Completions.

Runs on the slot's pool thread. The first run is the slot's; while it runs, up to
PIPELINE_DEPTH - 1 short jobs from the claim-ahead buffer are handed to the process
too (`take_more`), so the process never waits for a round trip between two short jobs.
The process runs them in order: the head of `inflight` is the one running, the others
wait inside the process (`queued_behind`, holding no slot).

The pool thread waits on the process's pipe, its stdout and stderr, and a wake pipe
poked by a cancel. A cancel (or the deadline, or the app stopping) is passed on at
once; past the grace period the process group is killed and the head's Completion
follows from why it was cancelled. A process that dies mid-job fails the running job
with the cause; jobs still waiting inside it go back to the queue, their attempt
refunded. The caller replaces the process.
"""

from __future__ import annotations

import json
import logging
import time
from collections import deque
from collections.abc import Callable

from ...core.errors import AcaciaError, DeadlineExceeded, InvalidOptionError, Shutdown
from ...core.job import JobState
from ...core.limits import format_bytes
from ...core.runner import Completion, abandoned_completion, failure_completion, shutdown_completion
from ..run import Run
from .messages import completion_from_message, job_to_message
from .worker_process import WorkerProcess, describe_exit

log = logging.getLogger(__name__)

LogSink = Callable[[int, float, str, str], None]
Post = Callable[[Run, Completion], None]
TakeMore = Callable[[int], list[Run]]
POLL = 0.25  # seconds: the longest wait between checks of the runs' contexts
PIPELINE_DEPTH = 32  # jobs handed to one worker process at once (the running one included)
SIGXCPU = 24
RETIRE_LEAD = 4 * PIPELINE_DEPTH  # jobs before its last: a process about to be recycled gets its successor started


def effective_limits(run: Run) -> dict:
    job, handler = run.job, run.handler
    pick = lambda name: getattr(job, name) if getattr(job, name) is not None else getattr(handler, name, None)  # noqa: E731
    return {"memory_limit": pick("memory_limit"), "cpu_time_limit": pick("cpu_time_limit"), "nice": pick("nice")}


class Supervision:
    """One stint of a pool thread with a worker process: `supervise()` returns whether the
    process can serve the slot again. Every run handed over is posted exactly once."""

    def __init__(self, process: WorkerProcess, capture_log: LogSink, post: Post, take_more: TakeMore,
                 max_jobs: int, retiring: Callable[[], None] = lambda: None) -> None:  # fmt: skip
        self.process = process
        self.max_jobs = max_jobs  # in the process's life: then it is recycled
        self.retiring = retiring  # called once, a little before that: the pool starts its successor
        self.capture_log = capture_log
        self.post = post
        self.take_more = take_more
        self.inflight: deque[Run] = deque()
        self.cancel_sent: dict[int, float] = {}  # job id → when its cancel went to the process
        self.taking = True  # False once the process asked to be recycled, or is going away
        process.output_sink = self._output

    def supervise(self, first: Run) -> bool:
        try:
            if not self._hand_over([first]):
                return False
            self._top_up()
            while self.inflight:
                if not self._round():
                    return False
            return self.taking
        except BaseException as exc:  # never leave a run unposted: the scheduler would wait for it forever
            log.exception("supervising worker process %s failed", self.process.pid)
            self.process.close(kill=True)
            while self.inflight:
                run = self.inflight.popleft()
                self._post(run, abandoned_completion(run.job, f"internal error supervising the job: {exc!r}"))
            return False
        finally:
            self.process.output_sink = None

    # -- one round of waiting --------------------------------------------------------------
    def _round(self) -> bool:
        """Wait for something to happen; False when the process is gone (all runs posted)."""
        head = self.inflight[0]
        now = time.monotonic()
        for run in self.inflight:
            if run.ctx.cancelled and run.job.id not in self.cancel_sent:
                self.cancel_sent[run.job.id] = now
                self._send_cancel(run)
        timeout = POLL
        sent = self.cancel_sent.get(head.job.id)
        if sent is not None:
            grace = head.cancel_grace
            left = grace - (now - sent)
            if left <= 0:
                self._killed(grace)
                return False
            timeout = min(timeout, left)
        elif head.ctx.remaining is not None:
            timeout = min(timeout, head.ctx.remaining)
        process = self.process
        for key, _ in process.selector.select(max(0.0, timeout)):
            if key.data == "wake":
                process.drain_wake()
            elif key.data != "conn":
                process.read_output(key.data)
        got = False
        try:
            while (message := process.receive()) is not None:
                got = True
                if message["op"] == "done":
                    self._done(message)
                    if not self.inflight:
                        return True
                elif message["op"] == "out":
                    self._deliver(message)
                elif message["op"] == "artifact":
                    self._artifact(message)
                elif message["op"] == "checkpoint":
                    self._checkpoint(message)
        except (EOFError, OSError, ValueError, KeyError, TypeError):
            self._died()
            return False
        if not got and not process.alive():  # no EOF came: a process the handler forked holds the pipe open
            self._died()
            return False
        if self.taking:
            self._top_up()
        return True

    def _done(self, message: dict) -> None:
        completion = completion_from_message(message["completion"])
        head = self.inflight[0]
        if completion.job_id != head.job.id:
            raise ValueError(f"the worker process answered for job {completion.job_id}, expected {head.job.id}")
        self.process.drain_output()  # its last lines belong to it, not to the next job
        self.inflight.popleft()
        self.process.jobs_run += 1
        if self.process.jobs_run == max(1, self.max_jobs - RETIRE_LEAD):
            self.retiring()
        if self.inflight:  # the process starts the next one now: it takes the slot before this one gives it up
            self.inflight[0].queued_behind = False
            self.inflight[0].started = time.monotonic()
        self._post(head, completion)
        if message.get("recycle"):
            self.taking = False

    # -- handing over ---------------------------------------------------------------------
    def _hand_over(self, runs: list[Run]) -> bool:
        """Send runs to the process in one message; False (all of them posted) if it is gone."""
        for run in runs:
            run.wake = self.process.wake
            self.inflight.append(run)
        try:
            self.process.send({"op": "run", "runs": [_run_message(run) for run in runs]})
        except OSError:
            self._died()
            return False
        return True

    def _top_up(self) -> None:
        room = min(PIPELINE_DEPTH - len(self.inflight), self.max_jobs - self.process.jobs_run - len(self.inflight))
        runs = self.take_more(room) if room > 0 else []
        if runs:
            self._hand_over(runs)

    def _send_cancel(self, run: Run) -> None:
        cause = run.ctx.cause
        kind = "shutdown" if isinstance(cause, Shutdown) else "deadline" if isinstance(cause, DeadlineExceeded) else "cancel"
        try:
            self.process.send({"op": "cancel", "job_id": run.job.id, "cause": kind})
        except OSError:
            pass  # it died: the next receive sees EOF

    def _output(self, level: str, line: str) -> None:
        if self.inflight:
            self.capture_log(self.inflight[0].job.id, time.time(), level, line)

    def _deliver(self, message: dict) -> None:
        runs = {run.job.id: run for run in self.inflight}
        for job_id, fraction, text in message.get("progress", ()):
            if job_id in runs:
                runs[job_id].job.report_progress(fraction, text)
        for job_id, at, level, text in message.get("logs", ()):
            if job_id in runs:
                self.capture_log(job_id, at, str(level), str(text))

    def _artifact(self, message: dict) -> None:
        """Record an artifact the handler registered, before its job's `done` (same pipe, in order)."""
        run = next((r for r in self.inflight if r.job.id == message.get("job_id")), None)
        sink = run.job.output_sink if run is not None else None
        if run is None or sink is None:
            return
        try:
            artifact = message["artifact"]
            sink.add(run.job.id, {name: artifact[name] for name in ("path", "label", "size", "kind", "at")})
        except (AcaciaError, KeyError, TypeError, ValueError) as exc:
            self.capture_log(run.job.id, time.time(), "WARNING", f"artifact not recorded: {exc}")

    def _checkpoint(self, message: dict) -> None:
        """Commit a checkpoint the handler saved, then answer: its save_checkpoint waits for this."""
        run = next((r for r in self.inflight if r.job.id == message.get("job_id")), None)
        error = None
        try:
            if run is None:
                raise InvalidOptionError(f"job {message.get('job_id')} is not running in this process")
            run.job.save_checkpoint(json.loads(str(message["data"])))
        except (AcaciaError, KeyError, TypeError, ValueError) as exc:
            error = str(exc) or type(exc).__name__
        self.process.send({"op": "checkpoint_saved", "job_id": message.get("job_id"), "error": error})

    def _post(self, run: Run, completion: Completion) -> None:
        run.wake = None
        run.queued_behind = False
        self.post(run, completion)

    # -- the end of a process -----------------------------------------------------------------
    def _died(self) -> None:
        """The process died (or broke its pipe) mid-job: fail the running job with the cause."""
        process = self.process
        code = process.wait_exit(1.0)
        if code is None:  # it closed its pipe but lives on: it is of no use any more
            code = process.kill()
        process.drain_output()
        process.close(kill=True)  # and whatever it started
        head = self.inflight.popleft()
        limits = effective_limits(head)
        cpu = limits.get("cpu_time_limit")
        if code == -SIGXCPU and cpu:
            error = f"exceeded its CPU time limit of {cpu:g} s"
        else:
            error = describe_exit(code)
            if limits.get("memory_limit") and code in (-6, -9, -11):
                error += f" (it had a memory limit of {format_bytes(int(limits['memory_limit']))})"
        if head.ctx.cancelled:
            self._post(head, _after_cancel(head, None))
        else:
            self._post(head, failure_completion(head.job, head.handler, error))
        self._return_waiting(f"its worker process died while job {head.job.id} ran before it")

    def _killed(self, grace: float) -> None:
        self.process.kill()
        self.process.drain_output()
        self.process.close(kill=True)
        head = self.inflight.popleft()
        self._post(head, _after_cancel(head, grace))
        self._return_waiting(f"its worker process was killed to stop job {head.job.id}")

    def _return_waiting(self, why: str) -> None:
        """Jobs handed to the process that never started: back to the queue, as if never claimed."""
        while self.inflight:
            run = self.inflight.popleft()
            self._post(run, _not_started(run, why))


def _run_message(run: Run) -> dict:
    sink = run.job.output_sink
    return {"job": job_to_message(run.job), "origin": run.handler.origin, "remaining": run.ctx.remaining,
            "limits": effective_limits(run), "retry_backoff": run.handler.retry_backoff,
            "outputs_root": str(sink.root) if sink is not None else None,
            "checkpoint": run.job.checkpoint}  # fmt: skip


def _not_started(run: Run, why: str) -> Completion:
    job = run.job
    cause = run.ctx.cause
    if isinstance(cause, Shutdown):
        return shutdown_completion(job)
    if run.ctx.cancelled and not isinstance(cause, DeadlineExceeded):
        return Completion(job.id, job.attempts, JobState.CANCELLED, error="cancelled before it ran", refund_attempt=True,
                          message="cancelled")  # fmt: skip
    return Completion(job.id, job.attempts, JobState.QUEUED, run_at=time.time(), refund_attempt=True,
                      message=f"returned to the queue before it started: {why}")  # fmt: skip


def _after_cancel(run: Run, grace: float | None) -> Completion:
    job = run.job
    cause = run.ctx.cause
    killed = ""
    if grace is not None:
        killed = f"; the handler did not stop within its {grace:g} s grace period, so its process was killed"
    if isinstance(cause, Shutdown):
        return shutdown_completion(job)
    if isinstance(cause, DeadlineExceeded):
        after = f" after {job.timeout:g} s" if job.timeout else ""
        return failure_completion(job, run.handler, f"timed out{after}{killed}")
    return Completion(job.id, job.attempts, JobState.CANCELLED, error=f"cancelled while running{killed}", message="cancelled")
