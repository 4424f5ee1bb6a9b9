"""Spawner: starts worker processes from one long-lived thread.

PR_SET_PDEATHSIG fires when the *thread* that started a process exits, not only the
process. Pool threads come and go, so every worker process is started here, from a
daemon thread that lives as long as the app.
"""

from __future__ import annotations

import subprocess
import threading
from collections.abc import Callable
from queue import SimpleQueue
from typing import Any


class Spawner:
    def __init__(self) -> None:
        self._requests: SimpleQueue[tuple[Callable[[], Any], list, threading.Event]] = SimpleQueue()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def popen(self, argv: list[str], **options: Any) -> subprocess.Popen[bytes]:
        """subprocess.Popen(argv, **options), run on the spawner thread; raises what Popen raises."""
        self._ensure_thread()
        box: list = []
        done = threading.Event()
        self._requests.put((lambda: subprocess.Popen(argv, **options), box, done))
        done.wait()
        result = box[0]
        if isinstance(result, BaseException):
            raise result
        return result

    def _ensure_thread(self) -> None:
        with self._lock:
            if self._thread is None:
                self._thread = threading.Thread(target=self._serve, name="acacia-spawner", daemon=True)
                self._thread.start()

    def _serve(self) -> None:
        while True:
            make, box, done = self._requests.get()
            try:
                box.append(make())
            except BaseException as exc:  # noqa: BLE001 - handed back to the caller
                box.append(exc)
            done.set()
