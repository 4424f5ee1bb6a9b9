"""JobTableView: the job table — rows, painted progress and cancel buttons, a steady scroll position.

Live inserts above the viewport would push what the user is reading down the screen;
`preserving_scroll` keeps the top visible job in place unless the view sits at the very
top (then new jobs simply appear, like a feed).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QItemSelectionModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from ..delegates.cancel_delegate import CancelButtonDelegate
from ..delegates.progress_delegate import ProgressDelegate
from ..icons import icon
from ..models.columns import JobColumn, JobRole
from ..models.job_table_model import JobTableModel

DEFAULT_WIDTHS = {
    JobColumn.ID: 70,
    JobColumn.TYPE: 170,
    JobColumn.QUEUE: 90,
    JobColumn.STATE: 120,
    JobColumn.PROGRESS: 240,
    JobColumn.ATTEMPTS: 75,
    JobColumn.CREATED: 95,
    JobColumn.STARTED: 95,
    JobColumn.DURATION: 90,
    JobColumn.CANCEL: 34,
}


class JobTableView(QTableView):
    """A QTableView configured for the JobTableModel (set with `set_job_model`)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("jobTable")
        self.setAccessibleName("Jobs")
        self.setAccessibleDescription("The jobs matching the filters; newest first unless sorted otherwise")
        self.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setAlternatingRowColors(True)
        self.setShowGrid(False)
        self.setWordWrap(False)
        self.setMouseTracking(True)  # hover state for the painted cancel buttons
        self.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        self.setTabKeyNavigation(False)  # Tab leaves the table: keyboard users reach the next pane
        self.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.verticalHeader().setVisible(False)
        self.verticalHeader().setDefaultSectionSize(self.fontMetrics().height() + 12)
        self.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        header = self.horizontalHeader()
        header.setHighlightSections(False)
        header.setSectionsMovable(True)
        header.setStretchLastSection(False)
        header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
        self.progress_delegate = ProgressDelegate(self)
        self.cancel_delegate = CancelButtonDelegate(icon("cancel", self.palette()), self)
        self.setItemDelegateForColumn(JobColumn.PROGRESS, self.progress_delegate)
        self.setItemDelegateForColumn(JobColumn.CANCEL, self.cancel_delegate)

    def set_job_model(self, model: JobTableModel) -> None:
        self.setModel(model)
        header = self.horizontalHeader()
        for column, width in DEFAULT_WIDTHS.items():
            self.setColumnWidth(column, width)
        header.setSectionResizeMode(JobColumn.CANCEL, QHeaderView.ResizeMode.Fixed)
        header.setSectionResizeMode(JobColumn.PROGRESS, QHeaderView.ResizeMode.Stretch)  # takes the spare width
        header.setMinimumSectionSize(30)
        header.setSortIndicator(model.sort_column, model.sort_order)
        self.setSortingEnabled(True)
        model.sort_changed.connect(self._show_sort)

    def job_model(self) -> JobTableModel:
        return self.model()  # type: ignore[return-value]

    def _show_sort(self, column: int, order: Qt.SortOrder) -> None:
        header = self.horizontalHeader()
        if header.sortIndicatorSection() != column or header.sortIndicatorOrder() != order:
            header.blockSignals(True)
            header.setSortIndicator(column, order)
            header.blockSignals(False)
            header.viewport().update()

    def refresh_icons(self) -> None:
        self.cancel_delegate.set_icon(icon("cancel", self.palette()))
        self.viewport().update()

    # -- selection --------------------------------------------------------------------
    def selected_job_ids(self) -> list[int]:
        rows = self.job_model().rows_for(self.selectionModel().selectedRows())
        return [row.id for row in rows]

    def current_job_id(self) -> int | None:
        index = self.currentIndex()
        return index.data(JobRole.JOB_ID) if index.isValid() else None

    def select_job(self, job_id: int) -> bool:
        """Make `job_id` the current, only selected row (fetching pages until it is loaded)."""
        model = self.job_model()
        row = model.row_of(job_id)
        while row < 0 and model.canFetchMore():
            model.fetchMore()
            row = model.row_of(job_id)
        if row < 0:
            return False
        index = model.index(row, JobColumn.ID)
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.selectionModel().setCurrentIndex(index, flags)
        self.scrollTo(index)
        return True

    # -- a steady viewport ---------------------------------------------------------------
    def visible_rows(self) -> tuple[int, int]:
        """(first, last) row in view, from the scroll bar (rows have one fixed height).

        rowAt() asks the vertical header, whose layout is updated lazily after inserts,
        so during a burst of live updates it can be far off; the scroll bar is not.
        """
        height = max(1, self.verticalHeader().defaultSectionSize())
        value = self.verticalScrollBar().value()
        first = value if self._per_item else value // height
        return first, first + self.viewport().height() // height + 1

    @property
    def _per_item(self) -> bool:
        return self.verticalScrollMode() == QAbstractItemView.ScrollMode.ScrollPerItem

    def preserving_scroll(self, change: Callable[[], None]) -> None:
        """Run `change` (a live update) and keep the top visible job where it was on screen."""
        bar = self.verticalScrollBar()
        model = self.job_model()
        top_row, _ = self.visible_rows()
        anchor = model.job_at(top_row) if bar.value() > 0 else None
        change()
        if anchor is None:
            return
        row = model.row_of(anchor.id)
        if row < 0 or row == top_row:
            return
        self.updateGeometries()
        height = max(1, self.verticalHeader().defaultSectionSize())
        bar.setValue(row if self._per_item else row * height + bar.value() % height)

    def trim_model(self, max_held: int) -> None:
        """Drop loaded rows far below the view and the selection (they are re-read on scroll)."""
        model = self.job_model()
        last_selected = max((index.row() for index in self.selectionModel().selectedRows()), default=0)
        keep = max(max_held, self.visible_rows()[1] + 2 * model.page_size, last_selected + 2 * model.page_size)
        if model.rowCount() <= keep + model.page_size:
            return
        current = self.currentIndex()
        if current.isValid() and current.row() >= keep:
            # Not selected (else it would be kept), it only drifted down as jobs arrived; letting the
            # view move it when its row goes would also scroll there.
            self.selectionModel().clearCurrentIndex()
        model.trim(keep)
