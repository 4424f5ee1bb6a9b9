"""WorkerProcess: the app's handle on one worker process — start, messages, output, death, kill.

Started with exec from the Spawner's thread, in a new session (its own process group),
with only its end of the pipe and the sentinel pipe passed on: it never inherits the
app's listening socket, instance lock or database connections.
"""

from __future__ import annotations

import contextlib
import os
import select
import selectors
import signal
import socket
import struct
import subprocess
import sys
import time
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Any

from .messages import MAX_MESSAGE_BYTES, decode, encode
from .spawner import Spawner

try:
    import psutil
except ImportError:  # pragma: no cover - psutil is a dependency; without it only the process group is killed
    psutil = None

_HEADER = struct.Struct("!i")
_LONG_HEADER = struct.Struct("!Q")
TERM_TO_KILL = 2.0  # seconds between SIGTERM and SIGKILL of a process group
MAX_OUTPUT_LINE = 10_000  # characters of one stdout/stderr line kept in the job's log
_PACKAGE_ROOT = str(Path(__file__).resolve().parents[3])


def worker_command(conn_fd: int, sentinel_fd: int) -> list[str]:
    args = [str(conn_fd), str(sentinel_fd), str(os.getpid())]
    if getattr(sys, "frozen", False):  # the PyInstaller bundle: its own executable has a worker mode
        return [sys.executable, "--acacia-worker", *args]
    return [sys.executable, "-m", "acacia_gui.engine.processes.child", *args]


def describe_exit(returncode: int) -> str:
    """'the handler's process died: SIGSEGV (segmentation fault)' or '... exited with status 3'."""
    if returncode >= 0:
        return f"the handler's process exited with status {returncode}"
    try:
        sig = signal.Signals(-returncode)
    except ValueError:
        return f"the handler's process died from signal {-returncode}"
    what = (signal.strsignal(sig) or "").lower()
    if sig is signal.SIGKILL:
        return ("the handler's process was killed: SIGKILL (from outside Acacia; "
                "on Linux most often the kernel's out-of-memory killer)")  # fmt: skip
    return f"the handler's process died: {sig.name} ({what})" if what else f"the handler's process died: {sig.name}"


class WorkerProcess:
    """Not thread-safe except `wake` and `kill`: one pool thread supervises it at a time."""

    def __init__(self, popen: subprocess.Popen[bytes], conn: Connection, out_fd: int, err_fd: int, sentinel_w: int,
                 generation: int) -> None:  # fmt: skip
        self.popen = popen
        self.pid = popen.pid
        self.conn = conn
        self.generation = generation
        self.jobs_run = 0
        self.current_job: int | None = None
        self.output_sink = None  # callable(level, line) while a job runs
        self._sentinel_w = sentinel_w
        self._wake_r, self._wake_w = os.pipe()
        os.set_blocking(self._wake_r, False)
        os.set_blocking(self._wake_w, False)
        self._streams = {out_fd: ("stdout", bytearray()), err_fd: ("stderr", bytearray())}
        for fd in self._streams:
            os.set_blocking(fd, False)
        self.selector = selectors.DefaultSelector()
        self.selector.register(conn.fileno(), selectors.EVENT_READ, "conn")
        self.selector.register(self._wake_r, selectors.EVENT_READ, "wake")
        for fd in self._streams:
            self.selector.register(fd, selectors.EVENT_READ, fd)
        self._conn_fd = conn.fileno()
        self._inbox = bytearray()  # bytes read from the pipe, not yet a whole message
        self._conn_poll = select.poll()
        self._conn_poll.register(conn.fileno(), select.POLLIN)
        self._output_poll = select.poll()
        for fd in self._streams:
            self._output_poll.register(fd, select.POLLIN)
        self.closed = False
        self.returncode: int | None = None

    @classmethod
    def start(cls, spawner: Spawner, generation: int) -> WorkerProcess:
        parent_sock, child_sock = socket.socketpair()
        sentinel_r, sentinel_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        env = dict(os.environ)
        env["PYTHONPATH"] = os.pathsep.join(p for p in (_PACKAGE_ROOT, env.get("PYTHONPATH", "")) if p)
        env.pop("QT_QPA_PLATFORM", None)
        try:
            popen = spawner.popen(worker_command(child_sock.fileno(), sentinel_r), pass_fds=(child_sock.fileno(), sentinel_r),
                                  stdin=subprocess.DEVNULL, stdout=out_w, stderr=err_w, start_new_session=True,
                                  env=env, close_fds=True)  # fmt: skip
        except BaseException:
            for fd in (sentinel_w, out_r, err_r):
                os.close(fd)
            parent_sock.close()
            raise
        finally:
            child_sock.close()
            for fd in (sentinel_r, out_w, err_w):
                os.close(fd)
        process = cls(popen, Connection(parent_sock.detach()), out_r, err_r, sentinel_w, generation)
        process.send({"op": "init", "sys_path": list(sys.path)})
        return process

    # -- talking --------------------------------------------------------------------
    def send(self, message: dict[str, Any]) -> None:
        """Raises OSError (BrokenPipeError) when the process is gone."""
        self.conn.send_bytes(encode(message))

    def receive(self) -> dict[str, Any] | None:
        """The next message if one is ready, else None; EOFError when the process closed the pipe.

        Reads whatever the pipe holds in one system call and splits it into messages
        (multiprocessing.connection's framing: a signed 4-byte length, or -1 and 8 bytes),
        so a burst of outcomes costs one read, not two per message."""
        message = self._next_frame()
        if message is not None:
            return decode(message)
        if not self._conn_poll.poll(0):
            return None
        chunk = os.read(self._conn_fd, 256 * 1024)
        if not chunk:
            raise EOFError("the worker process closed its pipe")
        self._inbox.extend(chunk)
        message = self._next_frame()
        return decode(message) if message is not None else None

    def _next_frame(self) -> bytes | None:
        inbox = self._inbox
        if len(inbox) < 4:
            return None
        (size,) = _HEADER.unpack_from(inbox)
        start = 4
        if size == -1:
            if len(inbox) < 12:
                return None
            (size,) = _LONG_HEADER.unpack_from(inbox, 4)
            start = 12
        if size < 0 or size > MAX_MESSAGE_BYTES:
            raise ValueError(f"a message of {size} bytes from the worker process")
        if len(inbox) < start + size:
            return None
        frame = bytes(inbox[start:start + size])
        del inbox[:start + size]
        return frame

    def wake(self) -> None:
        """Interrupt the supervisor's wait (any thread)."""
        with contextlib.suppress(OSError):
            os.write(self._wake_w, b"x")

    def drain_wake(self) -> None:
        with contextlib.suppress(OSError):
            while os.read(self._wake_r, 4096):
                pass

    def read_output(self, fd: int, final: bool = False) -> None:
        """Pass whole lines from the process's stdout or stderr to `output_sink`."""
        level, buffer = self._streams[fd]
        while True:
            try:
                chunk = os.read(fd, 65536)
            except (BlockingIOError, InterruptedError):
                break
            except OSError:
                chunk = b""
            if not chunk:
                if fd in self.selector.get_map():
                    self.selector.unregister(fd)
                final = True
                break
            buffer.extend(chunk)
            if len(buffer) > 4 * 65536:
                break  # the rest on the next round: one chatty process must not starve the loop
        *lines, rest = buffer.split(b"\n")
        if final and rest:
            lines.append(rest)
            rest = b""
        buffer[:] = rest
        if len(buffer) > MAX_OUTPUT_LINE * 4:  # a line with no end: cut it
            lines.append(bytes(buffer))
            buffer.clear()
        sink = self.output_sink
        for line in lines:
            text = line.decode("utf-8", "replace").rstrip("\r")[:MAX_OUTPUT_LINE]
            if sink is not None:
                sink(level, text)

    def drain_output(self) -> None:
        """Read what stdout and stderr hold now (a job's last lines, before the next job's)."""
        ready = {fd for fd, _ in self._output_poll.poll(0)}
        for fd in list(self._streams):
            if fd in ready and fd in self.selector.get_map():
                self.read_output(fd)

    # -- life and death -----------------------------------------------------------------
    def alive(self) -> bool:
        return self.returncode is None and self.popen.poll() is None

    def wait_exit(self, timeout: float) -> int | None:
        try:
            self.returncode = self.popen.wait(timeout)
        except subprocess.TimeoutExpired:
            return None
        return self.returncode

    def kill(self, term_wait: float = TERM_TO_KILL) -> int:
        """SIGTERM to the process group and to every descendant that left it; SIGKILL
        `term_wait` s later (sooner when all are gone). Reaps the process."""
        descendants = self._descendants()
        self._signal_all(signal.SIGTERM, descendants)
        deadline = time.monotonic() + term_wait
        while time.monotonic() < deadline and not self._all_gone(descendants):
            time.sleep(0.01)
        self._signal_all(signal.SIGKILL, descendants)
        self.returncode = self.popen.wait()
        return self.returncode

    def _descendants(self) -> list:
        if psutil is None:
            return []
        try:
            return psutil.Process(self.pid).children(recursive=True)
        except psutil.Error:
            return []

    def _signal_all(self, sig: int, descendants: list) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(self.pid, sig)
        for child in descendants:
            with contextlib.suppress(Exception):
                child.send_signal(sig)

    def _all_gone(self, descendants: list) -> bool:
        """The process is reaped and none of the descendants seen before the SIGTERM runs
        (a zombie does not: whoever inherited it reaps it). Group members started after
        that look-up are caught by the SIGKILL to the group."""
        if self.popen.poll() is None:
            return False
        if psutil is None:
            try:
                os.killpg(self.pid, 0)
            except ProcessLookupError:
                return True
            return False
        return not any(_running(child) for child in descendants)

    def close(self, *, kill: bool = False) -> None:
        """Ask it to exit (or kill it), reap it, and close our ends of its pipes."""
        if self.closed:
            return
        self.closed = True
        if kill:
            self.kill()
        else:
            with contextlib.suppress(OSError):
                self.send({"op": "exit"})
            if self.wait_exit(TERM_TO_KILL) is None:
                self.kill()
        with contextlib.suppress(OSError):
            os.close(self._sentinel_w)  # the sentinel then kills whatever the handlers left in the group
        self.selector.close()
        self.conn.close()
        for fd in (*self._streams, self._wake_r, self._wake_w):
            with contextlib.suppress(OSError):
                os.close(fd)


def _running(process) -> bool:
    try:
        return process.is_running() and process.status() != psutil.STATUS_ZOMBIE
    except psutil.Error:
        return False
