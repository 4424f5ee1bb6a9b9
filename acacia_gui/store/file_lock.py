"""HeldFileLock: an exclusive flock held through one descriptor for as long as its holder lives.

The kernel drops the lock when the process dies (kill -9 included). A helper forked by a
thread-isolated handler closes its copy of the descriptor at once, so it never keeps
the lock alive after the app is gone. Where flock does not exist (Windows) the file is
only opened.
"""

from __future__ import annotations

import os
from pathlib import Path

try:
    import fcntl
except ImportError:  # pragma: no cover - Windows
    fcntl = None  # type: ignore[assignment]


class HeldFileLock:
    def __init__(self, path: Path) -> None:
        self.path = path
        self.fd: int | None = None
        self._fork_guard = False

    def acquire(self) -> int:
        """Open the file (0600, no symlink followed) and lock it; returns the descriptor.
        Raises BlockingIOError at once if another process holds it."""
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0),
                     0o600)  # fmt: skip
        if fcntl is not None:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BaseException:
                os.close(fd)
                raise
        self.fd = fd
        if hasattr(os, "register_at_fork") and not self._fork_guard:
            self._fork_guard = True
            os.register_at_fork(after_in_child=self._forget_in_child)
        return fd

    def _forget_in_child(self) -> None:
        """In a forked child: close our copy only; the parent's lock stays held."""
        fd, self.fd = self.fd, None
        if fd is not None:
            try:
                os.close(fd)
            except OSError:
                pass

    def release(self) -> int | None:
        """Stop holding it; returns the descriptor for the caller to close (None if not held)."""
        fd, self.fd = self.fd, None
        return fd
