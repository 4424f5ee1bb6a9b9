"""ScheduleTicker: fires recurring schedules' slots on time, on a background thread.

Why a thread of its own (like the Pruner): firing is a write transaction, and the time it
waits for is the wall clock's (a slot is "03:00 in Paris"), which the scheduler's monotonic
timers do not follow across a suspend or an NTP step. The ticker sleeps until the earliest
next_at, at most CHECK_EVERY seconds, and wakes at once when a schedule is added, edited or
resumed (a SCHEDULE event on the bus).

Clock steps. Each wake compares `wall clock - monotonic clock` with its last reading: the
two advance together unless the wall clock was stepped (the monotonic clock also stops
during a suspend on Linux, so a resume looks like a forward step). A change of more than
STEP_THRESHOLD seconds is a step:
- forward (a resume, an NTP correction forward): the due slots fire at once, under each
  schedule's catch_up (core/schedules.plan_catch_up); logged;
- backward by D: what was timed by the old clock would wait D too long, so delayed jobs,
  retry backoffs, every-schedules and future rate starts come back by D, and cron schedules
  are planned again from now (JobQueue.rebase_after_clock_step); logged. The engine's poll
  promotes due scheduled jobs by the wall clock every poll interval, so they then start
  within one interval.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from ..core.definitions import EventKind
from ..core.events import JobEvent
from ..core.queue import JobQueue

log = logging.getLogger(__name__)

CHECK_EVERY = 1.0  # seconds: the longest sleep, so a clock step is seen within about a second
STEP_THRESHOLD = 2.0  # seconds the wall clock may drift from the monotonic one between two wakes
_WAKING_CHANGES = frozenset({"added", "edited", "resumed"})  # changes that may bring next_at forward


class ScheduleTicker:
    """`start()` runs the ticks on a daemon thread; `stop()` ends it. `clock` (the wall clock) and
    `monotonic` are injectable so a test can step the wall clock."""

    def __init__(self, queue: JobQueue, *, clock: Callable[[], float] = time.time,
                 monotonic: Callable[[], float] = time.monotonic, check_every: float = CHECK_EVERY,
                 step_threshold: float = STEP_THRESHOLD) -> None:  # fmt: skip
        self.queue = queue
        self.clock, self.monotonic = clock, monotonic
        self.check_every, self.step_threshold = check_every, step_threshold
        self.steps: list[float] = []  # clock steps seen (seconds; negative: backward), for diagnostics and tests
        self._offset = 0.0
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None
        self._unsubscribe: Callable[[], None] | None = None

    def start(self) -> None:
        if self._thread is None:
            self._stopping.clear()
            self._unsubscribe = self.queue.bus.subscribe(self._on_event)
            self._thread = threading.Thread(target=self._run, name="acacia-schedules", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._unsubscribe is not None:
            self._unsubscribe()
            self._unsubscribe = None
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def wake(self) -> None:
        """Look again now (a schedule changed)."""
        self._wake.set()

    def _on_event(self, event: JobEvent) -> None:
        """Called in the publisher's thread: only sets an Event."""
        if event.kind == EventKind.SCHEDULE and event.data.get("change") in _WAKING_CHANGES:
            self._wake.set()

    def _run(self) -> None:
        self._offset = self.clock() - self.monotonic()
        while not self._stopping.is_set():
            try:
                self.check_clock()
                self.fire_due()
            except Exception:  # a locked or full disk: log it and try again at the next wake
                log.exception("schedules: firing failed; will try again")
            self._wake.wait(self._sleep())
            self._wake.clear()

    def _sleep(self) -> float:
        try:
            next_at = self.queue.next_schedule_at()
        except Exception:
            log.exception("schedules: reading the next slot failed")
            return self.check_every
        if next_at is None:
            return self.check_every
        return min(self.check_every, max(0.0, next_at - self.clock()))

    def check_clock(self) -> float:
        """Detect a wall-clock step since the last call; rebase after a backward one. Returns the
        step (0.0: none)."""
        offset = self.clock() - self.monotonic()
        step, self._offset = offset - self._offset, offset
        if abs(step) <= self.step_threshold:
            return 0.0
        if step > 0:
            log.info("schedules: the wall clock jumped %.0f s forward (a resume or a clock change): catching up", step)
        else:
            moved = self.queue.rebase_after_clock_step(-step, self.clock())
            log.warning("schedules: the wall clock went back %.0f s; %d delayed job(s) and the schedules were moved back "
                        "as much, so nothing waits that much longer", -step, moved)  # fmt: skip
        self.steps.append(step)  # once handled: a reader sees the rebase done
        return step

    def fire_due(self) -> int:
        """Fire the due slots of every schedule; returns the jobs enqueued."""
        now = self.clock()
        next_at = self.queue.next_schedule_at()
        if next_at is None or next_at > now:
            return 0
        enqueued = 0
        for fired in self.queue.fire_due_schedules(now):
            enqueued += len(fired.job_ids)
            if fired.error:
                log.warning("schedule %r enqueued nothing: %s", fired.name, fired.error)
            elif fired.missed:
                log.info("schedule %r: %d slot(s) missed; %d job(s) enqueued, %d dropped", fired.name, fired.missed,
                         len(fired.job_ids), fired.dropped)  # fmt: skip
        return enqueued
