"""BackgroundReader: slow read-only queries (counts over 100,000 rows) off the GUI thread.

One daemon thread runs submitted callables in order; a newer request under the same
key replaces an older one that has not started, so a burst of "recount!" requests
costs one query. Results come back on the main thread through a queued signal. The
store gives each thread its own SQLite connection, so reads here never block the GUI.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)


class BackgroundReader(QObject):
    """submit(key, fn, callback): fn() runs on the reader thread, callback(result) on this object's thread."""

    _finished = Signal(object, object)  # callback, result

    def __init__(self, name: str = "acacia-gui-reader", parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._lock = threading.Condition()
        self._pending: dict[str, tuple[Callable[[], Any], Callable[[Any], None]]] = {}
        self._busy = False
        self._stopped = False
        self._finished.connect(self._deliver)
        self._thread = threading.Thread(target=self._loop, name=name, daemon=True)
        self._thread.start()

    def submit(self, key: str, fn: Callable[[], Any], callback: Callable[[Any], None]) -> None:
        with self._lock:
            if self._stopped:
                return
            self._pending.pop(key, None)
            self._pending[key] = (fn, callback)
            self._lock.notify()

    @property
    def idle(self) -> bool:
        with self._lock:
            return not self._pending and not self._busy

    def stop(self, timeout: float = 2.0) -> None:
        """Drop pending requests and wait (bounded) for the running one; results are then ignored."""
        with self._lock:
            self._stopped = True
            self._pending.clear()
            self._lock.notify()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout)

    def _loop(self) -> None:
        while True:
            with self._lock:
                while not self._pending and not self._stopped:
                    self._lock.wait()
                if self._stopped:
                    return
                key = next(iter(self._pending))
                fn, callback = self._pending.pop(key)
                self._busy = True
            try:
                result = fn()
            except Exception:  # a failed read (database closed at exit, locked) must not end the thread
                log.debug("background read %s failed", key, exc_info=True)
                result = None
                callback = None
            finally:
                with self._lock:
                    self._busy = False
            if callback is not None:
                with self._lock:
                    if self._stopped:
                        return
                try:
                    self._finished.emit(callback, result)
                except RuntimeError:  # the window (and this object) is already gone
                    return

    def _deliver(self, callback: Callable[[Any], None], result: Any) -> None:
        if not self._stopped:
            callback(result)
