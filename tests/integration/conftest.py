"""Fixtures for the engine: a real SQLite file, a Registry, a JobQueue and a running PoolWorker."""

from __future__ import annotations

from collections.abc import Iterator

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
