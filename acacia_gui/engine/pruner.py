"""Pruner: deletes finished jobs past the retention policy, on a background thread.

Why a thread of its own: pruning a million jobs is thousands of small transactions
(store._delete_ids: 500 jobs and 10,000 log lines each, then free pages given back), and
none of them may run on the scheduler's or the window's thread. Between batches it waits as
long as the batch took (a 50% duty cycle at most), so the engine's claims and completions
get the writer, and a window gets a few dozen `deleted` events a second at most (one per
batch, carrying "ids"), never one per job. It wakes once at start, then every `interval` (shorter for short policies),
and at once when the policy changes. The output folders of pruned jobs are removed too
(core/outputs.remove_output_dir: never through a symlink).
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from pathlib import Path

from ..core.definitions import Source
from ..core.durations import RetentionPolicy
from ..core.job import JobState
from ..core.outputs import OutputFolderError, outputs_root_of, remove_output_dir
from ..core.queue import JobQueue

log = logging.getLogger(__name__)

KEEP_FINISHED_STATES = (JobState.SUCCEEDED.value, JobState.CANCELLED.value)
KEEP_FAILED_STATES = (JobState.FAILED.value, JobState.INTERRUPTED.value)
PRUNE_EVERY = 300.0  # seconds between sweeps when the policy keeps jobs for long
BATCH = 50  # jobs per call: one short transaction (~1 ms), so a claim never waits long for the writer
# The pause after a call: as long as it held the writer, and never less than this. A writer that
# found the lock taken is in SQLite's busy handler, which tries again 1, 3, 8, 18 ms later: a
# pause of at least 2 ms after a call shorter than 3 ms always lets one of the first two tries in
# (so it waits ≤ 3 ms), where a pause as short as the call could end before the next try, and the
# next call then beats it to the lock again (a wait of 8 or 18 ms: the claim latency's p99).
MIN_PAUSE = 0.003


def sweep_interval(policy: RetentionPolicy, every: float = PRUNE_EVERY) -> float:
    """A short retention (a test's 2 s) is checked a few times per period, a long one every `every`."""
    periods = [p for p in (policy.keep_finished, policy.keep_failed) if p is not None]
    return max(0.2, min([every, *(p / 4 for p in periods)]))


class Pruner:
    """`start()` runs the sweeps on a daemon thread; `stop()` ends it between two batches."""

    def __init__(self, queue: JobQueue, policy: RetentionPolicy | None = None, *, every: float = PRUNE_EVERY,
                 batch: int = BATCH, clock: Callable[[], float] = time.time) -> None:  # fmt: skip
        self.queue = queue
        self.policy = policy or RetentionPolicy()
        self.every, self.batch, self.clock = every, batch, clock
        self.pruned = 0  # in all, since start
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def set_policy(self, policy: RetentionPolicy) -> None:
        """A new policy (the Settings dialog): applied by a sweep at once."""
        if policy != self.policy:
            self.policy = policy
            log.info("retention: %s", policy.describe())
            self._wake.set()

    def start(self) -> None:
        if self._thread is None:
            self._thread = threading.Thread(target=self._run, name="acacia-pruner", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 5.0) -> None:
        self._stopping.set()
        self._wake.set()
        if self._thread is not None:
            self._thread.join(timeout)
            self._thread = None

    def _run(self) -> None:
        while not self._stopping.is_set():
            try:
                self.sweep()
            except Exception:  # a full disk, a locked file: log it and try again at the next sweep
                log.exception("retention: pruning failed")
            self._wake.wait(sweep_interval(self.policy, self.every))
            self._wake.clear()

    def sweep(self) -> int:
        """Delete every job past the policy, batch by batch; returns how many (and logs it)."""
        policy, now, total = self.policy, self.clock(), 0
        for keep, states in ((policy.keep_finished, KEEP_FINISHED_STATES), (policy.keep_failed, KEEP_FAILED_STATES)):
            if keep is not None:
                total += self._prune(now - keep, states)
        if total:
            self.pruned += total
            log.info("retention: pruned %d finished job(s) (%s)", total, policy.describe())
        return total

    def _prune(self, before: float, states: tuple[str, ...]) -> int:
        count = 0
        root = outputs_root_of(self.queue.store)
        while not self._stopping.is_set():
            began = time.monotonic()
            ids = self.queue.delete_finished_before(before, states, source=Source.WORKER, limit=self.batch)
            count += len(ids)
            if root is not None and root.is_dir():
                remove_folders(root, ids)
            if len(ids) < self.batch:
                break
            self._stopping.wait(max(MIN_PAUSE, time.monotonic() - began))  # yield the writer (MIN_PAUSE)
        return count


def remove_folders(root: Path, ids: list[int]) -> int:
    """Remove the output folders of pruned jobs; one that cannot go is logged and left."""
    removed = 0
    for job_id in ids:
        try:
            removed += remove_output_dir(root, job_id)
        except (OSError, OutputFolderError) as exc:  # e.g. a symlink in its place
            log.warning("retention: the output folder of job %d was not removed: %s", job_id, exc)
    return removed
