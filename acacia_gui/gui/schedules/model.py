"""ScheduleTableModel: the stored schedules as table rows, sorted by name.

`set_schedules` takes a fresh list (one `list_schedules` read: at most MAX_SCHEDULES rows)
and applies only the difference — rows removed, inserted and changed — so the selection
and the scroll position survive every live update. `tick()` repaints the "in 4 min" column.
"""

from __future__ import annotations

import bisect
import time
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QAbstractTableModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QGuiApplication, QPalette

from ..icons import icon, state_icon
from .cells import COLUMN_TIPS, ScheduleColumn, cell_text, cell_tooltip

Index = QModelIndex | QPersistentModelIndex
SCHEDULE_ROLE = Qt.ItemDataRole.UserRole + 1  # the Schedule of a row
JOB_ID_ROLE = Qt.ItemDataRole.UserRole + 2  # the last job's id (the Last result column)
STATE_ROLE = Qt.ItemDataRole.UserRole + 3  # the last job's state


class ScheduleTableModel(QAbstractTableModel):
    """Rows of `Schedule`s (core.schedules); `titles()` maps job types to handler titles."""

    def __init__(self, titles: Callable[[], dict[str, str]] = dict, parent: Any = None) -> None:
        super().__init__(parent)
        self._rows: list[Any] = []
        self._names: list[str] = []
        self._titles = titles
        self._title_cache: dict[str, str] = titles()
        self.clock: Callable[[], float] = time.time

    # -- Qt model ------------------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 (Qt's signature)
        return 0 if parent.isValid() else len(self._rows)

    def columnCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008
        return 0 if parent.isValid() else len(ScheduleColumn)

    def headerData(self, section: int, orientation: Qt.Orientation, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if orientation != Qt.Orientation.Horizontal or not 0 <= section < len(ScheduleColumn):
            return None
        column = ScheduleColumn(section)
        if role == Qt.ItemDataRole.DisplayRole:
            return column.title
        if role == Qt.ItemDataRole.ToolTipRole:
            return COLUMN_TIPS.get(column, column.title)
        return None

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._rows):
            return None
        schedule, column = self._rows[index.row()], ScheduleColumn(index.column())
        if role in (Qt.ItemDataRole.DisplayRole, Qt.ItemDataRole.AccessibleTextRole):
            return cell_text(schedule, column, self.clock(), self._title_cache)
        if role == Qt.ItemDataRole.ToolTipRole:
            return cell_tooltip(schedule, column, self._title_cache)
        if role == Qt.ItemDataRole.ForegroundRole and schedule.paused and column is not ScheduleColumn.STATUS:
            return QGuiApplication.palette().brush(QPalette.ColorGroup.Disabled, QPalette.ColorRole.Text)  # greyed
        if role == Qt.ItemDataRole.DecorationRole:
            if column is ScheduleColumn.RESULT and schedule.last_state:
                return state_icon(schedule.last_state)  # the job table's state colours
            if column is ScheduleColumn.STATUS and schedule.paused:
                return icon("pause", QGuiApplication.palette())  # cached per colour: follows a theme switch
            return None
        if role == SCHEDULE_ROLE:
            return schedule
        if role == JOB_ID_ROLE:
            return schedule.last_job_id
        if role == STATE_ROLE:
            return schedule.last_state
        return None

    # -- reading -----------------------------------------------------------------------------
    def schedule_at(self, row: int) -> Any | None:
        return self._rows[row] if 0 <= row < len(self._rows) else None

    def row_of(self, name: str) -> int:
        at = bisect.bisect_left(self._names, name)
        return at if at < len(self._names) and self._names[at] == name else -1

    def schedules(self) -> list[Any]:
        return list(self._rows)

    def last_job_ids(self) -> set[int]:
        """The jobs whose state the table shows: a state event for one of them means a re-read."""
        return {s.last_job_id for s in self._rows if s.last_job_id is not None}

    # -- updating ------------------------------------------------------------------------------
    def set_schedules(self, schedules: list[Any] | None) -> None:
        """Show `schedules` (None: a failed read, keep what is shown), changing only what differs."""
        if schedules is None:
            return
        fresh = {s.name: s for s in schedules}
        for row in reversed(range(len(self._rows))):
            if self._names[row] not in fresh:
                self.beginRemoveRows(QModelIndex(), row, row)
                del self._rows[row], self._names[row]
                self.endRemoveRows()
        last = len(ScheduleColumn) - 1
        for row, old in enumerate(self._rows):
            new = fresh.pop(old.name)
            if new != old:
                self._rows[row] = new
                self.dataChanged.emit(self.index(row, 0), self.index(row, last))
        for name in sorted(fresh):
            row = bisect.bisect_left(self._names, name)
            self.beginInsertRows(QModelIndex(), row, row)
            self._rows.insert(row, fresh[name])
            self._names.insert(row, name)
            self.endInsertRows()

    def refresh_titles(self) -> None:
        """Plugins were reloaded: the Type column shows the new handler titles."""
        self._title_cache = self._titles()
        if self._rows:
            self.dataChanged.emit(self.index(0, ScheduleColumn.TYPE), self.index(len(self._rows) - 1, ScheduleColumn.TYPE))

    def tick(self) -> None:
        """Once a second: the relative times ("in 4 min") move on."""
        if self._rows:
            last = len(self._rows) - 1
            self.dataChanged.emit(self.index(0, ScheduleColumn.NEXT), self.index(last, ScheduleColumn.LAST),
                                  [Qt.ItemDataRole.DisplayRole])  # fmt: skip
