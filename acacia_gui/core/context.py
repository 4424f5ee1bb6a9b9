"""Go's context.Context in Python: cancellation and deadlines, parents cancel children.

A Context is thread-safe. Deadlines are `time.monotonic()` values; `remaining` gives
seconds left. A deadline fires cancel callbacks from a timer thread, so code blocked
outside Python (a subprocess, a socket) can be woken through `on_cancel`. That timer
thread starts only once a callback is registered on a context with a deadline:
`cancelled`, `check` and `wait` honour the deadline by themselves, so the many timed
contexts nobody registers a callback on cost no thread.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from .errors import Cancelled, DeadlineExceeded


class Context:
    """Cancellation signal plus an optional deadline, shared by a job and its helpers."""

    __slots__ = ("__weakref__", "_callbacks", "_cause", "_children", "_deadline", "_done", "_event", "_lock", "_parent",
                 "_timer")  # fmt: skip

    def __init__(self, parent: Context | None = None, deadline: float | None = None) -> None:
        self._parent = parent
        self._done = False  # cancelled; set under _lock
        self._event: threading.Event | None = None  # made by the first wait(): most contexts never wait
        self._lock = threading.Lock()
        self._cause: BaseException | None = None
        self._children: list[Context] = []
        self._callbacks: list[Callable[[], None]] = []
        self._timer: threading.Timer | None = None
        if parent is not None and parent._deadline is not None:
            deadline = parent._deadline if deadline is None else min(deadline, parent._deadline)
        self._deadline = deadline
        if parent is not None:
            parent._adopt(self)
        if deadline is not None and not self._done and deadline <= time.monotonic():
            self.cancel(DeadlineExceeded("deadline exceeded"))

    # -- construction -------------------------------------------------------------
    @classmethod
    def background(cls) -> Context:
        """A root context that is never cancelled on its own."""
        return cls()

    def with_cancel(self) -> Context:
        """A child that can be cancelled alone and is cancelled with this one."""
        return Context(self)

    def with_timeout(self, seconds: float) -> Context:
        """A child cancelled with DeadlineExceeded after `seconds` (or with its parent)."""
        return Context(self, time.monotonic() + max(0.0, float(seconds)))

    def with_deadline(self, deadline: float) -> Context:
        """A child cancelled at the monotonic time `deadline`."""
        return Context(self, deadline)

    # -- state ----------------------------------------------------------------------
    @property
    def cancelled(self) -> bool:
        if self._done:
            return True
        if self._deadline is not None and time.monotonic() >= self._deadline:
            self._expire()
            return True
        return False

    @property
    def deadline(self) -> float | None:
        """The monotonic time at which this context expires, or None."""
        return self._deadline

    @property
    def remaining(self) -> float | None:
        """Seconds until the deadline (never negative), or None without one."""
        if self._deadline is None:
            return None
        return max(0.0, self._deadline - time.monotonic())

    @property
    def cause(self) -> BaseException | None:
        """Why this context was cancelled (Cancelled, DeadlineExceeded, …), or None."""
        if self.cancelled:
            return self._cause
        return None

    def check(self) -> None:
        """Raise the cancellation cause if cancelled; return otherwise."""
        if self.cancelled:
            cause = self._cause or Cancelled("cancelled")
            raise cause if isinstance(cause, Cancelled) else Cancelled(str(cause))

    def wait(self, seconds: float | None = None) -> bool:
        """Sleep up to `seconds`, waking early on cancellation. True when cancelled."""
        timeout = seconds
        remaining = self.remaining
        if remaining is not None:
            timeout = remaining if timeout is None else min(timeout, remaining)
        event = self._event
        if event is None:
            with self._lock:
                if self._event is None:
                    self._event = threading.Event()
                    if self._done:
                        self._event.set()
                event = self._event
        event.wait(timeout)
        return self.cancelled

    # -- actions --------------------------------------------------------------------
    def cancel(self, cause: BaseException | None = None) -> None:
        """Cancel this context and all its children. Idempotent; the first cause wins."""
        with self._lock:
            if self._done:
                return
            self._cause = cause if cause is not None else Cancelled("cancelled")
            self._done = True
            if self._event is not None:
                self._event.set()
            children, self._children = self._children, []
            callbacks, self._callbacks = self._callbacks, []
            timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()
        for child in children:
            child.cancel(self._cause)
        for callback in callbacks:
            try:
                callback()
            except Exception:  # a broken callback must not stop the others
                import logging

                logging.getLogger(__name__).exception("cancel callback failed")

    def on_cancel(self, callback: Callable[[], None]) -> None:
        """Call `callback` (from whichever thread cancels) once this context is cancelled.

        With a deadline, this starts the timer thread that fires it (once per context)."""
        timer = None
        with self._lock:
            done = self._done
            if not done:
                self._callbacks.append(callback)
                if self._deadline is not None and self._timer is None:
                    timer = self._timer = threading.Timer(max(0.0, self._deadline - time.monotonic()), self._expire)
                    timer.daemon = True
        if done:
            callback()
        elif timer is not None:
            timer.start()  # a cancel() in between cancelled it already: it then ends at once

    def release(self) -> None:
        """Drop timers (this context's and its children's) and links to the parent once the
        work is done (no cancel)."""
        with self._lock:
            timer, self._timer = self._timer, None
            children, self._children = self._children, []
            self._callbacks = []
        if timer is not None:
            timer.cancel()
        for child in children:
            child.release()
        if self._parent is not None:
            self._parent._forget(self)

    # -- internals ------------------------------------------------------------------
    def _expire(self) -> None:
        self.cancel(DeadlineExceeded("deadline exceeded"))

    def _adopt(self, child: Context) -> None:
        with self._lock:
            if not self._done:
                self._children.append(child)
                return
        child.cancel(self._cause)

    def _forget(self, child: Context) -> None:
        with self._lock:
            try:
                self._children.remove(child)
            except ValueError:
                pass

    def __repr__(self) -> str:
        state = "cancelled" if self.cancelled else "active"
        return f"<Context {state} remaining={self.remaining}>"
