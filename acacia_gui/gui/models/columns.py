"""The job table's columns and item roles, as enums (never magic numbers)."""

from __future__ import annotations

from enum import IntEnum

from PySide6.QtCore import Qt

from ...core.definitions import SortField


class JobColumn(IntEnum):
    ID = 0
    TYPE = 1
    QUEUE = 2
    STATE = 3
    PROGRESS = 4
    ATTEMPTS = 5
    CREATED = 6
    STARTED = 7
    DURATION = 8
    CANCEL = 9

    @property
    def title(self) -> str:
        return COLUMN_TITLES[self]

    @property
    def sort_field(self) -> SortField | None:
        """The store's ORDER BY column, or None when the column cannot be sorted."""
        return COLUMN_SORT_FIELDS.get(self)


COLUMN_TITLES = {
    JobColumn.ID: "ID",
    JobColumn.TYPE: "Type",
    JobColumn.QUEUE: "Queue",
    JobColumn.STATE: "State",
    JobColumn.PROGRESS: "Progress",
    JobColumn.ATTEMPTS: "Attempts",
    JobColumn.CREATED: "Created",
    JobColumn.STARTED: "Started",
    JobColumn.DURATION: "Duration",
    JobColumn.CANCEL: "",
}

# Which field each sortable column orders by (the fields themselves are definitions').
# Ids are handed out in creation order, so "created" sorts by the primary key (indexed,
# instant on 100,000 rows) instead of sorting created_at on every page.
COLUMN_SORT_FIELDS = {
    JobColumn.ID: SortField.ID,
    JobColumn.TYPE: SortField.TYPE,
    JobColumn.QUEUE: SortField.QUEUE,
    JobColumn.STATE: SortField.STATE,
    JobColumn.PROGRESS: SortField.PROGRESS,
    JobColumn.ATTEMPTS: SortField.ATTEMPTS,
    JobColumn.CREATED: SortField.ID,
    JobColumn.STARTED: SortField.STARTED_AT,
    JobColumn.DURATION: SortField.DURATION,
}


class JobRole(IntEnum):
    """Custom item roles of the job table model."""

    ROW = Qt.ItemDataRole.UserRole + 1  # the JobRow
    JOB_ID = Qt.ItemDataRole.UserRole + 2
    STATE = Qt.ItemDataRole.UserRole + 3
    PROGRESS = Qt.ItemDataRole.UserRole + 4  # float 0..1, or None (indeterminate)
    MESSAGE = Qt.ItemDataRole.UserRole + 5  # the handler's progress message
    ETA = Qt.ItemDataRole.UserRole + 6  # "2 min 10 s left", or ""
    CANCELLABLE = Qt.ItemDataRole.UserRole + 7  # bool: a cancel button is painted
    ERROR = Qt.ItemDataRole.UserRole + 8  # first line of the error, or ""
