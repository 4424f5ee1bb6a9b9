"""AppServices: the running app's parts, wired once by app.py and handed to the window and server."""

from __future__ import annotations

import logging
import time
from typing import Any

from PySide6.QtCore import QObject, Signal

from ..config import Config
from ..core.events import EventBus
from ..core.queue import JobQueue
from ..core.registry import Registry
from ..plugins.loader import LoadReport, load_plugins
from ..store.sqlite import SqliteJobStore
from .bridge import EventBridge
from .worker import PoolWorker

log = logging.getLogger(__name__)


class AppServices(QObject):
    """Owns nothing it did not get from app.py, except the plugin report it refreshes."""

    plugins_reloaded = Signal(object)  # LoadReport
    raise_requested = Signal()

    def __init__(self, config: Config, store: SqliteJobStore, registry: Registry, queue: JobQueue,
                 worker: PoolWorker, plugin_report: LoadReport, *, headless: bool = True,
                 parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.headless = headless
        self.config = config
        self.store = store
        self.registry = registry
        self.queue = queue
        self.worker = worker
        self.plugin_report = plugin_report
        self.bridge = EventBridge(queue.bus, self)
        self.started_at = time.time()

    @property
    def bus(self) -> EventBus:
        return self.queue.bus

    def reload_plugins(self) -> LoadReport:
        """Re-scan the plugin folder; running jobs keep the handler they started with."""
        report = load_plugins(self.config.plugins_dir)
        self.registry.replace_all(report.handlers)
        self.plugin_report = report
        log.info("plugins reloaded: %d handler(s), %d problem(s)", len(report.handlers), len(report.problems))
        self.plugins_reloaded.emit(report)
        self.worker.wake()
        return report

    def raise_window(self) -> None:
        self.raise_requested.emit()

    def stats(self) -> dict[str, Any]:
        now = time.time()
        return {
            "counts": self.store.counts_by_state(),
            "finished_last_minute": self.store.finished_since(now - 60),
            "running_here": len(self.worker.running_job_ids()),
            "concurrency": self.worker.concurrency,
            "queues": [q.to_dict() for q in self.store.list_queues()],
            "uptime": now - self.started_at,
        }
