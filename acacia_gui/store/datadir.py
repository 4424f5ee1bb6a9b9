"""The data folder: private modes, and the lock that lets one app run on it at a time.

Everything in the data folder is ours alone: the folder is 0700 and the database (with its
-wal and -shm, which SQLite creates with the database's mode), the lock, instance files and
journals are 0600. An install made by an older version (0755 / 0644) is tightened at start.

The app lock (`<data>/acacia.lock`, holding the owner's pid) is an exclusive `flock`, taken
before the app listens and held for its lifetime. The kernel drops it when the process
dies (kill -9 included), so it decides which of two apps started at the same instant runs,
whatever the socket or XDG_RUNTIME_DIR say.
"""

from __future__ import annotations

import os
import stat
import time
from pathlib import Path

from .file_lock import HeldFileLock

LOCK_NAME = "acacia.lock"
PRIVATE_FILES = ("acacia.db", "acacia.db-wal", "acacia.db-shm", "acacia.db-journal", LOCK_NAME)
PRIVATE_FOLDERS = ("instances",)


def make_private_dir(path: Path) -> None:
    """Create the data folder 0700 (its parents with default modes) if it does not exist."""
    try:
        try:
            path.mkdir(mode=0o700)
        except FileNotFoundError:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.mkdir(mode=0o700)
    except FileExistsError:
        if not path.is_dir():
            raise
        return
    os.chmod(path, 0o700)  # whatever the umask


def create_private_file(path: Path) -> None:
    """Create `path` 0600 if missing (before SQLite opens it: its -wal and -shm copy the mode)."""
    try:
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    except FileExistsError:
        return
    os.close(fd)


def tighten_modes(data_dir: Path) -> list[str]:
    """Remove group and other bits from the data folder and its private files; the paths changed.

    Only what we own is changed (never through a symlink). The plugin folder is not touched:
    a plugin folder others could write to is refused by the loader, with the fix, because
    loosened write bits may already have let someone plant code there.
    """
    if os.name != "posix":
        return []
    changed: list[str] = []
    folders = [data_dir, *(data_dir / name for name in PRIVATE_FOLDERS)]
    files = [data_dir / name for name in PRIVATE_FILES]
    for folder in folders[1:]:
        if folder.is_dir() and not folder.is_symlink():
            files += [p for p in folder.iterdir() if p.is_file() and not p.is_symlink()]
    for path in folders + files:
        try:
            st = os.lstat(path)
        except OSError:
            continue
        if stat.S_ISLNK(st.st_mode) or st.st_uid != os.geteuid() or not st.st_mode & 0o077:
            continue
        try:
            os.chmod(path, stat.S_IMODE(st.st_mode) & 0o700)
        except OSError:
            continue
        changed.append(f"{path} ({stat.S_IMODE(st.st_mode):o} → {stat.S_IMODE(st.st_mode) & 0o700:o})")
    return changed


class AlreadyLocked(Exception):
    """Another process holds the data folder's app lock; `pid` is the one its file names (or None)."""

    def __init__(self, path: Path, pid: int | None) -> None:
        super().__init__(f"{path} is locked by pid {pid if pid is not None else '?'}")
        self.path = path
        self.pid = pid


class AppLock:
    """`<data_dir>/acacia.lock`, locked for the life of the app (released by release() or death)."""

    def __init__(self, data_dir: Path) -> None:
        self.path = data_dir / LOCK_NAME
        self._lock = HeldFileLock(self.path)

    def acquire(self) -> None:
        """Take the lock and write our pid into the file. Raises AlreadyLocked at once if held."""
        try:
            fd = self._lock.acquire()
        except BlockingIOError:
            raise AlreadyLocked(self.path, read_lock_pid(self.path)) from None
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())

    def release(self) -> None:
        """Drop the lock. The file stays (removing it would race with a new owner's open)."""
        fd = self._lock.release()
        if fd is None:
            return
        try:
            os.ftruncate(fd, 0)
        except OSError:
            pass
        os.close(fd)


def read_lock_pid(path: Path, wait: float = 1.0) -> int | None:
    """The pid written in a held lock file (the owner may be writing it: wait up to `wait` s)."""
    deadline = time.monotonic() + wait
    while True:
        try:
            text = path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            text = ""
        if text.isdigit():
            return int(text)
        if time.monotonic() >= deadline:
            return None
        time.sleep(0.02)
