"""StartJournal: a durable note of every claimed-ahead job, made before its handler starts.

A job claimed ahead is `running` in the database before it starts, and its start is
written lazily with the next transaction (that batching is the claim-ahead's gain). If
the app dies in between, recovery must still know the job ran. So each such start is
first appended to `<instances>/<instance id>.starts` with one write() (no fsync: the
page cache outlives a crash of the app, which is what recovery is for; after a power
loss the database's own last commits may be gone too). Recovery reads the dead
instance's journal and counts a listed run as started, so attempts never undercount.
The file is bounded: once its starts are in the database it is cut back to those that
are not yet (JOURNAL_MAX_BYTES).
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from ..core.job import Job, JobId

JOURNAL_MAX_BYTES = 256 * 1024


def journal_path(instances_dir: Path, instance_id: str) -> Path:
    return instances_dir / f"{instance_id}.starts"


class StartJournal:
    """Thread-safe: pool threads record starts, the scheduler's thread takes them for the next write."""

    def __init__(self, instances_dir: Path, instance_id: str) -> None:
        self.path = journal_path(instances_dir, instance_id)
        self._fd: int | None = None
        self._lock = threading.Lock()
        self._unmarked: list[tuple[JobId, float, int]] = []  # (job id, started at, attempt): not in the database yet
        self._size = 0

    def open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        self._fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND | os.O_TRUNC, 0o600)
        self._size = 0

    def close(self, *, remove: bool) -> None:
        with self._lock:
            fd, self._fd = self._fd, None
        if fd is not None:
            os.close(fd)
        if remove:
            self.path.unlink(missing_ok=True)

    def record(self, *jobs: Job) -> None:
        """Jobs are about to be handed to their handler. Claimed-ahead jobs (no started_at yet)
        are journaled first, in one write; a job claimed for a free slot had its start
        written by the claim."""
        now = time.time()
        new = [job for job in jobs if job.started_at is None]
        if not new:
            return
        for job in new:
            job.started_at = now
        lines = "".join(f"{job.id} {job.attempts}\n" for job in new).encode()
        with self._lock:
            if self._fd is not None:
                os.write(self._fd, lines)
                self._size += len(lines)
            self._unmarked.extend((job.id, now, job.attempts) for job in new)

    @property
    def unmarked(self) -> bool:
        return bool(self._unmarked)

    def take_unmarked(self) -> list[tuple[JobId, float]]:
        """The starts to write with the next transaction."""
        with self._lock:
            taken, self._unmarked = self._unmarked, []
        self._taken = taken
        return [(job_id, at) for job_id, at, _ in taken]

    def put_back(self, _starts: list[tuple[JobId, float]]) -> None:
        """The write failed: keep the taken starts for the next one."""
        with self._lock:
            self._unmarked[:0] = self._taken
        self._taken = []

    def marked(self) -> None:
        """The taken starts are committed; cut the file back when it grew past its bound."""
        self._taken = []
        if self._size < JOURNAL_MAX_BYTES:
            return
        with self._lock:
            if self._fd is None:
                return
            os.ftruncate(self._fd, 0)
            lines = "".join(f"{job_id} {attempt}\n" for job_id, _, attempt in self._unmarked).encode()
            if lines:
                os.write(self._fd, lines)
            self._size = len(lines)

    _taken: list[tuple[JobId, float, int]] = []


def read_journal(instances_dir: Path, instance_id: str) -> frozenset[tuple[JobId, int]]:
    """The (job id, attempt) pairs a dead instance handed to handlers; empty when it left none.
    A torn last line (the app died mid-write) is skipped."""
    try:
        text = journal_path(instances_dir, instance_id).read_text(encoding="ascii", errors="replace")
    except OSError:
        return frozenset()
    pairs = set()
    for line in text.split("\n")[:-1]:  # only whole lines: the last piece has no newline (or is empty)
        parts = line.split()
        if len(parts) == 2 and parts[0].isdigit() and parts[1].isdigit():
            pairs.add((int(parts[0]), int(parts[1])))
    return frozenset(pairs)
