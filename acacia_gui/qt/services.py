"""AppServices: the running app's parts, wired once by app.py and handed to the window and server."""

from __future__ import annotations

import logging
import time

from PySide6.QtCore import QObject, Signal

from ..config import Config
from ..core.events import EventBus
from ..core.queue import JobQueue
from ..core.registry import Registry
from ..engine.pruner import Pruner
from ..plugins.loader import LoadReport, load_plugins
from ..store.sqlite import SqliteJobStore
from .bridge import EventBridge
from .worker import PoolWorker

log = logging.getLogger(__name__)


class AppServices(QObject):
    """Holds the parts app.py made; creates only the EventBridge (events to the main thread) and
    refreshes the plugin report on reload."""

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
        self.pruner: Pruner | None = None  # retention (engine/pruner.py), started by app.py
        self.keep_finished_flag = False  # --keep-finished/$ACACIA_KEEP_FINISHED set this run's policy: Settings yields

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
        self.worker.plugins_reloaded()  # worker processes are replaced, so new jobs run the new code
        return report

    def raise_window(self) -> None:
        self.raise_requested.emit()
