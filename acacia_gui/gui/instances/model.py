"""InstancesModel: one row per live instance (host:pid, started, last heartbeat, running jobs).

Rows are the dicts of store.instances.describe_instances (the read `acacia instances` makes):
id, host, pid, started_at, heartbeat_at, heartbeat_age, alive, running, this_process. Only
live ones are kept. A refresh updates rows in place by instance id, inserting and removing
rows as instances come and go, so the selection and scroll position survive the 2 s timer.
"""

from __future__ import annotations

from enum import IntEnum
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QFont, QGuiApplication, QPalette

from ..formatting import format_full_time, format_table_time

INSTANCE_ROLE = Qt.ItemDataRole.UserRole + 1  # the row's dict
SHOWN_JOB_IDS = 12  # ids written in the Jobs cell; the rest are counted ("… 40 more")

Index = QModelIndex | QPersistentModelIndex


class InstanceColumn(IntEnum):
    INSTANCE = 0
    STARTED = 1
    HEARTBEAT = 2
    RUNNING = 3
    JOBS = 4


HEADERS = {
    InstanceColumn.INSTANCE: "Instance",
    InstanceColumn.STARTED: "Started",
    InstanceColumn.HEARTBEAT: "Last heartbeat",
    InstanceColumn.RUNNING: "Running",
    InstanceColumn.JOBS: "Jobs",
}


def heartbeat_text(age: float | None) -> str:
    """'now', '2 s ago', '3 min ago', '2 h ago'; '?' when the instance never beat."""
    if age is None:
        return "?"
    seconds = int(max(0.0, age))
    if seconds < 1:
        return "now"
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    return f"{seconds // 3600} h ago"


def place(entry: dict[str, Any]) -> str:
    return f"{entry['host']}:{entry['pid']}"


def jobs_text(running: list[int]) -> str:
    shown = ", ".join(str(job_id) for job_id in running[:SHOWN_JOB_IDS])
    more = len(running) - SHOWN_JOB_IDS
    return f"{shown} … {more:,} more" if more > 0 else shown


class InstancesModel(QAbstractTableModel):
    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self.rows: list[dict[str, Any]] = []
        self._bold = QFont()
        self._bold.setBold(True)
        self._link = QFont()  # the job ids: clickable, so drawn as a link
        self._link.setUnderline(True)

    # -- Qt ---------------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self.rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(InstanceColumn)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation == Qt.Orientation.Horizontal and role == Qt.ItemDataRole.DisplayRole and 0 <= section < len(HEADERS):
            return HEADERS[InstanceColumn(section)]
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self.rows):
            return None
        entry = self.rows[index.row()]
        column = InstanceColumn(index.column())
        if role == INSTANCE_ROLE:
            return entry
        if role == Qt.ItemDataRole.DisplayRole:
            return self._display(entry, column)
        if role == Qt.ItemDataRole.ToolTipRole:
            return self._tooltip(entry, column)
        if role == Qt.ItemDataRole.FontRole and column == InstanceColumn.INSTANCE and entry.get("this_process"):
            return self._bold
        if role == Qt.ItemDataRole.FontRole and column == InstanceColumn.JOBS and entry["running"]:
            return self._link
        if role == Qt.ItemDataRole.ForegroundRole and column == InstanceColumn.JOBS and entry["running"]:
            return QGuiApplication.palette().color(QPalette.ColorRole.Link)
        if role == Qt.ItemDataRole.TextAlignmentRole and column == InstanceColumn.RUNNING:
            return int(Qt.AlignmentFlag.AlignCenter)
        return None

    @staticmethod
    def _display(entry: dict[str, Any], column: InstanceColumn) -> str:
        if column == InstanceColumn.INSTANCE:
            return place(entry) + ("  (this app)" if entry.get("this_process") else "")
        if column == InstanceColumn.STARTED:
            return format_table_time(entry.get("started_at"))
        if column == InstanceColumn.HEARTBEAT:
            return heartbeat_text(entry.get("heartbeat_age"))
        if column == InstanceColumn.RUNNING:
            return f"{len(entry['running']):,}"
        return jobs_text(entry["running"]) or "—"

    @staticmethod
    def _tooltip(entry: dict[str, Any], column: InstanceColumn) -> str:
        if column == InstanceColumn.INSTANCE:
            return f"Instance {entry['id']} on {entry['host']}, process {entry['pid']}"
        if column == InstanceColumn.STARTED:
            return format_full_time(entry.get("started_at"))
        if column == InstanceColumn.HEARTBEAT:
            return f"Last heartbeat {format_full_time(entry.get('heartbeat_at'))}"
        if column == InstanceColumn.JOBS and entry["running"]:
            return "Click to show a running job in the Jobs table"
        return ""

    # -- updates --------------------------------------------------------------------------------
    def set_instances(self, found: list[dict[str, Any]]) -> None:
        """The live entries of `found`, in its order (host, pid): rows updated in place by id."""
        live = [entry for entry in found if entry.get("alive")]
        wanted = {entry["id"] for entry in live}
        for row in reversed(range(len(self.rows))):  # gone: removed
            if self.rows[row]["id"] not in wanted:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self.rows[row]
                self.endRemoveRows()
        for position, entry in enumerate(live):
            current = next((row for row in range(position, len(self.rows)) if self.rows[row]["id"] == entry["id"]), None)
            if current is None:  # new: inserted where the listing puts it
                self.beginInsertRows(QModelIndex(), position, position)
                self.rows.insert(position, entry)
                self.endInsertRows()
                continue
            if current != position:
                self.beginMoveRows(QModelIndex(), current, current, QModelIndex(), position)
                self.rows.insert(position, self.rows.pop(current))
                self.endMoveRows()
            self.rows[position] = entry
            self.dataChanged.emit(self.index(position, 0), self.index(position, len(InstanceColumn) - 1))

    def entry(self, row: int) -> dict[str, Any] | None:
        return self.rows[row] if 0 <= row < len(self.rows) else None

    def running_total(self) -> int:
        return sum(len(entry["running"]) for entry in self.rows)
