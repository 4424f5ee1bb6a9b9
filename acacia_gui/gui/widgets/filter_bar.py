"""FilterBar: state, queue and type filters and a search box above the job table.

In a narrow jobs pane (a sidebar shown by hand in an 800 px window) the search box and the
match count move to a second row, so the bar never asks for more width than its filters need.
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from ...core.registry import RegisteredHandler
from ..formatting import state_label
from ..icons import icon, state_icon
from ..models.job_filter import STATE_GROUPS, STATE_NAMES, JobFilter

SEARCH_DELAY_MS = 250
SEARCH_MIN_WIDTH = 120
GROUP_LABELS = {"active": "Active", "finished": "Finished", "problems": "Failed or interrupted"}
GROUP_TIPS = {"active": "Waiting, queued, scheduled or running", "finished": "Succeeded, failed, cancelled or interrupted",
              "problems": "Failed or interrupted"}  # fmt: skip


class FilterBar(QWidget):
    """Emits `filter_changed(JobFilter)`; typing in the search box is debounced."""

    filter_changed = Signal(object)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("filterBar")
        rows = QVBoxLayout(self)
        rows.setContentsMargins(0, 0, 0, 0)
        layout = self._first_row = QHBoxLayout()
        self._second_row = QHBoxLayout()
        rows.addLayout(self._first_row)
        rows.addLayout(self._second_row)
        self._wrapped = False
        self.state_box = self._combo("stateFilter", "State filter", "Show jobs in this state")
        self._state_choices: dict[str, tuple[str, ...]] = {"": ()}
        self.state_box.addItem("All states", "")
        for group, states in STATE_GROUPS.items():
            self._state_choices[group] = states
            self.state_box.addItem(GROUP_LABELS[group], group)
            self.state_box.setItemData(self.state_box.count() - 1, GROUP_TIPS[group], Qt.ItemDataRole.ToolTipRole)
        self.state_box.insertSeparator(self.state_box.count())
        for state in STATE_NAMES:
            self._state_choices[state] = (state,)
            self.state_box.addItem(state_icon(state), state_label(state), state)
        self.queue_box = self._combo("queueFilter", "Queue filter", "Show jobs of this queue")
        self.queue_box.addItem("All queues", "")
        self.type_box = self._combo("typeFilter", "Type filter", "Show jobs of this type")
        self.type_box.addItem("All types", "")
        self.search = QLineEdit(self)
        self.search.setObjectName("searchBox")
        self.search.setPlaceholderText("Search type, payload, error, id…")
        self.search.setClearButtonEnabled(True)
        self.search.setAccessibleName("Search jobs")
        self.search.addAction(icon("search", self.palette()), QLineEdit.ActionPosition.LeadingPosition)
        self.search.setMinimumWidth(SEARCH_MIN_WIDTH)
        self.count_label = QLabel(self)
        self.count_label.setObjectName("matchCount")
        self.count_label.setAccessibleName("Matching jobs")
        for text, widget in (("S&tate", self.state_box), ("&Queue", self.queue_box), ("T&ype", self.type_box),
                             ("&Search", self.search)):  # fmt: skip
            label = QLabel(text, self)
            label.setBuddy(widget)
            layout.addWidget(label)
            layout.addWidget(widget, 1 if widget is self.search else 0)
        self._search_label = label
        layout.addWidget(self.count_label)
        layout.insertStretch(layout.indexOf(self._search_label), 0)  # wrapped, the filters keep their width
        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(SEARCH_DELAY_MS)
        self._debounce.timeout.connect(self._emit)
        self.search.textChanged.connect(self._debounce.start)
        self.search.returnPressed.connect(self._emit)
        for box in (self.state_box, self.queue_box, self.type_box):
            box.currentIndexChanged.connect(self._emit)
        self._last = self.current_filter()
        self._fit()

    # -- one row, or two in a narrow pane ---------------------------------------------------
    def _row_width(self, widgets: list[QWidget]) -> int:
        spacing = max(0, self._first_row.spacing())
        return sum(max(w.minimumWidth(), w.minimumSizeHint().width()) for w in widgets) + spacing * (len(widgets) - 1)

    def _fit(self) -> None:
        """Search and count on the filters' row when they fit there, else on a second row. The bar's
        minimum is the wider of the two rows, never the sum (set explicitly: the layout's own would
        be the one-row width while the bar is on one row)."""
        moving = [self._search_label, self.search, self.count_label]
        items = [row.itemAt(i).widget() for row in (self._first_row, self._second_row) for i in range(row.count())]
        filters = [w for w in items if w is not None and w not in moving]
        wrapped_min = max(self._row_width(filters), self._row_width(moving))
        if self.minimumWidth() != wrapped_min:
            self.setMinimumWidth(wrapped_min)
        wrap = self.width() < self._row_width(filters + moving) + max(0, self._first_row.spacing())  # + the stretch
        if wrap == self._wrapped:
            return
        self._wrapped = wrap
        target = self._second_row if wrap else self._first_row
        for widget in moving:
            (self._first_row if wrap else self._second_row).removeWidget(widget)
            target.addWidget(widget, 1 if widget is self.search else 0)
        self.layout().activate()  # now, not on the next pass of the event loop: no frame with the old rows

    @property
    def wrapped(self) -> bool:
        return self._wrapped

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self._fit()

    def _combo(self, name: str, accessible: str, tip: str) -> QComboBox:
        box = QComboBox(self)
        box.setObjectName(name)
        box.setAccessibleName(accessible)
        box.setToolTip(tip)
        # Not AdjustToContents: a long handler title would widen the window's minimum (the popup shows it whole)
        box.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        box.setMinimumContentsLength(6)
        return box

    def current_filter(self) -> JobFilter:
        return JobFilter(
            states=self._state_choices.get(self.state_box.currentData() or "", ()),
            queue=self.queue_box.currentData() or None,
            type=self.type_box.currentData() or None,
            search=self.search.text(),
        )

    def set_filter(self, job_filter: JobFilter) -> None:
        """Show `job_filter` (restored settings, a click on a queue) and announce it once."""
        widgets = (self.state_box, self.queue_box, self.type_box, self.search)
        for widget in widgets:
            widget.blockSignals(True)
        try:
            keys = [key for key, states in self._state_choices.items() if states == tuple(job_filter.states)]
            self._select(self.state_box, keys[0] if keys else "")
            if job_filter.queue:
                self._ensure_item(self.queue_box, job_filter.queue, job_filter.queue)
            self._select(self.queue_box, job_filter.queue or "")
            if job_filter.type:
                self._ensure_item(self.type_box, job_filter.type, job_filter.type)
            self._select(self.type_box, job_filter.type or "")
            self.search.setText(job_filter.search)
        finally:
            for widget in widgets:
                widget.blockSignals(False)
        self._emit()

    def set_queues(self, names: Iterable[str]) -> None:
        """Keep the queue list in step with the database (the selection survives)."""
        wanted = sorted(set(names) | ({self.queue_box.currentData()} - {""}))
        present = [self.queue_box.itemData(i) for i in range(1, self.queue_box.count())]
        if present == wanted:
            return
        current = self.queue_box.currentData()
        self.queue_box.blockSignals(True)
        while self.queue_box.count() > 1:
            self.queue_box.removeItem(1)
        for name in wanted:
            self.queue_box.addItem(name, name)
        self._select(self.queue_box, current)
        self.queue_box.blockSignals(False)

    def set_handlers(self, handlers: Iterable[RegisteredHandler]) -> None:
        current = self.type_box.currentData()
        self.type_box.blockSignals(True)
        while self.type_box.count() > 1:
            self.type_box.removeItem(1)
        for handler in handlers:
            self.type_box.addItem(handler.title or handler.job_type, handler.job_type)
            self.type_box.setItemData(self.type_box.count() - 1, handler.job_type, Qt.ItemDataRole.ToolTipRole)
        if current:
            self._ensure_item(self.type_box, current, current)
        self._select(self.type_box, current)
        self.type_box.blockSignals(False)

    def set_count(self, shown: int, total: int | None) -> None:
        if total is None:
            self.count_label.setText(f"{shown:,} shown")
        else:
            self.count_label.setText(f"{total:,} job{'s' if total != 1 else ''}")
        self._fit()  # a longer count may no longer fit on the first row

    @staticmethod
    def _ensure_item(box: QComboBox, text: str, data: str) -> None:
        if box.findData(data) < 0:
            box.addItem(text, data)

    @staticmethod
    def _select(box: QComboBox, data: object) -> None:
        index = box.findData(data)
        box.setCurrentIndex(index if index >= 0 else 0)

    def _emit(self) -> None:
        self._debounce.stop()
        current = self.current_filter()
        if current != self._last:
            self._last = current
            self.filter_changed.emit(current)
