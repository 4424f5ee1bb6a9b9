"""What each cell of the Schedules table says (pure functions of a Schedule and the time; no Qt).

Kept apart from the model so the wording ("14:05 · in 4 min", "paused") is tested without
widgets, and the table and its tooltips say the same thing.
"""

from __future__ import annotations

import time
from enum import IntEnum
from typing import Any

from ..formatting import format_full_time, format_table_time, state_label

DAY = 86400.0


class ScheduleColumn(IntEnum):
    NAME = 0
    TYPE = 1
    RULE = 2
    NEXT = 3
    LAST = 4
    RESULT = 5
    STATUS = 6

    @property
    def title(self) -> str:
        return COLUMN_TITLES[self]


COLUMN_TITLES = {
    ScheduleColumn.NAME: "Name",
    ScheduleColumn.TYPE: "Type",
    ScheduleColumn.RULE: "Rule",
    ScheduleColumn.NEXT: "Next run",
    ScheduleColumn.LAST: "Last run",
    ScheduleColumn.RESULT: "Last result",
    ScheduleColumn.STATUS: "Status",
}
COLUMN_TIPS = {
    ScheduleColumn.NEXT: "When the next job is enqueued (local time)",
    ScheduleColumn.LAST: "The time of the last slot a job was enqueued for (local time)",
    ScheduleColumn.RESULT: "The state of the last job this schedule enqueued; double-click to show it in the Jobs tab",
    ScheduleColumn.STATUS: "Enabled schedules enqueue jobs; paused ones wait until enabled again",
}


def relative_text(seconds: float) -> str:
    """'in 45 s', 'in 4 min', 'in 3 h 05 min', 'in 2 d 4 h'; 'due now' once the time has come."""
    if seconds < 1:
        return "due now"
    whole = int(seconds)
    if whole < 60:
        return f"in {whole} s"
    minutes = (whole + 59) // 60  # "in 4 min" until it is less than 4: never says 0 min
    if minutes < 60:
        return f"in {minutes} min"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"in {hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"in {days} d {hours} h"


def next_run_text(schedule: Any, now: float) -> str:
    """'14:05 · in 4 min' (within a day the clock time alone: the "in" says which day);
    'paused' for a paused schedule; '' before the store planned it."""
    if schedule.paused:
        return "paused"
    if schedule.next_at is None:
        return ""
    soon = schedule.next_at - now < DAY
    at = time.strftime("%H:%M", time.localtime(schedule.next_at)) if soon else format_table_time(schedule.next_at, now)
    return f"{at} · {relative_text(schedule.next_at - now)}"


def last_run_text(schedule: Any, now: float) -> str:
    return format_table_time(schedule.last_slot, now) if schedule.last_slot is not None else "never"


def result_text(schedule: Any) -> str:
    """The last job's state ('Failed'), 'deleted' if that job is gone, '' if none ran yet."""
    if schedule.last_job_id is None:
        return ""
    if not schedule.last_state:
        return "deleted"
    return state_label(schedule.last_state)


def status_text(schedule: Any) -> str:
    return "Paused" if schedule.paused else "Enabled"


def cell_text(schedule: Any, column: ScheduleColumn, now: float, titles: dict[str, str]) -> str:
    if column is ScheduleColumn.NAME:
        return schedule.name
    if column is ScheduleColumn.TYPE:
        return titles.get(schedule.type, schedule.type)
    if column is ScheduleColumn.RULE:
        return schedule.describe()
    if column is ScheduleColumn.NEXT:
        return next_run_text(schedule, now)
    if column is ScheduleColumn.LAST:
        return last_run_text(schedule, now)
    if column is ScheduleColumn.RESULT:
        return result_text(schedule)
    return status_text(schedule)


def cell_tooltip(schedule: Any, column: ScheduleColumn, titles: dict[str, str]) -> str | None:
    if column is ScheduleColumn.TYPE:
        return schedule.type if schedule.type in titles else f"{schedule.type}\nNo loaded plugin handles this type."
    if column is ScheduleColumn.RULE:
        return f"{schedule.describe()}; missed runs: {CATCH_UP_WORDS.get(schedule.catch_up, schedule.catch_up)}"
    if column is ScheduleColumn.NEXT and schedule.next_at is not None and not schedule.paused:
        return format_full_time(schedule.next_at)
    if column is ScheduleColumn.LAST and schedule.last_slot is not None:
        dropped = getattr(schedule, "last_dropped", 0) or 0
        note = f"\nThe last catch-up dropped {dropped:,} missed run(s) (past the backlog limit)." if dropped else ""
        return f"{format_full_time(schedule.last_slot)}{note}"
    if column is ScheduleColumn.RESULT and schedule.last_job_id is not None:
        return f"Job {schedule.last_job_id}: {result_text(schedule).lower()}. Double-click to show it."
    return None


# One line each, shown by the dialog and in the Rule tooltip.
CATCH_UP_WORDS = {
    "once": "one job for all the runs missed while the app was off or the machine asleep",
    "all": "one job per missed run, up to the backlog limit (the oldest beyond it are dropped)",
    "skip": "no job for missed runs; wait for the next one",
}
