"""StallWatch: which running jobs have gone silent (no progress, no log line) for their handler's stall_after.

Why in memory: JobOutput sees every progress report and log line of both isolation modes,
so it only stamps a time here (any thread, one dict store); the scheduler's poll (every
200 ms, main thread) compares the stamps with the clock. A tick costs one pass over the
watched runs and no database read; the store is written only when a flag changes.
A stall is flagged, never acted on: the user decides (cancel, kill, extend).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from ..core.definitions import EventKind, JobState, Source
from ..core.errors import StoreError
from ..core.events import JobEvent

log = logging.getLogger(__name__)

RESUMED = "resumed"


@dataclass
class _Watched:
    stall_after: float
    quiet_since: float  # monotonic: the run's start, its last progress or log line, or an extend
    stalled: bool = False


class StallWatch:
    """Runs of handlers with a stall_after, their last sign of life, and which are flagged."""

    def __init__(self, store, publish: Callable[[JobEvent], None], queue_of: Callable[[int], str | None]) -> None:
        self._store = store
        self._publish = publish
        self._queue_of = queue_of
        self._runs: dict[int, _Watched] = {}
        self._heard: dict[int, float] = {}  # job id → monotonic time of its last sign of life (any thread)
        self._ended_stalled: list[int] = []  # runs that ended flagged: their rows are removed at the next tick

    # -- any thread ---------------------------------------------------------------------
    def heard(self, job_id: int) -> None:
        """A progress report or log line of the job (JobOutput calls it)."""
        self._heard[job_id] = time.monotonic()

    def begin(self, job_id: int, stall_after: float | None) -> None:
        """A run starts; watched only when its handler has a stall_after."""
        self._heard.pop(job_id, None)
        if stall_after:
            self._runs[job_id] = _Watched(float(stall_after), time.monotonic())
        else:
            self._runs.pop(job_id, None)

    # -- main thread --------------------------------------------------------------------
    def end(self, job_id: int) -> None:
        """The run's outcome is written: stop watching it."""
        watched = self._runs.pop(job_id, None)
        self._heard.pop(job_id, None)
        if watched is not None and watched.stalled:
            self._ended_stalled.append(job_id)

    def is_watched(self, job_id: int) -> bool:
        return job_id in self._runs

    def extend(self, job_id: int, source: str) -> float | None:
        """Postpone the detection by another stall_after from now, clearing the flag. Returns the
        stall_after, or None when this app does not watch the job (not running here, no stall_after)."""
        watched = self._runs.get(job_id)
        if watched is None:
            return None
        watched.quiet_since = time.monotonic() + watched.stall_after  # the next check counts from the extension's end
        if watched.stalled:
            watched.stalled = False
        self._clear(job_id, f"stall extended by {watched.stall_after:g} s", source)
        return watched.stall_after

    def check(self) -> None:
        """Flag runs silent for their stall_after; clear flags of runs heard from again."""
        now = time.monotonic()
        while self._ended_stalled:
            job_id = self._ended_stalled.pop()
            try:
                self._store.clear_stall(job_id, "")
            except StoreError:
                log.exception("job %s: could not remove its stall flag", job_id)
        for job_id, watched in list(self._runs.items()):
            heard = self._heard.get(job_id)
            if heard is not None and heard > watched.quiet_since:
                watched.quiet_since = heard
                if watched.stalled:
                    watched.stalled = False
                    self._clear(job_id, RESUMED, Source.WORKER)
            if not watched.stalled and now - watched.quiet_since >= watched.stall_after:
                watched.stalled = True
                since = time.time() - (now - watched.quiet_since)
                try:
                    marked = self._store.mark_stalled(job_id, since, watched.stall_after)
                except StoreError:
                    log.exception("job %s: could not flag it stalled; will try again", job_id)
                    watched.stalled = False
                    continue
                if marked:
                    self._announce(job_id, {"stalled": True, "since": since, "stall_after": watched.stall_after,
                                            "source": Source.WORKER})  # fmt: skip

    def _clear(self, job_id: int, message: str, source: str) -> None:
        try:
            cleared = self._store.clear_stall(job_id, message, source)
        except StoreError:
            log.exception("job %s: could not clear its stall flag", job_id)
            return
        if cleared:
            self._announce(job_id, {"stalled": False, "message": message, "source": source})

    def _announce(self, job_id: int, data: dict) -> None:
        self._publish(JobEvent(EventKind.STALL, job_id, self._queue_of(job_id), JobState.RUNNING.value, data))
