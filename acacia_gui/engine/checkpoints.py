"""CheckpointRecorder: a running job's checkpoints, committed before save_checkpoint returns,
and each claimed job's last checkpoint handed to it before it starts.

Why written at once, not batched like progress (engine/output.py): a checkpoint is a promise
that the work before it need not be redone, so it must be on disk when the handler moves
on. Why read per claim, not per start: one indexed `IN (...)` read for all the jobs a
transaction claimed costs the no-op throughput nothing measurable, where a read per job
would be a query on every start. Called on a pool thread by the handler (thread isolation)
or by the supervisor when the worker process sends a `checkpoint` message.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from typing import Any

from ..core.errors import InvalidOptionError
from ..core.job import Job

log = logging.getLogger(__name__)


class CheckpointRecorder:
    """The app's CheckpointSink (core/checkpoints.py) over the store."""

    def __init__(self, store: Any) -> None:
        self.store = store

    def save(self, job_id: int, attempt: int, text: str) -> None:
        if self.store.save_checkpoint(job_id, attempt, text) is None:
            raise InvalidOptionError(f"job {job_id} is gone or has moved on from attempt {attempt}: checkpoint not saved")

    def hand_out(self, jobs: Sequence[Job]) -> None:
        """Set each claimed job's `checkpoint` to its last saved value (None when it has none)."""
        if not jobs:
            return
        try:
            found = self.store.get_checkpoints([job.id for job in jobs])
        except Exception:  # the jobs are claimed: they must start, even if they redo their work
            log.exception("could not read the checkpoints of %d claimed job(s); they start from the beginning", len(jobs))
            found = {}
        for job in jobs:
            saved = found.get(job.id)
            job.checkpoint = saved["data"] if saved is not None else None
