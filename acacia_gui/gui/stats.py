"""StatsPoller: counts by state, per-queue counts and jobs finished per minute, read in the background.

Counting 100,000 rows takes tens of milliseconds, too long for the GUI thread when
jobs finish a thousand times a second. Requests are coalesced (at most one query set
per `min_gap_ms`), and a slow timer keeps "finished per minute" decaying when idle.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field

from PySide6.QtCore import QObject, QTimer, Signal

from ..core.definitions import ACTIVE_STATES
from ..store.sqlite import QueueInfo, SqliteJobStore
from .background import BackgroundReader


@dataclass(frozen=True)
class Stats:
    counts: dict[str, int] = field(default_factory=dict)
    finished_last_minute: int = 0
    queues: list[QueueInfo] = field(default_factory=list)
    at: float = 0.0
    starting: dict[str, int] = field(default_factory=dict)  # per queue: claimed ahead, handler not started

    @property
    def active(self) -> int:
        return sum(self.counts.get(state, 0) for state in ACTIVE_STATES)


def read_stats(store: SqliteJobStore) -> Stats:
    """The four queries (thread-safe: the store connects once per thread)."""
    now = time.time()
    return Stats(store.counts_by_state(), store.finished_since(now - 60), store.list_queues(), now,
                 store.starting_by_queue())  # fmt: skip


class StatsPoller(QObject):
    """Emits `stats_ready(Stats)` after `request()` (coalesced) and every `interval_ms`."""

    stats_ready = Signal(object)

    def __init__(self, store: SqliteJobStore, reader: BackgroundReader, *, interval_ms: int = 2000,
                 min_gap_ms: int = 250, parent: QObject | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self._store = store
        self._reader = reader
        self._min_gap = min_gap_ms / 1000.0
        self._last_request = 0.0
        self.latest = Stats()
        self._soon = QTimer(self)
        self._soon.setSingleShot(True)
        self._soon.timeout.connect(self._submit)
        self._periodic = QTimer(self)
        self._periodic.setInterval(interval_ms)
        self._periodic.timeout.connect(self.request)
        self._periodic.start()

    def request(self) -> None:
        """Recount soon; many calls within `min_gap_ms` cost one query set."""
        if self._soon.isActive():
            return
        wait = self._min_gap - (time.monotonic() - self._last_request)
        self._soon.start(max(0, int(wait * 1000)))

    def refresh_now(self) -> Stats:
        """Count on the calling (main) thread — at start-up, so the first frame has numbers."""
        self._deliver(read_stats(self._store))
        return self.latest

    def _submit(self) -> None:
        self._last_request = time.monotonic()
        store = self._store
        self._reader.submit("stats", lambda: read_stats(store), self._deliver)

    def _deliver(self, stats: Stats) -> None:
        self.latest = stats
        self.stats_ready.emit(stats)

    def stop(self) -> None:
        self._soon.stop()
        self._periodic.stop()
