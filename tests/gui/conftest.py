"""GUI fixtures: real services (SQLite file, plugin folder, JobQueue, running PoolWorker) and a real window.

Test handlers live in a real plugin file loaded by the real loader, so "Reload plugins"
keeps them. Nothing of ours is mocked; waits poll conditions (qtbot.waitUntil).
"""

from __future__ import annotations

import os
import textwrap
from collections.abc import Iterator
from pathlib import Path

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

import pytest

from acacia_gui.config import load_config
from acacia_gui.core.context import Context
from acacia_gui.core.job import Job
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.plugins.loader import load_plugins
from acacia_gui.plugins.schema import validate_payload
from acacia_gui.store.sqlite import SqliteJobStore

TEST_PLUGIN = textwrap.dedent('''
    from acacia_gui.jobs import handler

    @handler("test.steps", title="Count steps", description="Counts to `steps`, reporting progress.",
             schema={"type": "object",
                     "properties": {"steps": {"type": "integer", "title": "Steps", "minimum": 1, "default": 5},
                                    "delay": {"type": "number", "title": "Delay", "minimum": 0, "default": 0.01},
                                    "fail": {"type": "boolean", "title": "Fail at the end", "default": False},
                                    "label": {"type": "string", "title": "Label"},
                                    "mode": {"enum": ["fast", "slow"], "title": "Mode", "default": "fast"}},
                     "required": ["steps"], "additionalProperties": False})
    def steps(ctx, job):
        n = job.payload.get("steps", 5)
        for i in range(n):
            if ctx.wait(job.payload.get("delay", 0.01)):
                ctx.check()
            job.report_progress((i + 1) / n, f"step {i + 1} of {n}")
        if job.payload.get("fail"):
            raise RuntimeError("asked to fail")
        return {"steps": n}

    @handler("test.gate", title="Wait for cancel", description="Runs until cancelled.")
    def gate(ctx, job):
        import logging
        logging.getLogger("test.gate").info("gate opened for %s", job.payload)
        while not ctx.wait(0.02):
            job.report_progress(None, "waiting")
        ctx.check()

    @handler("test.silent", title="Go silent", description="Reports once, then says nothing until cancelled.",
             stall_after=0.5, isolation="thread")
    def silent(ctx, job):
        job.report_progress(0.5, "half way")
        while not ctx.wait(0.02):
            if job.payload and __import__("os").path.exists(job.payload.get("talk", "")):
                job.report_progress(0.6, "talking again")
        ctx.check()

    @handler("test.file", title="Use a file", description="Takes a path.",
             schema={"type": "object", "properties": {"path": {"type": "string", "format": "path", "title": "File"}},
                     "required": ["path"]})
    def use_file(ctx, job):
        return {"path": job.payload["path"]}

    @handler("test.flaky", title="Flaky", description="Fails while its marker file exists.")
    def flaky(ctx, job):
        import os
        if os.path.exists(job.payload["marker"]):
            raise RuntimeError("marker file present")
        return "ok"

    @handler("test.nested", title="Nested payload",
             schema={"type": "object", "properties": {"items": {"type": "array", "items": {"type": "integer"}}},
                     "required": ["items"]})
    def nested(ctx, job):
        return sum(job.payload["items"])
''')


def make_plugins_dir(root: Path) -> Path:
    folder = root / "plugins"
    folder.mkdir(mode=0o700)
    (folder / "testing.py").write_text(TEST_PLUGIN, encoding="utf-8")
    return folder


class Harness:
    """AppServices wired like app.py builds them (minus the socket server), with a running worker."""

    def __init__(self, tmp_path: Path, concurrency: int = 2) -> None:
        from acacia_gui.qt.services import AppServices
        from acacia_gui.qt.worker import PoolWorker

        plugins_dir = make_plugins_dir(tmp_path)
        self.config = load_config(tmp_path / "data", plugins_dir)
        self.config.data_dir.mkdir(parents=True, exist_ok=True)
        self.store = SqliteJobStore(self.config.database)
        report = load_plugins(plugins_dir, entry_points=False)
        assert not report.problems, report.problems
        self.registry = Registry()
        self.registry.replace_all(report.handlers)
        self.queue = JobQueue(self.store, self.registry, payload_validator=validate_payload)
        self.worker = PoolWorker(self.queue, concurrency=concurrency, instances_dir=self.config.instances_dir,
                                 cancel_grace=1.0)  # fmt: skip
        self.services = AppServices(self.config, self.store, self.registry, self.queue, self.worker, report)
        self.worker.start(Context.background(), self.registry)
        from acacia_gui.engine.pruner import Pruner

        self.services.pruner = Pruner(self.queue)  # retention, as app.py makes it (policy from the Settings dialog)
        self.services.pruner.start()

    def enqueue(self, job_type: str, payload=None, **options) -> int:
        return self.queue.enqueue(Context.background(), Job(job_type, payload, **options), source="api")

    def job(self, job_id: int):
        return self.store.require_job(job_id)

    def close(self) -> None:
        self.services.pruner.stop()
        self.worker.stop(Context.background().with_timeout(5))
        self.services.bridge.close()
        self.store.close()


@pytest.fixture
def harness(tmp_path, qtbot) -> Iterator[Harness]:
    h = Harness(tmp_path)
    yield h
    h.close()


@pytest.fixture
def settings(tmp_path):
    from PySide6.QtCore import QSettings

    return QSettings(str(tmp_path / "settings.ini"), QSettings.Format.IniFormat)


@pytest.fixture
def quit_calls() -> list[int]:
    return []


@pytest.fixture
def window(harness, settings, qtbot, quit_calls):
    from acacia_gui.gui.main_window import MainWindow

    win = MainWindow(harness.services, on_quit=lambda: quit_calls.append(1), settings=settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    yield win
    win.dispose()
