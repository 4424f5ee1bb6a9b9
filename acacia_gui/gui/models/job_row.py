"""JobRow: the slim part of a job the table shows, and the sort keys that mirror SQLite's ORDER BY."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from ...core.definitions import CANCELLABLE_STATES, STATE_RANK, JobState, SortField
from ...core.job import Job


class JobRow:
    """What one table row needs; payload, result and traceback stay in the database."""

    __slots__ = ("attempts", "cancel_requested", "created_at", "error", "finished_at", "id", "max_attempts",
                 "message", "priority", "progress", "queue", "started_at", "state", "type")  # fmt: skip

    def __init__(self, job: Job) -> None:
        self.id: int = job.id  # type: ignore[assignment]
        self.update(job)

    def update(self, job: Job) -> None:
        self.type = job.type
        self.queue = job.queue or "default"
        self.state = str(job.state)
        self.priority = job.priority
        self.progress = job.progress
        self.message = job.progress_message
        self.attempts = job.attempts
        self.max_attempts = job.max_attempts or 1
        self.created_at = job.created_at
        self.started_at = job.started_at
        self.finished_at = job.finished_at
        self.error = (job.error or "").splitlines()[0][:300] if job.error else ""
        self.cancel_requested = job.cancel_requested

    @property
    def cancellable(self) -> bool:
        return self.state in CANCELLABLE_STATES and not self.cancel_requested

    @property
    def running(self) -> bool:
        return self.state == JobState.RUNNING.value


def _nullable(name: str) -> Callable[[JobRow], tuple]:
    # SQLite orders NULL before any value in ascending order (and after it in descending).
    def key(row: JobRow) -> tuple:
        value = getattr(row, name)
        return (value is not None, value if value is not None else 0, row.id)

    return key


def _plain(name: str) -> Callable[[JobRow], tuple]:
    def key(row: JobRow) -> tuple:
        return (getattr(row, name), row.id)

    return key


def _lifecycle(row: JobRow) -> tuple:
    # store.sqlite_jobs.ORDER_EXPRESSIONS["state"]: running, queued, scheduled, failed, … succeeded.
    return (STATE_RANK.get(row.state, len(STATE_RANK)), row.id)


RUNNING_DURATION_BASE = 1e12  # as store.sqlite_jobs: a running job sorts above any finished duration


def _duration(row: JobRow) -> tuple:
    # store.sqlite_jobs.ORDER_EXPRESSIONS["duration"]; NULL (never started) first ascending, as in SQLite.
    if row.started_at is None:
        return (False, 0, row.id)
    if row.finished_at is None:
        return (True, RUNNING_DURATION_BASE - row.started_at, row.id)
    return (True, row.finished_at - row.started_at, row.id)


# The fields the table's columns sort by (columns.COLUMN_SORT_FIELDS).
SORT_KEYS: dict[str, Callable[[JobRow], tuple[Any, ...]]] = {
    SortField.ID: lambda row: (row.id,),
    SortField.TYPE: _plain("type"),
    SortField.QUEUE: _plain("queue"),
    SortField.STATE: _lifecycle,
    SortField.DURATION: _duration,
    SortField.ATTEMPTS: _plain("attempts"),
    SortField.PROGRESS: _nullable("progress"),
    SortField.STARTED_AT: _nullable("started_at"),
}


class RowOrder:
    """The order of the loaded rows: the same as `ORDER BY field dir, id dir` in the store."""

    def __init__(self, field: str = "id", descending: bool = True) -> None:
        self.field = field
        self.descending = descending
        self.key = SORT_KEYS[field]

    def before(self, a: tuple, b: tuple) -> bool:
        return a > b if self.descending else a < b

    def position(self, rows: list[JobRow], key: tuple) -> int:
        """Where a row with `key` belongs in `rows` (binary search; rows are kept in order)."""
        lo, hi = 0, len(rows)
        while lo < hi:
            mid = (lo + hi) // 2
            if self.before(self.key(rows[mid]), key):
                lo = mid + 1
            else:
                hi = mid
        return lo
