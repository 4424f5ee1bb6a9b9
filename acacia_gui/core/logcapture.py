"""Route each job's `logging` output into that job, by the thread that runs it."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

LogSink = Callable[[int, float, str, str], None]  # job id, time, level name, message

_bound = threading.local()  # the job this thread runs, for every capture (see is_job_record)


def is_job_record(record: logging.LogRecord) -> bool:
    """True for a record emitted on a thread bound to a job: it belongs in that job's log,
    and the app's own handlers (stderr, a log file) leave it out unless asked to echo it."""
    return getattr(_bound, "job_id", None) is not None


class JobLogCapture(logging.Handler):
    """A root-logger handler: records emitted on a thread bound to a job go to `sink`.

    Install once; `bind()`/`unbind()` around each handler call. Records from unbound
    threads are ignored here (they go to the app's normal log handlers).
    """

    def __init__(self, sink: LogSink, level: int = logging.INFO) -> None:
        super().__init__(level)
        self._sink = sink
        self._local = threading.local()
        self.setFormatter(logging.Formatter("%(message)s"))

    def bind(self, job_id: int) -> None:
        self._local.job_id = job_id
        _bound.job_id = job_id

    def unbind(self) -> None:
        self._local.job_id = None
        _bound.job_id = None

    def emit(self, record: logging.LogRecord) -> None:
        job_id = getattr(self._local, "job_id", None)
        if job_id is None:
            return
        try:
            message = self.format(record)
        except Exception:  # noqa: BLE001 - a bad format string in a plugin's log call
            message = str(record.msg)
        self._sink(job_id, record.created or time.time(), record.levelname, message)

    def install(self) -> None:
        root = logging.getLogger()
        if self not in root.handlers:
            root.addHandler(self)
        if root.level > self.level or root.level == logging.NOTSET:
            root.setLevel(min(self.level, root.level or logging.WARNING))

    def uninstall(self) -> None:
        logging.getLogger().removeHandler(self)
