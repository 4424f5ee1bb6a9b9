"""Fixtures for the engine (a real SQLite file, a Registry, a JobQueue and a running PoolWorker),
and a real X server (Xvfb) with xdotool for the window's tests on Qt's xcb platform."""

from __future__ import annotations

import os
import select
import shutil
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager

import pytest

from acacia_gui.core.context import Context
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.store.sqlite import SqliteJobStore


class Engine:
    """The parts app.py wires, minus plugins and the socket, for driving the worker in-process."""

    def __init__(self, tmp_path, qtbot, concurrency: int = 2) -> None:
        from acacia_gui.qt.worker import PoolWorker

        self.qtbot = qtbot
        self.store = SqliteJobStore(tmp_path / "acacia.db")
        self.registry = Registry()
        self.queue = JobQueue(self.store, self.registry)
        self.worker = PoolWorker(self.queue, concurrency=concurrency, instances_dir=tmp_path / "instances",
                                 cancel_grace=1.0)  # fmt: skip
        self.events: list = []
        self.queue.bus.subscribe(self.events.append)
        self.ctx = Context.background()

    def start(self) -> Engine:
        self.worker.start(self.ctx, self.registry)
        return self

    def enqueue(self, job_type: str, payload=None, **options) -> int:
        from acacia_gui.core.job import Job

        return self.queue.enqueue(self.ctx, Job(job_type, payload, **options))

    def job(self, job_id: int):
        return self.store.require_job(job_id)

    def wait_state(self, job_id: int, *states: str, timeout: float = 10.0):
        self.qtbot.waitUntil(lambda: self.job(job_id).state in states, timeout=int(timeout * 1000))
        return self.job(job_id)

    def stop(self, seconds: float = 5.0) -> None:
        self.worker.stop(Context.background().with_timeout(seconds))


@pytest.fixture
def engine(tmp_path, qtbot) -> Iterator[Engine]:
    eng = Engine(tmp_path, qtbot)
    yield eng
    eng.stop(2.0)
    eng.store.close()


INSTALL_HINT = ("run `make test-system-deps` (as root it installs the Debian packages in the Makefile's "
                "TEST_SYSTEM_PACKAGES: xvfb, xdotool and the xcb libraries)")  # fmt: skip


@contextmanager
def running_xvfb() -> Iterator[str]:
    """A private X server (1280 x 800, no window manager, no TCP); yields its DISPLAY. Never skipped:
    without Xvfb the test fails, saying how to install it."""
    program = shutil.which("Xvfb")
    if program is None:
        pytest.fail(f"Xvfb is not installed: {INSTALL_HINT}; the window is tested on a real X server")
    read, write = os.pipe()
    server = subprocess.Popen([program, "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 30)
        number = os.read(read, 64).decode().strip() if ready else ""
        if not number.isdigit():
            server.kill()
            pytest.fail(f"Xvfb did not start: {server.communicate(timeout=10)[1].decode(errors='replace')[-2000:]}")
        yield f":{number}"
    finally:
        os.close(read)
        if server.poll() is None:
            server.terminate()
            server.wait(10)


@pytest.fixture
def xvfb() -> Iterator[str]:
    with running_xvfb() as display:
        yield display


def require_xdotool() -> str:
    """xdotool sends real (XTEST) mouse and key events through the X server; missing is a failure."""
    program = shutil.which("xdotool")
    if program is None:
        pytest.fail(f"xdotool is not installed: {INSTALL_HINT}; the window's tests click with it")
    return program


@pytest.fixture
def xdotool() -> str:
    return require_xdotool()
