"""LiveUpdates: every JobEvent from the bridge, coalesced into one ChangeBatch per event-loop turn.

A thousand events between two turns become one batch: a set of changed ids (one
database read for all of them), the latest progress per job, the jobs with new log
lines. Views subscribe to `batch_ready` instead of the raw event stream.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, Signal

from ..core.definitions import FINAL_STATES, EventKind, JobState
from ..core.events import JobEvent


@dataclass
class ChangeBatch:
    """What changed since the last batch. `changed` never repeats ids in `deleted`."""

    enqueued: set[int] = field(default_factory=set)
    changed: set[int] = field(default_factory=set)  # state changes, cancel requests
    progress: dict[int, tuple[float | None, str]] = field(default_factory=dict)
    logs: set[int] = field(default_factory=set)  # jobs with new log lines
    deleted: set[int] = field(default_factory=set)
    failed: list[JobEvent] = field(default_factory=list)
    succeeded: list[int] = field(default_factory=list)  # ids of jobs that succeeded (long-success notifications)
    finished: int = 0
    queues_changed: bool = False  # counts or settings of some queue changed
    external: bool = False  # another process wrote to the database: re-read what is shown
    stalls: dict[int, bool] = field(default_factory=dict)  # job id → flagged stalled (True) or cleared (False)

    @property
    def rows_changed(self) -> set[int]:
        """Ids whose row must be re-read (new, or changed state)."""
        return (self.enqueued | self.changed) - self.deleted

    def is_empty(self) -> bool:
        return not (self.enqueued or self.changed or self.progress or self.logs or self.deleted or self.queues_changed
                    or self.external)


class LiveUpdates(QObject):
    """Coalesces `bridge.event_received` into `batch_ready(ChangeBatch)`, at most every `min_interval_ms`."""

    batch_ready = Signal(object)

    def __init__(self, event_source: Signal, min_interval_ms: int = 40, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._batch = ChangeBatch()
        self._min_interval = min_interval_ms / 1000.0
        self._last_flush = 0.0
        self._timer = QTimer(self)
        self._timer.setSingleShot(True)
        self._timer.timeout.connect(self.flush)
        self._source = event_source
        event_source.connect(self.on_event)

    def on_event(self, event: JobEvent) -> None:
        batch = self._batch
        kind, job_id = event.kind, event.job_id
        if kind == EventKind.PROGRESS and job_id is not None:
            batch.progress[job_id] = (event.data.get("progress"), str(event.data.get("message") or ""))
        elif kind == EventKind.LOG and job_id is not None:
            batch.logs.add(job_id)
        elif kind == EventKind.ENQUEUED and job_id is not None:
            batch.enqueued.add(job_id)
            batch.queues_changed = True
        elif kind in (EventKind.STATE, EventKind.CANCEL_REQUESTED) and job_id is not None:
            batch.changed.add(job_id)
            batch.queues_changed = True
            if kind == EventKind.STATE and event.state in FINAL_STATES:
                batch.finished += 1
                if event.state == JobState.FAILED:
                    batch.failed.append(event)
                elif event.state == JobState.SUCCEEDED:
                    batch.succeeded.append(job_id)
        elif kind == EventKind.STALL and job_id is not None and "stalled" in event.data:
            batch.changed.add(job_id)
            batch.stalls[job_id] = bool(event.data["stalled"])
        elif kind == EventKind.DELETED:  # one job, or a retention batch's "ids"
            for gone in [job_id] if job_id is not None else event.data.get("ids") or ():
                batch.deleted.add(gone)
                batch.progress.pop(gone, None)
            batch.queues_changed = True
        elif kind == EventKind.QUEUE:
            batch.queues_changed = True
        elif kind == EventKind.EXTERNAL_CHANGE:
            batch.external = True
            batch.queues_changed = True
        self._schedule()

    def _schedule(self) -> None:
        if self._timer.isActive():
            return
        wait = self._min_interval - (time.monotonic() - self._last_flush)
        self._timer.start(max(0, int(wait * 1000)))

    def flush(self) -> None:
        """Emit what has gathered (also callable directly, e.g. before a test looks)."""
        self._timer.stop()
        batch, self._batch = self._batch, ChangeBatch()
        self._last_flush = time.monotonic()
        batch.changed -= batch.deleted
        batch.enqueued -= batch.deleted
        if not batch.is_empty():
            self.batch_ready.emit(batch)

    def close(self) -> None:
        self._timer.stop()
        try:
            self._source.disconnect(self.on_event)
        except (RuntimeError, TypeError):
            pass  # already disconnected or the source is gone
