"""What each cell of the job table says: text, tooltip, ETA (pure functions of a JobRow)."""

from __future__ import annotations

from typing import Any

from ...core.registry import RegisteredHandler
from ..formatting import (
    eta_text,
    format_duration,
    format_full_time,
    format_table_time,
    job_duration,
    progress_label,
    state_label,
)
from .columns import JobColumn, JobRole
from .job_row import JobRow


def row_eta(row: JobRow) -> str:
    return eta_text(row.progress, row.started_at, message=row.message) if row.running else ""


def cell_text(row: JobRow, column: JobColumn, titles: dict[str, str], accessible: bool = False) -> str:
    """The display text; `titles` maps job types to handler titles (the type column)."""
    if column is JobColumn.ID:
        return str(row.id)
    if column is JobColumn.TYPE:
        return titles.get(row.type, row.type)
    if column is JobColumn.QUEUE:
        return row.queue
    if column is JobColumn.STATE:
        label = state_label(row.state)
        return f"{label} (cancelling)" if row.cancel_requested and row.running else label
    if column is JobColumn.PROGRESS:
        return progress_label(row.state, row.progress, row.message, row_eta(row), row.error)
    if column is JobColumn.ATTEMPTS:
        return f"{row.attempts}/{row.max_attempts}"
    if column is JobColumn.CREATED:
        return format_table_time(row.created_at)
    if column is JobColumn.STARTED:
        return format_table_time(row.started_at)
    if column is JobColumn.DURATION:
        return format_duration(job_duration(row.started_at, row.finished_at))
    return f"Cancel job {row.id}" if accessible and row.cancellable else ""


def cell_tooltip(row: JobRow, column: JobColumn, handler: RegisteredHandler | None) -> str | None:
    if column is JobColumn.TYPE:
        about = f"\n{handler.description}" if handler is not None and handler.description else ""
        missing = "" if handler is not None else "\nNo loaded plugin handles this type."
        return f"{row.type}{about}{missing}"
    if column is JobColumn.STATE and row.error:
        return row.error
    if column is JobColumn.PROGRESS:
        return cell_text(row, column, {}) or None
    if column is JobColumn.CREATED:
        return format_full_time(row.created_at) or None
    if column is JobColumn.STARTED:
        return format_full_time(row.started_at) or None
    if column is JobColumn.CANCEL and row.cancellable:
        return f"Cancel job {row.id}"
    return None


def custom_role(row: JobRow, role: int) -> Any:
    """The JobRole values (what delegates and the window read)."""
    if role == JobRole.ROW:
        return row
    if role == JobRole.JOB_ID:
        return row.id
    if role == JobRole.STATE:
        return row.state
    if role == JobRole.PROGRESS:
        return 1.0 if row.state == "succeeded" else row.progress
    if role == JobRole.MESSAGE:
        return row.message
    if role == JobRole.ERROR:
        return row.error
    if role == JobRole.ETA:
        return row_eta(row)
    if role == JobRole.CANCELLABLE:
        return row.cancellable
    return None
