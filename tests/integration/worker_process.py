"""A worker process for crash and multi-process tests: the real PoolWorker on a real file.

Usage: python worker_process.py DB INSTANCES_DIR RECORD_FILE CONCURRENCY
Handler "rec.sleep" writes "start|end <pid> <job id> <attempt> <time>" lines to RECORD_FILE
(O_APPEND, one write per line) and sleeps payload["seconds"], interruptibly.
Handler "rec.fragile" is the same but declares on_interrupt="fail".
Handler "rec.meet" records the same lines, but instead of sleeping waits until another
process has recorded a start (at most payload["seconds"]).
"""

from __future__ import annotations

import os
import signal
import sys
import time

from PySide6.QtCore import QCoreApplication, QTimer

from acacia_gui.core.context import Context
from acacia_gui.core.queue import JobQueue
from acacia_gui.core.registry import Registry
from acacia_gui.qt.worker import PoolWorker
from acacia_gui.store.sqlite import SqliteJobStore


def main() -> int:
    db, instances, record, concurrency = sys.argv[1], sys.argv[2], sys.argv[3], int(sys.argv[4])
    fd = os.open(record, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)

    def write(kind: str, job) -> None:
        os.write(fd, f"{kind} {os.getpid()} {job.id} {job.attempts} {time.time():.6f}\n".encode())

    def sleeper(ctx, job):
        write("start", job)
        ctx.wait(job.payload.get("seconds", 0))
        ctx.check()
        write("end", job)
        return job.id

    def meet(ctx, job):
        """Wait (up to payload["seconds"]) until another process has started a job: while it
        waits, it holds its slot, so one process cannot take every job."""
        write("start", job)
        deadline = time.monotonic() + job.payload.get("seconds", 60)
        me = str(os.getpid())
        while time.monotonic() < deadline:
            with open(record) as lines:
                if any(line.split()[:1] == ["start"] and line.split()[1] != me for line in lines):
                    break
            ctx.wait(0.01)
        ctx.check()
        write("end", job)
        return job.id

    app = QCoreApplication(sys.argv[:1])
    registry = Registry()
    registry.register_handler("rec.sleep", sleeper, max_attempts=5)
    registry.register_handler("rec.meet", meet, max_attempts=5)
    registry.register_handler("rec.fragile", sleeper, max_attempts=5, on_interrupt="fail")
    store = SqliteJobStore(db)
    worker = PoolWorker(JobQueue(store, registry), concurrency=concurrency, instances_dir=__import__("pathlib").Path(instances))
    worker.start(Context.background(), registry)

    stop_requested = []

    def stop_if_asked():
        # The signal handler only sets a flag: stopping from inside whatever slot the
        # signal interrupted would nest a second event loop in it.
        if stop_requested and worker.is_running:
            worker.stop(Context.background().with_timeout(2))
            app.exit(0)

    signal.signal(signal.SIGTERM, lambda *_: stop_requested.append(1))
    tick = QTimer()
    tick.timeout.connect(stop_if_asked)  # also lets Python run signal handlers
    tick.start(50)
    print("ready", flush=True)
    return app.exec()


if __name__ == "__main__":
    raise SystemExit(main())
