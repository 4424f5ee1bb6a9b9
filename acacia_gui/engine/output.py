"""Progress reports and log lines of running jobs, coalesced before they reach listeners and disk.

Handlers call report_progress as often as they like and log freely; pool threads only
record the latest value (or append the line) under a lock. The worker's timer calls
`flush` on the main thread: listeners see ~10 progress updates a second per job, the
database ~1, and log lines are written in one transaction per flush.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..core.definitions import EventKind
from ..core.errors import StoreError
from ..core.events import JobEvent
from ..core.job import Job, JobState
from ..store.sqlite import LOG_LINES_PER_JOB

log = logging.getLogger(__name__)

PROGRESS_PERSIST_EVERY = 1.0  # seconds between progress writes to the database
MAX_LOG_MESSAGE = 10_000  # characters kept of one log line


class JobOutput:
    """Coalesces progress and log lines. Log lines are announced after they are written;
    progress is announced at once (listeners want it live) and saved about once a second."""

    def __init__(self, store, publish: Callable[[JobEvent], None], queue_of: Callable[[int], str | None]) -> None:
        self._store = store
        self._publish = publish
        self._queue_of = queue_of
        self._lock = threading.Lock()
        self._progress: dict[int, tuple[float | None, str]] = {}
        self._progress_unsaved: dict[int, tuple[float | None, str]] = {}
        self._last_progress_save = 0.0
        self._logs: list[tuple[int, float, str, str]] = []
        self._log_counts: dict[int, int] = {}

    # -- pool threads ---------------------------------------------------------------
    def report_progress(self, job: Job, fraction: float | None, message: str) -> None:
        """A Job's progress reporter: keeps only the latest report per job."""
        with self._lock:
            self._progress[job.id] = (fraction, message)

    def capture_log(self, job_id: int, at: float, level: str, message: str) -> None:
        """A JobLogCapture sink: keeps up to LOG_LINES_PER_JOB lines per job, then one warning."""
        with self._lock:
            count = self._log_counts.get(job_id, 0) + 1
            self._log_counts[job_id] = count
            if count < LOG_LINES_PER_JOB:
                self._logs.append((job_id, at, level, message[:MAX_LOG_MESSAGE]))
            elif count == LOG_LINES_PER_JOB:
                self._logs.append((job_id, at, "WARNING", f"log limit of {LOG_LINES_PER_JOB} lines reached; more are dropped"))

    # -- main thread ------------------------------------------------------------------
    def forget(self, job_id: int) -> None:
        """The job's run is over: its pending progress is superseded by the final state."""
        with self._lock:
            self._progress.pop(job_id, None)
            self._progress_unsaved.pop(job_id, None)
            self._log_counts.pop(job_id, None)

    def flush(self) -> None:
        """Announce the latest progress of each job, save it now and then, write and announce logs."""
        with self._lock:
            progress, self._progress = self._progress, {}
            self._progress_unsaved.update(progress)
        for job_id, (fraction, message) in progress.items():
            self._publish(JobEvent(EventKind.PROGRESS, job_id, self._queue_of(job_id), JobState.RUNNING.value,
                                   {"progress": fraction, "message": message}))  # fmt: skip
        now = time.monotonic()
        if self._progress_unsaved and now - self._last_progress_save >= PROGRESS_PERSIST_EVERY:
            with self._lock:
                unsaved, self._progress_unsaved = self._progress_unsaved, {}
            try:
                self._store.save_progress([(job_id, p, m) for job_id, (p, m) in unsaved.items()])
                self._last_progress_save = now
            except StoreError:
                log.exception("could not save progress; will try again")
                with self._lock:  # keep what failed, unless a newer report came in meanwhile
                    self._progress_unsaved = {**unsaved, **self._progress_unsaved}
        self.flush_logs()

    def flush_logs(self) -> None:
        """Write captured log lines in one transaction, then announce them."""
        with self._lock:
            if not self._logs:
                return
            lines, self._logs = self._logs, []
        try:
            self._store.append_logs(lines)
        except StoreError:
            log.exception("could not save %d log line(s); dropping them", len(lines))
            return
        for job_id, at, level, message in lines:
            self._publish(JobEvent(EventKind.LOG, job_id, self._queue_of(job_id),
                                   data={"at": at, "level": level, "message": message}))  # fmt: skip
