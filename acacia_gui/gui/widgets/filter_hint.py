"""FilterHint: says why the job table is empty when a filter hides every job, with a way out.

A filter is remembered between runs, so the window can open onto an empty table; without
a word the user thinks their jobs are gone. The hint sits over the table's viewport and
shows only while the table has no rows and the filter is not empty. `hidden_enqueued_message`
says the same for jobs that arrive while the filter hides them (the window shows it in the
status bar).
"""

from __future__ import annotations

from collections.abc import Iterable

from PySide6.QtCore import QEvent, QObject, Qt, Signal
from PySide6.QtWidgets import QLabel, QTableView

from ...store.sqlite import SqliteJobStore
from ..models.job_filter import JobFilter
from ..models.job_table_model import JobTableModel

HINT_TEXT = 'No jobs match the filter — <a href="clear">clear the filter</a>'
MAX_CHECKED = 200  # new jobs checked against the filter per batch (the newest)


class FilterHint(QLabel):
    """An overlay on `view`'s viewport; emits `clear_requested` when its link is clicked."""

    clear_requested = Signal()

    def __init__(self, view: QTableView, model: JobTableModel) -> None:
        super().__init__(HINT_TEXT, view.viewport())
        self.setObjectName("filterHint")
        self.setAccessibleName("No jobs match the filter")
        self.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.setTextFormat(Qt.TextFormat.RichText)
        self.setTextInteractionFlags(Qt.TextInteractionFlag.LinksAccessibleByMouse
                                     | Qt.TextInteractionFlag.LinksAccessibleByKeyboard)  # fmt: skip
        self.setWordWrap(True)
        self.linkActivated.connect(lambda _link: self.clear_requested.emit())
        self._view = view
        self._model = model
        view.viewport().installEventFilter(self)
        for signal in (model.modelReset, model.rowsInserted, model.rowsRemoved, model.layoutChanged):
            signal.connect(self.update_shown)
        self.update_shown()

    def update_shown(self, *_args: object) -> None:
        wanted = self._model.rowCount() == 0 and not self._model.job_filter.is_empty
        if wanted:
            self.setGeometry(self._view.viewport().rect().adjusted(8, 8, -8, -8))
        self.setVisible(wanted)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize and self.isVisible():
            self.setGeometry(self._view.viewport().rect().adjusted(8, 8, -8, -8))
        return False


def hidden_enqueued_message(store: SqliteJobStore, job_filter: JobFilter, missing: Iterable[int]) -> str | None:
    """For new jobs that have no row in the table: the status-bar message when the filter hides
    them (None when the filter is empty or they match it; they may only be beyond the loaded pages)."""
    if job_filter.is_empty:
        return None
    ids = sorted(set(missing))[-MAX_CHECKED:]
    if not ids:
        return None
    shown = {job.id for job in store.list_jobs(**job_filter.store_kwargs(), ids=ids, preview=True)}
    hidden = [job_id for job_id in ids if job_id not in shown]
    if not hidden:
        return None
    if len(hidden) == 1:
        return f"Job {hidden[0]} was enqueued but is hidden by the filter — clear the filter to see it."
    return f"{len(hidden):,} jobs were enqueued but are hidden by the filter — clear the filter to see them."
