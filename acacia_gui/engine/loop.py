"""The event loop the scheduler runs on: Qt's in the app (qt/worker.py), ManualLoop in tests.

The scheduler does all its bookkeeping on one thread, the loop's. Pool threads reach it
only through `post`; timers (poll, output flush, group commit) go through `call_later`
and `call_every`.
"""

from __future__ import annotations

import heapq
import itertools
import threading
import time
from collections import deque
from collections.abc import Callable
from typing import Protocol


class Timer(Protocol):
    def stop(self) -> None: ...


class EventLoop(Protocol):
    def post(self, fn: Callable[[], None]) -> None:
        """Run `fn` on the loop thread soon (thread-safe; may run it at once when called there)."""
        ...

    def call_later(self, seconds: float, fn: Callable[[], None]) -> Timer: ...

    def call_every(self, seconds: float, fn: Callable[[], None]) -> Timer: ...

    def process_events(self, seconds: float) -> None:
        """Run due loop work for up to `seconds` (used while the scheduler blocks in stop())."""
        ...


class _ManualTimer:
    def __init__(self) -> None:
        self.stopped = False

    def stop(self) -> None:
        self.stopped = True


class ManualLoop:
    """A plain-Python EventLoop: work runs only inside `run_until` / `process_events`, on the
    calling thread. Lets the scheduler be unit-tested (and embedded) without Qt."""

    def __init__(self) -> None:
        self._posted: deque[Callable[[], None]] = deque()
        self._timers: list[tuple[float, int, float | None, Callable[[], None], _ManualTimer]] = []
        self._order = itertools.count()
        self._lock = threading.Lock()
        self._wakeup = threading.Event()
        self.thread: threading.Thread | None = None

    def post(self, fn: Callable[[], None]) -> None:
        with self._lock:
            self._posted.append(fn)
        self._wakeup.set()

    def call_later(self, seconds: float, fn: Callable[[], None]) -> _ManualTimer:
        return self._add(seconds, None, fn)

    def call_every(self, seconds: float, fn: Callable[[], None]) -> _ManualTimer:
        return self._add(seconds, seconds, fn)

    def _add(self, seconds: float, every: float | None, fn: Callable[[], None]) -> _ManualTimer:
        timer = _ManualTimer()
        with self._lock:
            heapq.heappush(self._timers, (time.monotonic() + seconds, next(self._order), every, fn, timer))
        self._wakeup.set()
        return timer

    def process_events(self, seconds: float) -> None:
        self._run_for(seconds)

    def run_until(self, condition: Callable[[], object], timeout: float = 10.0) -> None:
        """Process work until `condition()` is true; AssertionError after `timeout` seconds."""
        deadline = time.monotonic() + timeout
        while not condition():
            if time.monotonic() > deadline:
                raise AssertionError(f"timed out after {timeout} s waiting for {condition}")
            self._run_for(0.01)

    def _run_for(self, seconds: float) -> None:
        self.thread = threading.current_thread()
        end = time.monotonic() + seconds
        while True:
            self._run_due()
            now = time.monotonic()
            if now >= end:
                return
            with self._lock:
                if self._posted:
                    continue
                next_at = self._timers[0][0] if self._timers else end
            self._wakeup.wait(max(0.0, min(end, next_at) - now))
            self._wakeup.clear()

    def _run_due(self) -> None:
        while True:
            with self._lock:
                fn = self._posted.popleft() if self._posted else None
            if fn is None:
                break
            fn()
        now = time.monotonic()
        while True:
            with self._lock:
                if not self._timers or self._timers[0][0] > now:
                    return
                _, _, every, fn, timer = heapq.heappop(self._timers)
                if every is not None and not timer.stopped:
                    heapq.heappush(self._timers, (now + every, next(self._order), every, fn, timer))
            if not timer.stopped:
                fn()
