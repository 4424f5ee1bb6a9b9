"""SchedulesView: the Schedules tab — every schedule with its next run, last run and result.

Live: a schedule event (added, edited, paused, fired…) or a state change of a job the table
shows as a last result asks for a re-read; requests are coalesced (one read per
RELOAD_DELAY_MS at most) and the read runs on the window's BackgroundReader, so a burst of
job events never costs the GUI thread a query. A one-second timer moves the "in 4 min" text.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QModelIndex, QPoint, QSize, Qt, QTimer, Signal, SignalInstance
from PySide6.QtGui import QKeySequence, QShortcut
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QLabel,
    QSizePolicy,
    QTableView,
    QToolBar,
    QVBoxLayout,
    QWidget,
)

from ...core.definitions import EventKind
from ...core.events import JobEvent
from ...core.queue import JobQueue
from ...core.registry import Registry
from ...core.schedules import Schedule
from ..background import BackgroundReader
from ..widgets.list_table import list_table
from .actions import ScheduleActions
from .cells import ScheduleColumn
from .model import SCHEDULE_ROLE, ScheduleTableModel

RELOAD_DELAY_MS = 100
ANNOUNCED_KEPT = 100  # recent jobs of schedule events whose state changes still re-read the table
# Fits an 800 px window (the sidebar hides itself there): the Rule column takes what is left.
DEFAULT_WIDTHS = {
    ScheduleColumn.NAME: 124,
    ScheduleColumn.TYPE: 96,
    ScheduleColumn.NEXT: 150,
    ScheduleColumn.LAST: 80,
    ScheduleColumn.RESULT: 104,
    ScheduleColumn.STATUS: 80,
}
EMPTY_TEXT = ("No schedules yet. Add one to enqueue a job at fixed times — every 10 minutes, or at 03:00 "
              "every day — or use `acacia schedule add`.")  # fmt: skip


class SchedulesView(QWidget):
    """The page; `message(str)` for the status bar, `job_activated(job_id)` to show a last job."""

    message = Signal(str)
    job_activated = Signal(int)

    def __init__(self, queue: JobQueue, registry: Registry, events: SignalInstance, reader: BackgroundReader,
                 queue_names: Callable[[], list[str]], parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("schedulesView")
        self.setAccessibleName("Schedules")
        self._queue = queue
        self._reader = reader
        self._registry = registry
        self.model = ScheduleTableModel(self._titles, self)
        self.table = self._build_table()
        self.actions = ScheduleActions(queue, self, self.selected_schedules, self.current_schedule, queue_names)
        self.actions.message.connect(self.message)
        self.actions.changed.connect(self.reload)
        self.table.addAction(self.actions.remove)  # Delete removes while the table has focus
        layout = QVBoxLayout(self)
        layout.setContentsMargins(4, 4, 4, 0)
        layout.addLayout(self._build_buttons())
        self.empty_label = QLabel(EMPTY_TEXT, self)
        self.empty_label.setObjectName("schedulesEmpty")
        self.empty_label.setWordWrap(True)
        self.empty_label.setEnabled(False)  # greyed: a hint
        layout.addWidget(self.empty_label)
        layout.addWidget(self.table, 1)
        self._announced: set[int] = set()  # jobs schedule events announced (bounded: ANNOUNCED_KEPT)
        self._reload_timer = QTimer(self)
        self._reload_timer.setSingleShot(True)
        self._reload_timer.setInterval(RELOAD_DELAY_MS)
        self._reload_timer.timeout.connect(self.reload)
        self._tick = QTimer(self)
        self._tick.setInterval(1000)
        self._tick.timeout.connect(self._on_tick)
        self._tick.start()
        self._events = events
        events.connect(self.on_event)
        self.model.modelReset.connect(self._after_change)
        self.model.rowsInserted.connect(self._after_change)
        self.model.rowsRemoved.connect(self._after_change)
        self.model.dataChanged.connect(self._on_data_changed)
        self.table.selectionModel().selectionChanged.connect(self.actions.update_enabled)
        self.table.selectionModel().currentRowChanged.connect(self.actions.update_enabled)
        self._after_change()
        self.reload()

    # -- building ---------------------------------------------------------------------------------
    def _build_table(self) -> QTableView:
        table = list_table(self, self.model, name="scheduleTable", accessible_name="Schedules", widths=DEFAULT_WIDTHS,
                           stretch=ScheduleColumn.RULE, selection=QAbstractItemView.SelectionMode.ExtendedSelection)
        table.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        table.doubleClicked.connect(self._on_double_click)
        for key in (Qt.Key.Key_Return, Qt.Key.Key_Enter):  # Enter: as a double-click on the current cell
            enter = QShortcut(QKeySequence(key), table, context=Qt.ShortcutContext.WidgetShortcut)
            enter.activated.connect(lambda: self._on_double_click(table.currentIndex()))
        table.customContextMenuRequested.connect(self._context_menu)
        return table

    def _build_buttons(self) -> QHBoxLayout:
        """The actions as a tool bar: in a narrow window the last ones fold into its » menu,
        so the page never sets the window's minimum width (the window works at 800 px)."""
        row = QHBoxLayout()
        self.toolbar = QToolBar("Schedule actions", self)
        self.toolbar.setObjectName("scheduleToolbar")
        self.toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.toolbar.setIconSize(QSize(16, 16))
        self.buttons: dict[str, QWidget] = {}
        for action in self.actions.all:
            self.toolbar.addAction(action)
            self.buttons[action.objectName()] = self.toolbar.widgetForAction(action)
            if action is self.actions.edit or action is self.actions.run_now:
                self.toolbar.addSeparator()
        row.addWidget(self.toolbar, 1)
        self.count_label = QLabel(self)
        self.count_label.setObjectName("scheduleCount")
        self.count_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Preferred)
        self.count_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        row.addWidget(self.count_label, 0)
        return row

    # -- reading ---------------------------------------------------------------------------------
    def _titles(self) -> dict[str, str]:
        return {h.job_type: h.title or h.job_type for h in self._registry}

    def reload(self) -> None:
        """Re-read every schedule (in the background; the table applies only what changed)."""
        self._reload_timer.stop()
        self._reader.submit("schedules", self._queue.list_schedules, self.model.set_schedules)

    def reload_soon(self) -> None:
        if not self._reload_timer.isActive():
            self._reload_timer.start()

    def on_event(self, event: JobEvent) -> None:
        """Which events change what the table shows: schedules', and the state of a last job."""
        kind = event.kind
        if kind in (EventKind.SCHEDULE, EventKind.EXTERNAL_CHANGE):
            # Its jobs may end before the re-read that makes them last jobs lands: remember them.
            self._announced = {*list(self._announced)[-ANNOUNCED_KEPT:], *(event.data.get("job_ids") or ())}
            self.reload_soon()
        elif kind in (EventKind.STATE, EventKind.DELETED):
            ids = {event.job_id} if event.job_id is not None else set(event.data.get("ids") or ())
            if ids & (self.model.last_job_ids() | self._announced):
                self.reload_soon()

    def refresh_titles(self) -> None:
        self.model.refresh_titles()

    # -- selection ---------------------------------------------------------------------------------
    def selected_schedules(self) -> list[Schedule]:
        rows = sorted(index.row() for index in self.table.selectionModel().selectedRows())
        return [s for s in (self.model.schedule_at(row) for row in rows) if s is not None]

    def current_schedule(self) -> Schedule | None:
        """The schedule Edit opens: the current row, if it is selected."""
        index = self.table.currentIndex()
        if not index.isValid() or not self.table.selectionModel().isRowSelected(index.row(), QModelIndex()):
            return None
        return self.model.schedule_at(index.row())

    def select(self, name: str) -> bool:
        row = self.model.row_of(name)
        if row >= 0:
            self.table.selectRow(row)
        return row >= 0

    # -- reacting -----------------------------------------------------------------------------------
    def _after_change(self, *_args: Any) -> None:
        """Rows came or went: the count, the empty-table hint, a selection for the actions to act on."""
        count = self.model.rowCount()
        self.empty_label.setVisible(count == 0)
        if count and not self.table.selectionModel().hasSelection():
            self.table.selectRow(0)
        self._on_data_changed()

    def _on_data_changed(self, *_args: Any) -> None:
        count = self.model.rowCount()
        paused = sum(1 for s in self.model.schedules() if s.paused)
        self.count_label.setText(f"{count:,} schedule{'s' if count != 1 else ''}" + (f", {paused:,} paused" if paused
                                                                                       else ""))  # fmt: skip
        self.actions.update_enabled()

    def _on_tick(self) -> None:
        if self.isVisible():
            self.model.tick()

    def _on_double_click(self, index: QModelIndex) -> None:
        """On the last result: show that job in the Jobs tab; elsewhere: edit the schedule."""
        schedule = index.data(SCHEDULE_ROLE) if index.isValid() else None
        if index.column() == ScheduleColumn.RESULT and schedule is not None and schedule.last_job_id is not None:
            self.job_activated.emit(schedule.last_job_id)
        else:
            self.actions.open_edit()

    def _context_menu(self, pos: QPoint) -> None:
        menu = self.actions.context_menu(self.table)
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        menu.popup(self.table.viewport().mapToGlobal(pos))

    def stop(self) -> None:
        """The window is going: no more timers or reads."""
        self._tick.stop()
        self._reload_timer.stop()
        try:
            self._events.disconnect(self.on_event)
        except (RuntimeError, TypeError):
            pass
