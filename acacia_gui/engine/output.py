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
from collections import deque
from collections.abc import Callable

from ..core.definitions import DEFAULT_LOG_LIMIT, EventKind
from ..core.errors import StoreError
from ..core.events import JobEvent
from ..core.job import Job, JobState
from ..store.sqlite import LOG_LINES_PER_JOB

log = logging.getLogger(__name__)

PROGRESS_PERSIST_EVERY = 1.0  # seconds between progress writes to the database
MAX_LOG_MESSAGE = 10_000  # characters kept of one log line
GAP_RESERVE = 200  # bytes of a run's log budget kept for the gap marker
LogLine = tuple[int, float, str, str]


class LogBudget:
    """One run's log: the first half of its budget (bytes of message text, and of
    LOG_LINES_PER_JOB lines) is written as it comes; after that a rolling tail of the other
    half is kept in memory and written when the run ends, after a marked gap."""

    def __init__(self, limit: int) -> None:
        self.head_bytes = limit // 2
        self.tail_bytes = max(0, limit - self.head_bytes - GAP_RESERVE)
        self.head_lines = LOG_LINES_PER_JOB // 2
        self.tail = deque[LogLine](maxlen=max(1, LOG_LINES_PER_JOB - self.head_lines - 1))
        self.used = 0  # bytes of the head, then of the tail
        self.lines = 0
        self.in_tail = False
        self.gap_lines = 0
        self.gap_bytes = 0

    def add(self, line: LogLine, size: int, out: list[LogLine]) -> None:
        """Append `line` to `out` (the head) or to the tail, dropping the tail's oldest lines."""
        if not self.in_tail and self.used + size <= self.head_bytes and self.lines < self.head_lines:
            self.used += size
            self.lines += 1
            out.append(line)
            return
        if not self.in_tail:
            self.in_tail, self.used = True, 0
        if len(self.tail) == self.tail.maxlen:
            self._drop()
        self.tail.append(line)
        self.used += size
        while self.used > self.tail_bytes and self.tail:
            self._drop()

    def _drop(self) -> None:
        size = _size(self.tail.popleft()[3])
        self.used -= size
        self.gap_lines += 1
        self.gap_bytes += size

    def finish(self, out: list[LogLine]) -> None:
        """The run ended: the gap marker (if lines were left out), then the tail, to `out`."""
        if self.gap_lines:
            job_id, at = self.tail[0][:2] if self.tail else (0, time.time())
            out.append((job_id, at, "WARNING", f"… {self.gap_lines:,} lines ({format_size(self.gap_bytes)}) left out …"))
        out.extend(self.tail)


def _size(message: str) -> int:
    return len(message.encode("utf-8", "replace"))


def format_size(size: int) -> str:
    for unit, factor in (("GB", 1000**3), ("MB", 1000**2), ("kB", 1000)):
        if size >= factor:
            return f"{size / factor:.1f} {unit}"
    return f"{size} bytes"


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
        self._logs: list[LogLine] = []
        self._budgets: dict[int, LogBudget] = {}
        self._limits: dict[int, int] = {}
        self.on_activity: Callable[[int], None] = lambda job_id: None  # every progress report and log line (StallWatch)

    # -- pool threads ---------------------------------------------------------------
    def report_progress(self, job: Job, fraction: float | None, message: str) -> None:
        """A Job's progress reporter: keeps only the latest report per job."""
        self.on_activity(job.id)
        with self._lock:
            self._progress[job.id] = (fraction, message)

    def begin(self, job_id: int, log_limit: int | None) -> None:
        """A run of the job starts (any thread): its log budget in bytes (None: DEFAULT_LOG_LIMIT)."""
        with self._lock:
            self._limits[job_id] = log_limit or DEFAULT_LOG_LIMIT
            self._budgets.pop(job_id, None)

    def capture_log(self, job_id: int, at: float, level: str, message: str) -> None:
        """A JobLogCapture sink (any thread): the head of a run's log is queued for writing,
        its tail kept in memory until `end_run` (see LogBudget)."""
        self.on_activity(job_id)
        with self._lock:
            budget = self._budgets.get(job_id)
            if budget is None:
                budget = self._budgets[job_id] = LogBudget(self._limits.get(job_id, DEFAULT_LOG_LIMIT))
            message = message[:min(MAX_LOG_MESSAGE, max(1, budget.tail_bytes))]
            budget.add((job_id, at, level, message), _size(message), self._logs)

    def end_run(self, job_id: int) -> None:
        """The run's outcome is being written: queue its log's tail (after the gap marker)."""
        with self._lock:
            budget = self._budgets.pop(job_id, None)
            self._limits.pop(job_id, None)
            if budget is not None:
                budget.finish(self._logs)

    # -- main thread ------------------------------------------------------------------
    def forget(self, job_id: int) -> None:
        """The job's run is over: its pending progress is superseded by the final state."""
        with self._lock:
            self._progress.pop(job_id, None)
            self._progress_unsaved.pop(job_id, None)
            self._budgets.pop(job_id, None)  # lines logged after its end (a late thread) were written or dropped

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
