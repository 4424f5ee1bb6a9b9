"""JobTableView: the job table — rows, painted progress and cancel buttons, a steady scroll position.

Live inserts above the viewport would push what the user is reading down the screen;
`preserving_scroll` keeps the top visible job in place unless the view sits at the very
top (then new jobs simply appear, like a feed).
"""

from __future__ import annotations

from collections.abc import Callable

from PySide6.QtCore import QItemSelection, QItemSelectionModel, Qt
from PySide6.QtGui import QResizeEvent
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget

from ..delegates.cancel_delegate import CancelButtonDelegate
from ..delegates.progress_delegate import ProgressDelegate
from ..icons import icon
from ..models.columns import JobColumn, JobRole
from ..models.job_table_model import JobTableModel
from .column_chooser import ColumnChooser

MAX_KEPT_SELECTION = 5000  # selected jobs re-selected after a re-sort
MAX_FETCHED_TO_RESTORE = 5000  # rows read to find the shown job again in the new order
# At the default window size (1280 x 800, sidebar shown: a ~1000 px viewport) every column fits,
# the cancel buttons included, and Progress gets the rest (~255 px; tests/gui/test_window_size.py).
DEFAULT_WIDTHS = {
    JobColumn.ID: 56,
    JobColumn.TYPE: 140,
    JobColumn.QUEUE: 80,
    JobColumn.STATE: 108,
    JobColumn.PROGRESS: 240,
    JobColumn.ATTEMPTS: 70,
    JobColumn.CREATED: 92,
    JobColumn.STARTED: 92,
    JobColumn.DURATION: 75,
    JobColumn.CANCEL: 34,
}
PROGRESS_MIN_WIDTH = 230  # Progress takes the spare width but never less: the other columns scroll first


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
        self._kept_selection: tuple[int | None, list[int]] = (None, [])  # (shown job, selected jobs) over a reset

    def set_job_model(self, model: JobTableModel) -> None:
        self.setModel(model)
        header = self.horizontalHeader()
        for column, width in DEFAULT_WIDTHS.items():
            self.setColumnWidth(column, width)
        self.apply_resize_modes()
        header.setMinimumSectionSize(30)
        self.column_chooser = ColumnChooser(header)  # right-click the header: show or hide columns
        header.sectionResized.connect(self._on_section_resized)
        header.setSortIndicator(model.sort_column, model.sort_order)
        self.setSortingEnabled(True)
        model.sort_changed.connect(self._show_sort)
        model.modelAboutToBeReset.connect(self._remember_selection)
        model.reloaded.connect(self._restore_selection)  # after the reset, when fetching is allowed again

    def apply_resize_modes(self) -> None:
        """Every column can be resized by the user (also after restoring an older header state,
        which may carry a stretching Progress column). Progress takes the spare width itself
        (`fit_progress`) until the user sizes it by hand."""
        header = self.horizontalHeader()
        header.setStretchLastSection(False)
        header.setSectionResizeMode(QHeaderView.ResizeMode.Interactive)
        self._progress_sized_by_user = False
        self.fit_progress()

    def fit_progress(self) -> None:
        """Give Progress the width the other columns leave, at least PROGRESS_MIN_WIDTH."""
        if getattr(self, "_progress_sized_by_user", True) or self.model() is None:
            return
        header = self.horizontalHeader()
        others = sum(header.sectionSize(c) for c in range(header.count())
                     if c != JobColumn.PROGRESS and not header.isSectionHidden(c))  # fmt: skip
        width = max(PROGRESS_MIN_WIDTH, self.viewport().width() - others)
        if header.sectionSize(JobColumn.PROGRESS) != width:
            self._fitting = True
            try:
                header.resizeSection(JobColumn.PROGRESS, width)
            finally:
                self._fitting = False

    def _on_section_resized(self, section: int, _old: int, _new: int) -> None:
        if getattr(self, "_fitting", False):
            return
        if section == JobColumn.PROGRESS:
            self._progress_sized_by_user = True  # the user's width wins from now on
        else:
            self.fit_progress()

    def resizeEvent(self, event: QResizeEvent) -> None:
        super().resizeEvent(event)
        self.fit_progress()

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

    def shown_job_id(self) -> int | None:
        """The job the details pane shows: the current row if it is selected, else the first selected row.

        Driven by the selection only, so the pane never shows a job the actions do not apply to.
        """
        selection = self.selectionModel()
        if selection is None:
            return None
        current = self.currentIndex()
        if current.isValid() and selection.isRowSelected(current.row()):
            return current.data(JobRole.JOB_ID)
        ids = self.selected_job_ids()
        return ids[0] if ids else None

    def ensure_selection(self) -> None:
        """Nothing selected but a current row (start-up, the selected rows went away): select it.

        Qt moves the current index to a neighbour without selecting it; the pane and the
        actions would then disagree about which job the user is on.
        """
        selection = self.selectionModel()
        current = self.currentIndex()
        if selection is None or not current.isValid() or selection.hasSelection():
            return
        flags = QItemSelectionModel.SelectionFlag.Select | QItemSelectionModel.SelectionFlag.Rows
        selection.select(current, flags)

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

    # -- the selection across a re-sort (or a refresh) -----------------------------------------
    def _remember_selection(self) -> None:
        selection = self.selectionModel()
        ids = self.selected_job_ids() if selection is not None and selection.hasSelection() else []
        self._kept_selection = (self.shown_job_id(), ids[:MAX_KEPT_SELECTION])

    def _restore_selection(self) -> None:
        """Select the same jobs again in the new order; the shown one is fetched (a few pages at most)."""
        current, ids = self._kept_selection
        self._kept_selection = (None, [])
        if current is None and not ids:
            return
        model = self.job_model()
        while current is not None and model.row_of(current) < 0 and model.canFetchMore() \
                and model.rowCount() < MAX_FETCHED_TO_RESTORE:  # fmt: skip
            model.fetchMore()
        selection = QItemSelection()
        for job_id in ids:
            row = model.row_of(job_id)
            if row >= 0:
                selection.select(model.index(row, 0), model.index(row, model.columnCount() - 1))
        flags = QItemSelectionModel.SelectionFlag.ClearAndSelect | QItemSelectionModel.SelectionFlag.Rows
        self.selectionModel().select(selection, flags)
        row = model.row_of(current) if current is not None else -1
        if row >= 0:
            index = model.index(row, JobColumn.ID)
            self.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.NoUpdate)
            self.scrollTo(index)

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
