"""InstancesView: the Instances tab — every live app instance on this database.

The same read as `acacia instances` (store/instances.describe_instances: on PostgreSQL every
machine's instances, alive by their advisory lock and heartbeat lease; on SQLite this machine's,
alive by their lock file), made on the window's BackgroundReader every REFRESH_MS while the tab
is shown, so the GUI thread never waits on the database. Clicking a Jobs cell shows that
running job in the Jobs table (a menu picks one when the instance runs several).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import QModelIndex, QPoint, Qt, QTimer, Signal
from PySide6.QtGui import QShowEvent
from PySide6.QtWidgets import QLabel, QMenu, QTableView, QVBoxLayout, QWidget

from ...store.instances import describe_instances
from ..background import BackgroundReader
from ..widgets.list_table import list_table
from .model import InstanceColumn, InstancesModel, place

REFRESH_MS = 2000
MENU_JOBS = 30  # job ids offered in the click menu of a busy instance
DEFAULT_WIDTHS = {InstanceColumn.INSTANCE: 220, InstanceColumn.STARTED: 110, InstanceColumn.HEARTBEAT: 110,
                  InstanceColumn.RUNNING: 70}  # fmt: skip


class InstancesView(QWidget):
    """`job_activated(job_id)`: the user asked to see a running job in the Jobs table."""

    job_activated = Signal(int)
    refreshed = Signal()  # after each read was shown (tests wait on it)

    def __init__(self, store: Any, instances_dir: Path, reader: BackgroundReader, database: str = "",
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("instancesView")
        self.setAccessibleName("Instances")
        self._store = store
        self._instances_dir = instances_dir
        self._reader = reader
        self._database = database
        self._read_once = False
        self.model = InstancesModel(self)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 0)
        self.summary = QLabel("Reading the instances…", self)
        self.summary.setObjectName("instancesSummary")
        self.summary.setWordWrap(True)
        self.summary.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.summary.setToolTip(f"Read again every {REFRESH_MS // 1000} s while this tab is shown. An instance is "
                                "live while it holds its lock (PostgreSQL: and beats within the lease).")  # fmt: skip
        layout.addWidget(self.summary)
        self.table = self._build_table()
        layout.addWidget(self.table, 1)
        self._timer = QTimer(self)
        self._timer.setInterval(REFRESH_MS)
        self._timer.timeout.connect(self._on_timer)
        self._timer.start()

    def _build_table(self) -> QTableView:
        table = list_table(self, self.model, name="instancesTable", accessible_name="Live instances",
                           widths=DEFAULT_WIDTHS, stretch=InstanceColumn.JOBS)
        table.clicked.connect(self._on_click)
        table.activated.connect(self._on_click)  # Enter on a row: as a click
        return table

    # -- reading --------------------------------------------------------------------------------
    def refresh(self) -> None:
        """Ask for a read now (coalesced with one not yet started)."""
        store, folder = self._store, self._instances_dir
        self._reader.submit("instances", lambda: describe_instances(store, folder), self._show)

    def _on_timer(self) -> None:
        if self.isVisible():  # a hidden tab costs the database nothing
            self.refresh()

    def showEvent(self, event: QShowEvent) -> None:
        super().showEvent(event)
        self.refresh()

    def _show(self, found: list[dict[str, Any]] | None) -> None:
        if found is None:
            return
        self._read_once = True
        self.model.set_instances(found)
        count, running = self.model.rowCount(), self.model.running_total()
        where = f" on {self._database}" if self._database else ""
        self.summary.setText(f"{count} live instance{'s' if count != 1 else ''}{where} · "
                             f"{running:,} job{'s' if running != 1 else ''} running" if count else
                             f"No live instance{where}.")  # fmt: skip
        self.refreshed.emit()

    def stop(self) -> None:
        self._timer.stop()

    # -- showing a job --------------------------------------------------------------------------
    def _on_click(self, index: QModelIndex) -> None:
        entry = self.model.entry(index.row()) if index.isValid() else None
        if entry is None or index.column() != InstanceColumn.JOBS or not entry["running"]:
            return
        jobs = entry["running"]
        if len(jobs) == 1:
            self.job_activated.emit(jobs[0])
            return
        menu = QMenu(self)
        menu.setObjectName("instanceJobsMenu")
        menu.setTitle(f"Running on {place(entry)}")
        for job_id in jobs[:MENU_JOBS]:
            menu.addAction(f"Show job {job_id}", lambda job_id=job_id: self.job_activated.emit(job_id))
        if len(jobs) > MENU_JOBS:
            more = menu.addAction(f"… {len(jobs) - MENU_JOBS:,} more")
            more.setEnabled(False)
        rect = self.table.visualRect(index)
        menu.popup(self.table.viewport().mapToGlobal(QPoint(rect.left(), rect.bottom())))
        self.jobs_menu = menu
