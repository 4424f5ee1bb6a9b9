"""Helpers for CLI and socket tests: run `acacia …` and a real `acacia serve` in subprocesses.

Each test gets its own data dir, plugin dir (the example plugins) and a short private
runtime dir (XDG_RUNTIME_DIR) so its socket path is its own and under the Unix limit.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import psutil

from acacia_gui.config import socket_address_for
from acacia_gui.ipc.client import Client, probe

REPO = Path(__file__).resolve().parents[2]
EXAMPLES = REPO / "resources" / "plugins"


class Sandbox:
    """Paths and environment for one test: data dir, plugins, runtime dir."""

    def __init__(self, tmp_path: Path, *, plugins: bool = True) -> None:
        self.data_dir = tmp_path / "data"
        self.plugins_dir = tmp_path / "plugins"
        self.runtime_dir = Path(tempfile.mkdtemp(prefix="acx-", dir="/tmp"))
        os.chmod(self.runtime_dir, 0o700)
        if plugins:
            self.plugins_dir.mkdir(mode=0o700)
            for example in EXAMPLES.glob("*.py"):
                shutil.copyfile(example, self.plugins_dir / example.name)
                os.chmod(self.plugins_dir / example.name, 0o600)
        self.env = dict(os.environ, XDG_RUNTIME_DIR=str(self.runtime_dir), QT_QPA_PLATFORM="offscreen")
        self.env.pop("ACACIA_DATA_DIR", None)
        self.env.pop("ACACIA_PLUGINS_DIR", None)

    @property
    def address(self) -> str:
        old = os.environ.get("XDG_RUNTIME_DIR")
        os.environ["XDG_RUNTIME_DIR"] = str(self.runtime_dir)
        try:
            return socket_address_for(self.data_dir.absolute())
        finally:
            if old is None:
                os.environ.pop("XDG_RUNTIME_DIR", None)
            else:
                os.environ["XDG_RUNTIME_DIR"] = old

    @property
    def where(self) -> list[str]:
        return ["--data-dir", str(self.data_dir), "--plugins-dir", str(self.plugins_dir)]

    def cli(self, *args: str, input: bytes | str | None = None, timeout: float = 60,
            env: dict[str, str] | None = None) -> subprocess.CompletedProcess:  # fmt: skip
        """Run `acacia ARGS --data-dir … --plugins-dir …` to completion; text output."""
        return subprocess.run(
            [sys.executable, "-m", "acacia_gui", *args, *self.where],
            input=input.decode() if isinstance(input, bytes) else input,
            capture_output=True, text=True, timeout=timeout, env=env or self.env,
        )  # fmt: skip

    def client(self, **options) -> Client:
        return Client(self.address, data_dir=self.data_dir, **options)

    def raw(self) -> RawConnection:
        return RawConnection(self.address)

    def cleanup(self) -> None:
        shutil.rmtree(self.runtime_dir, ignore_errors=True)


class ServeProcess:
    """A real `acacia serve` on the sandbox; `start()` returns once the socket answers hello."""

    def __init__(self, sandbox: Sandbox, *extra: str, env: dict[str, str] | None = None) -> None:
        self.sandbox = sandbox
        self.extra = extra
        self.env = {**sandbox.env, **(env or {})}
        self.proc: subprocess.Popen | None = None
        self.log_path = sandbox.data_dir.parent / f"serve-{time.monotonic_ns()}.log"

    def start(self, timeout: float = 30.0) -> ServeProcess:
        self.sandbox.data_dir.mkdir(parents=True, exist_ok=True)
        self._log = open(self.log_path, "wb")  # closed in stop()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "acacia_gui", "serve", *self.sandbox.where, *self.extra],
            stdout=self._log, stderr=subprocess.STDOUT, env=self.env,
        )  # fmt: skip
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise AssertionError(f"acacia serve exited with {self.proc.returncode}:\n{self.log()}")
            hello = probe(self.sandbox.address, timeout=1.0)
            if hello is not None and "error" not in hello:
                self.hello = hello
                return self
            time.sleep(0.02)
        self.stop()
        raise AssertionError(f"acacia serve did not answer within {timeout} s:\n{self.log()}")

    def log(self) -> str:
        try:
            return self.log_path.read_text(errors="replace")
        except OSError:
            return ""

    def alive(self) -> bool:
        return self.proc is not None and self.proc.poll() is None

    def stop(self, timeout: float = 20.0) -> int | None:
        if self.proc is None:
            return None
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)
        self._log.close()
        return self.proc.returncode

    def __enter__(self) -> ServeProcess:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


class RawConnection:
    """A plain socket speaking lines: for requests the Client would never send."""

    def __init__(self, address: str, timeout: float = 10.0) -> None:
        self.sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        self.sock.settimeout(timeout)
        deadline = time.monotonic() + timeout
        while True:  # a full listen backlog says EAGAIN at once: wait for the server to accept
            try:
                self.sock.connect(address)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.01)
        self.buffer = b""

    def send(self, data: bytes) -> None:
        self.sock.sendall(data)

    def request(self, op: str, params=None, request_id=1) -> dict:
        self.send(json.dumps({"id": request_id, "op": op, "params": params or {}}).encode() + b"\n")
        return self.read()

    def read(self) -> dict:
        """The next message (raises ConnectionError if the server closed the connection)."""
        while b"\n" not in self.buffer:
            chunk = self.sock.recv(1 << 16)
            if not chunk:
                raise ConnectionError("the server closed the connection")
            self.buffer += chunk
        line, self.buffer = self.buffer.split(b"\n", 1)
        return json.loads(line)

    def closed_by_server(self) -> bool:
        """True once the server has closed its end (reads EOF); waits up to the socket timeout."""
        try:
            while True:
                chunk = self.sock.recv(1 << 16)
                if not chunk:
                    return True
        except ConnectionResetError:
            return True
        except TimeoutError:
            return False

    def close(self) -> None:
        self.sock.close()


def descendants(pid: int) -> set[int]:
    """Every process below `pid` (the app's worker processes, their sentinels and subprocesses)."""
    try:
        return {child.pid for child in psutil.Process(pid).children(recursive=True)}
    except psutil.NoSuchProcess:
        return set()


def all_gone(pids: set[int]) -> bool:
    """None of `pids` runs any more (a zombie awaiting its reaper counts as gone)."""
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                return False
        except psutil.NoSuchProcess:
            continue
    return True


@contextmanager
def served_app(tmp_path_factory, name: str,
               prepare: Callable[[Sandbox], None] | None = None) -> Iterator[tuple[Sandbox, ServeProcess]]:  # fmt: skip
    """A sandbox and a running `acacia serve --workers 2` in it, for a module of tests to share."""
    box = Sandbox(tmp_path_factory.mktemp(name))
    if prepare is not None:
        prepare(box)
    serve = ServeProcess(box, "--workers", "2").start()
    try:
        yield box, serve
    finally:
        serve.stop()
        box.cleanup()
