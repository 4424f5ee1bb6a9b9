"""Which app instances are alive: an OS file lock held for the life of the process.

The kernel drops a flock when its process dies (kill -9 included), so a dead owner is
detected at once — no lease to wait out. Where flock does not exist (Windows), an
instance counts as dead when its heartbeat is older than HEARTBEAT_STALE seconds.
"""

from __future__ import annotations

import os
import uuid
from pathlib import Path

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
        self._fd: int | None = None
        self._fork_guard = False

    @property
    def path(self) -> Path:
        return self.instances_dir / f"{self.instance_id}.lock"

    def acquire(self) -> None:
        self.instances_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o600)
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BaseException:
                os.close(fd)
                raise
        self._fd = fd
        if hasattr(os, "register_at_fork") and not self._fork_guard:
            self._fork_guard = True
            os.register_at_fork(after_in_child=self._forget_in_child)

    def _forget_in_child(self) -> None:
        """A handler on a thread of the app may fork a helper (os.fork, a multiprocessing
        fork pool): the helper must not keep this lock, or a restart after the app died
        would wait for it. Closing our copy of the descriptor leaves the parent's lock held."""
        fd, self._fd = self._fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def release(self) -> None:
        if self._fd is None:
            return
        try:
            self.path.unlink(missing_ok=True)
        finally:
            os.close(self._fd)
            self._fd = None


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
