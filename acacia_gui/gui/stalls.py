"""What the window says about stalled jobs: the State cell's marker, its tooltip, the tray's note.

Why a module of its own: the job table model, the job actions and the tray all show the
same words for one flag (the engine's job_stalls row), so they are written once here.
"""

from __future__ import annotations

from typing import Any

from .formatting import format_duration

STALLED_LABEL = "Stalled"  # the State cell of a running job flagged stalled (with a warning icon)


def stalled_state_text(label: str, accessible: bool = False) -> str:
    """The State cell of a stalled running job: "Stalled" (short, so the column's width fits it);
    a screen reader hears "Running, stalled"."""
    return f"{label}, stalled" if accessible else STALLED_LABEL


def stall_tooltip(job_id: int, stall: dict[str, Any] | None) -> str:
    """The State cell's tooltip: how long the job has been silent and what the user can do."""
    silent = f" for {format_duration(stall['for'])}" if stall else ""
    return (f"Job {job_id} is stalled: no progress or log line{silent}. It still runs; "
            "Cancel it, Kill it (its process, at once) or Extend (wait another while).")  # fmt: skip


def stall_notification(job_ids: list[int]) -> tuple[str, str]:
    """The tray's title and text for jobs just flagged stalled."""
    if len(job_ids) == 1:
        return f"Job {job_ids[0]} stalled", "No progress or log line for a while. Cancel, Kill or Extend it."
    return f"{len(job_ids):,} jobs stalled", "They report no progress and log nothing. Select them to act."
