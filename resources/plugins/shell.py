"""Example plugin: run a shell command; its output becomes the job's log; cancel kills it.

Try it:

    acacia enqueue shell.run --payload '{"command": "for i in 1 2 3; do echo $i; sleep 1; done"}'

What this example shows, beyond the basics in sleep.py:

- Logging is the job's log: anything a handler logs with the standard `logging` module
  (from the thread running the job) is stored with the job and shown in the window.
- Work that blocks outside Python (a child process, a socket) cannot poll `ctx.check()`.
  Register `ctx.on_cancel(callback)` instead: Acacia calls it from the thread that
  cancels (the user, or the timer of the job's timeout). Here it stops the process
  group — SIGTERM first, SIGKILL 3 s later if something is still alive.
- Outputs: the command's whole output is also written to `stdout.txt` in `job.output_dir`
  (the job's private folder) and registered with `job.add_artifact`, so the Outputs tab
  lists it; registering the same path again at the end records its final size.
- `on_interrupt="fail"`: running a command twice may not be safe, so if the app dies
  mid-run the job is marked "interrupted" for you to decide instead of being re-run.
- After the process ends, `ctx.check()` turns a cancel into `Cancelled` (the job ends
  cancelled, not failed); a non-zero exit code fails the job with a clear message.
"""

from __future__ import annotations

import logging
import os
import shlex
import signal
import subprocess
import threading
from pathlib import Path

from acacia_gui.jobs import Context, Job, handler

log = logging.getLogger("acacia.plugins.shell")
KILL_AFTER = 3.0  # seconds between SIGTERM and SIGKILL


class ProcessGroup:
    """A started command and all its children, stoppable once from any thread."""

    def __init__(self, process: subprocess.Popen[str]) -> None:
        self.process = process
        self._lock = threading.Lock()
        self._finished = False

    def stop(self) -> None:
        """Ask the whole group to stop, then force it; a no-op once the command finished."""
        with self._lock:
            if self._finished:
                return
            self._signal(signal.SIGTERM if os.name == "posix" else None)
        timer = threading.Timer(KILL_AFTER, self._force)
        timer.daemon = True
        timer.start()

    def finished(self) -> None:
        """The command was reaped: its pid may be reused, so never signal it again."""
        with self._lock:
            self._finished = True

    def _force(self) -> None:
        with self._lock:
            if not self._finished:
                self._signal(signal.SIGKILL if os.name == "posix" else None)

    def _signal(self, sig: signal.Signals | None) -> None:
        try:
            if sig is None:  # Windows: no process groups here, stop the command itself
                self.process.kill()
            else:
                os.killpg(self.process.pid, sig)  # the group id is the command's pid (new session)
        except ProcessLookupError:
            pass  # already gone


@handler(
    "shell.run",
    title="Run a shell command",
    description="Run a command; its output lines become the job's log. Cancelling kills the command.",
    on_interrupt="fail",
    schema={
        "type": "object",
        "properties": {
            "command": {"type": "string", "minLength": 1, "title": "Command"},
            "cwd": {"type": "string", "format": "path", "title": "Working folder"},
            "shell": {
                "type": "boolean",
                "title": "Run through the shell",
                "description": "Run with /bin/sh (pipes, globs, $VARS); if false, split the command like a shell would.",
                "default": True,
            },
        },
        "required": ["command"],
        "additionalProperties": False,
    },
)
def run(ctx: Context, job: Job) -> dict[str, int]:
    command = job.payload["command"]
    use_shell = job.payload.get("shell", True)
    cwd = job.payload.get("cwd")
    ctx.check()  # do not start anything for a job cancelled already
    process = subprocess.Popen(
        command if use_shell else shlex.split(command),
        shell=use_shell,
        cwd=Path(cwd).expanduser() if cwd else None,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,  # one stream, in the order the command wrote it
        text=True,
        errors="replace",  # binary output must not crash the job
        bufsize=1,
        start_new_session=True,  # its own process group, so cancel reaches its children too
    )
    group = ProcessGroup(process)
    ctx.on_cancel(group.stop)
    lines = 0
    # The whole output, also in a file (the job's log keeps a bounded head and tail of it).
    output = job.output_dir / "stdout.txt"
    try:
        with output.open("w", encoding="utf-8", errors="replace") as saved:
            job.add_artifact(output, label="the command's full output")  # listed at once, even if the app dies
            assert process.stdout is not None  # we asked for a pipe
            for line in process.stdout:  # ends when the command (and its children) close their output
                saved.write(line)
                log.info("%s", line.rstrip("\r\n"))
                lines += 1
    except BaseException:
        group.stop()  # never leave the command running behind a failed job
        raise
    finally:
        if process.stdout is not None:
            process.stdout.close()
        exit_code = process.wait()
        group.finished()
        job.add_artifact(output, label="the command's full output")  # again: its final size
    ctx.check()  # cancelled: the job ends "cancelled", whatever the exit code
    if exit_code != 0:
        raise RuntimeError(f"command exited with code {exit_code}{_killed_by(exit_code)}")
    return {"exit_code": exit_code, "lines": lines}


def _killed_by(exit_code: int) -> str:
    """' (killed by SIGKILL)' for a negative exit code (POSIX: death by signal), else ''."""
    if exit_code >= 0:
        return ""
    try:
        return f" (killed by {signal.Signals(-exit_code).name})"
    except ValueError:
        return f" (killed by signal {-exit_code})"
