"""Plain-text formatting shared by the table, the details pane and the status bar (no Qt)."""

from __future__ import annotations

import json
import time
from typing import Any

from ..core.definitions import PROBLEM_STATES
from ..core.limits import format_bytes

STATE_LABELS = {
    "waiting": "Waiting",
    "queued": "Queued",
    "scheduled": "Scheduled",
    "running": "Running",
    "succeeded": "Succeeded",
    "failed": "Failed",
    "cancelled": "Cancelled",
    "interrupted": "Interrupted",
}
# The fill of each state's icon (resources/icons/state-*.svg): mid-tones that read on light and dark,
# for what paints a state without an icon (the pipeline view's nodes).
STATE_COLOURS = {
    "waiting": "#9b7fc4",
    "queued": "#7f8c9a",
    "scheduled": "#7f8c9a",
    "running": "#2f80d1",
    "succeeded": "#2e9d57",
    "failed": "#d64541",
    "cancelled": "#8a8f98",
    "interrupted": "#e08a1e",
}
MIN_ETA_PROGRESS = 0.01  # below this the estimate is noise
MIN_ETA_ELAPSED = 1.0  # seconds
TIME_WORDS = (" left", "remaining", "eta ")  # a handler message that already tells the time left


def format_count(n: int) -> str:
    """'17,206': every count the app shows (table, status bar, sidebar, tray) is grouped the same way."""
    return f"{n:,}"


def format_size(size: int) -> str:
    """'999 bytes', '12.3 kB', '1.23 MB': a file's size, as the CLI shows it (decimal units)."""
    return format_bytes(size)


def state_label(state: str) -> str:
    return STATE_LABELS.get(state, state.capitalize())


def format_timestamp(at: float | None, now: float | None = None) -> str:
    """'14:03:27' today, '3 Mar 14:03' this year, else '2023-03-03 14:03'; '' for None."""
    if at is None:
        return ""
    now = time.time() if now is None else now
    local, today = time.localtime(at), time.localtime(now)
    if local[:3] == today[:3]:
        return time.strftime("%H:%M:%S", local)
    if local.tm_year == today.tm_year:
        return time.strftime("%d %b %H:%M", local).lstrip("0")
    return time.strftime("%Y-%m-%d %H:%M", local)


def format_table_time(at: float | None, now: float | None = None) -> str:
    """A table cell: '14:02' today, 'Nov 30 14:02' another day this year, '2023-11-30' before; '' for None."""
    if at is None:
        return ""
    now = time.time() if now is None else now
    local, today = time.localtime(at), time.localtime(now)
    if local[:3] == today[:3]:
        return time.strftime("%H:%M", local)
    if local.tm_year == today.tm_year:
        return f"{time.strftime('%b', local)} {local.tm_mday} {time.strftime('%H:%M', local)}"
    return time.strftime("%Y-%m-%d", local)


def format_full_time(at: float | None) -> str:
    """The whole date and time, for tooltips: '2024-11-30 14:02:27'; '' for None."""
    return "" if at is None else time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(at))


def format_duration(seconds: float | None) -> str:
    """'0.4 s', '12 s', '3 min 05 s', '2 h 07 min', '3 d 4 h'; '' for None."""
    if seconds is None:
        return ""
    seconds = max(0.0, seconds)
    if seconds < 10:
        return f"{seconds:.1f} s"
    whole = int(seconds)
    if whole < 60:
        return f"{whole} s"
    minutes, secs = divmod(whole, 60)
    if minutes < 60:
        return f"{minutes} min {secs:02d} s"
    hours, minutes = divmod(minutes, 60)
    if hours < 24:
        return f"{hours} h {minutes:02d} min"
    days, hours = divmod(hours, 24)
    return f"{days} d {hours} h"


def job_duration(started_at: float | None, finished_at: float | None, now: float | None = None) -> float | None:
    """How long the job ran (or has been running); None if it never started."""
    if started_at is None:
        return None
    end = finished_at if finished_at is not None else (time.time() if now is None else now)
    return max(0.0, end - started_at)


def estimate_remaining(progress: float | None, started_at: float | None, now: float | None = None) -> float | None:
    """Seconds left, assuming the rate so far holds; None when it cannot be estimated yet."""
    if progress is None or started_at is None or progress < MIN_ETA_PROGRESS or progress >= 1.0:
        return None
    elapsed = (time.time() if now is None else now) - started_at
    if elapsed < MIN_ETA_ELAPSED:
        return None
    return elapsed * (1.0 - progress) / progress


def eta_text(progress: float | None, started_at: float | None, now: float | None = None, message: str = "") -> str:
    """'≈ 2 min 05 s left' — or '' when it cannot be estimated or the handler's message already says it."""
    remaining = estimate_remaining(progress, started_at, now)
    if remaining is None or any(word in message.lower() for word in TIME_WORDS):
        return ""
    return f"≈ {format_duration(remaining)} left"


def progress_label(state: str, progress: float | None, message: str, eta: str, error: str) -> str:
    """The words in the bar."""
    if state in PROBLEM_STATES:
        return error
    if state == "succeeded":
        return "100 %"
    parts = [f"{progress * 100:.0f} %"] if progress is not None else []
    if state == "running":
        parts += [text for text in (message, eta) if text]
        return " · ".join(parts) if parts else "working…"
    return " · ".join(parts)


def pretty_json(value: Any) -> str:
    """Indented JSON for reading (keys in their stored order); 'null' for None."""
    return json.dumps(value, indent=2, ensure_ascii=False, allow_nan=False, default=str)
