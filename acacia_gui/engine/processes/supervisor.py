"""supervise(): one job in a worker process, from the `run` message to its Completion.

Runs on the slot's pool thread. It waits on the process's pipe, its stdout and stderr,
and a wake pipe poked by a cancel. A cancel (or the deadline, or the app stopping) is
passed on at once; past the grace period the process group is killed and the
Completion follows from why the run was cancelled. A process that dies mid-job fails
that job with the cause; the caller replaces it.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from ...core.errors import DeadlineExceeded, Shutdown
from ...core.job import JobState
from ...core.limits import DEFAULT_CANCEL_GRACE, format_bytes
from ...core.runner import Completion, failure_completion, shutdown_completion
from ..run import Run
from .messages import completion_from_message, job_to_message
from .worker_process import WorkerProcess, describe_exit

LogSink = Callable[[int, float, str, str], None]
POLL = 0.25  # seconds: the longest wait between checks of the run's context


@dataclass
class Outcome:
    completion: Completion
    reusable: bool  # the process can take the slot's next job


def effective_limits(run: Run) -> dict:
    job, handler = run.job, run.handler
    pick = lambda name: getattr(job, name) if getattr(job, name) is not None else getattr(handler, name, None)  # noqa: E731
    return {"memory_limit": pick("memory_limit"), "cpu_time_limit": pick("cpu_time_limit"), "nice": pick("nice")}


def effective_grace(run: Run) -> float:
    if run.job.cancel_grace is not None:
        return run.job.cancel_grace
    return getattr(run.handler, "cancel_grace", DEFAULT_CANCEL_GRACE)


def supervise(process: WorkerProcess, run: Run, capture_log: LogSink) -> Outcome:
    job = run.job
    limits = effective_limits(run)
    grace = effective_grace(run)
    process.output_sink = lambda level, line: capture_log(job.id, time.time(), level, line)
    process.current_job = job.id
    run.wake = process.wake
    try:
        try:
            process.send({"op": "run", "job": job_to_message(job), "origin": run.handler.origin,
                          "remaining": run.ctx.remaining, "limits": limits,
                          "retry_backoff": run.handler.retry_backoff})  # fmt: skip
        except OSError:
            return _died(process, run, limits)
        cancel_sent_at: float | None = None
        while True:
            if cancel_sent_at is None and run.ctx.cancelled:
                cancel_sent_at = time.monotonic()
                _send_cancel(process, run)
            timeout = POLL
            if cancel_sent_at is not None:
                left = grace - (time.monotonic() - cancel_sent_at)
                if left <= 0:
                    return _killed(process, run, grace)
                timeout = min(timeout, left)
            elif run.ctx.remaining is not None:
                timeout = min(timeout, run.ctx.remaining)
            for key, _ in process.selector.select(max(0.0, timeout)):
                if key.data == "wake":
                    process.drain_wake()
                elif key.data != "conn":
                    process.read_output(key.data)
            dead = not process.alive()  # checked before reading: what it sent before dying is read first
            try:
                while (message := process.receive()) is not None:
                    if message["op"] == "done":
                        process.drain_output()
                        return Outcome(completion_from_message(message["completion"]), not message.get("recycle"))
                    _deliver(message, run, capture_log)
            except (EOFError, OSError, ValueError, KeyError, TypeError):
                return _died(process, run, limits)
            if dead:  # no EOF came: a process the handler forked holds the pipe open
                return _died(process, run, limits)
    finally:
        run.wake = None
        process.output_sink = None
        process.current_job = None


def _send_cancel(process: WorkerProcess, run: Run) -> None:
    cause = run.ctx.cause
    kind = "shutdown" if isinstance(cause, Shutdown) else "deadline" if isinstance(cause, DeadlineExceeded) else "cancel"
    try:
        process.send({"op": "cancel", "job_id": run.job.id, "cause": kind})
    except OSError:
        pass  # it died: the next receive sees EOF


def _deliver(message: dict, run: Run, capture_log: LogSink) -> None:
    if message["op"] != "out":
        return
    for job_id, fraction, text in message.get("progress", ()):
        if job_id == run.job.id:
            run.job.report_progress(fraction, text)
    for job_id, at, level, text in message.get("logs", ()):
        if job_id == run.job.id:
            capture_log(job_id, at, str(level), str(text))


def _died(process: WorkerProcess, run: Run, limits: dict) -> Outcome:
    """The process died (or broke its pipe) mid-job: fail the job with the cause."""
    code = process.wait_exit(1.0)
    if code is None:  # it closed its pipe but lives on: it is of no use any more
        code = process.kill()
    process.drain_output()
    process.close(kill=True)  # and whatever it started
    cpu = limits.get("cpu_time_limit")
    if code == -24 and cpu:  # SIGXCPU
        error = f"exceeded its CPU time limit of {cpu:g} s"
    else:
        error = describe_exit(code)
        if limits.get("memory_limit") and code in (-6, -9, -11):
            error += f" (it had a memory limit of {format_bytes(int(limits['memory_limit']))})"
    if run.ctx.cancelled:
        return Outcome(_after_cancel(run, None), False)
    return Outcome(failure_completion(run.job, run.handler, error), False)


def _killed(process: WorkerProcess, run: Run, grace: float) -> Outcome:
    process.kill()
    process.drain_output()
    process.close(kill=True)
    return Outcome(_after_cancel(run, grace), False)


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
