"""Which app instances are alive: an OS file lock held for the life of the process.

The kernel drops a flock when its process dies (kill -9 included), so a dead owner is
detected at once — no lease to wait out. Where flock does not exist (Windows), an
instance counts as dead when its heartbeat is older than HEARTBEAT_STALE seconds.
"""

from __future__ import annotations

import os
import socket
import time
import uuid
from pathlib import Path
from typing import Any

from .file_lock import HeldFileLock

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]

HEARTBEAT_STALE = 30.0


def new_instance_id() -> str:
    return f"{os.getpid()}-{uuid.uuid4().hex[:12]}"


class InstanceLock:
    """Holds `<instances_dir>/<instance_id>.lock` locked until release() or process death."""

    def __init__(self, instances_dir: Path, instance_id: str) -> None:
        self.instances_dir = instances_dir
        self.instance_id = instance_id
        self._lock = HeldFileLock(instances_dir / f"{instance_id}.lock")

    @property
    def path(self) -> Path:
        return self._lock.path

    def acquire(self) -> None:
        self.instances_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._lock.acquire()

    def release(self) -> None:
        fd = self._lock.release()
        if fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(fd)


def instance_is_alive(instances_dir: Path, instance_id: str, heartbeat_at: float | None, now: float) -> bool:
    """True while the owner process of `instance_id` still holds its lock."""
    path = instances_dir / f"{instance_id}.lock"
    if fcntl is None:
        return heartbeat_at is not None and now - heartbeat_at < HEARTBEAT_STALE
    try:
        fd = os.open(path, os.O_RDWR)
    except FileNotFoundError:
        return False
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    else:
        path.unlink(missing_ok=True)  # dead owner: tidy its file
        fcntl.flock(fd, fcntl.LOCK_UN)
        return False
    finally:
        os.close(fd)


def describe_instances(store: Any, instances_dir: Path) -> list[dict[str, Any]]:
    """Every registered instance of `store` with host, pid, heartbeat (and its age), whether it is
    alive and the ids of the jobs it runs: `acacia instances`. A store shared by machines brings its
    own answer (PostgreSQL: liveness.listing(), by its advisory locks and lease); on SQLite every
    instance runs on this machine, and its lock file in `instances_dir` says whether it lives."""
    liveness = getattr(store, "liveness", None)
    if liveness is not None:
        return liveness.listing()
    now = time.time()
    running: dict[str, list[int]] = {}
    for job in store.list_jobs(state="running", preview=True):
        if job.instance_id:
            running.setdefault(job.instance_id, []).append(int(job.id))
    me = (socket.gethostname(), os.getpid())
    out = []
    for row in sorted(store.instances(), key=lambda r: (r["hostname"], r["pid"], r["id"])):
        beat = row["heartbeat_at"]
        out.append({
            "id": row["id"], "host": row["hostname"], "pid": int(row["pid"]), "started_at": row["started_at"],
            "heartbeat_at": beat, "heartbeat_age": max(0.0, now - beat) if beat is not None else None,
            "alive": instance_is_alive(instances_dir, row["id"], beat, now),
            "running": sorted(running.get(row["id"], [])), "this_process": (row["hostname"], int(row["pid"])) == me,
        })  # fmt: skip
    return out
