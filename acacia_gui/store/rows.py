"""Row shapes shared by the store's modules: the job columns, QueueInfo, row → Job."""

from __future__ import annotations

import json
import sqlite3
from dataclasses import dataclass
from typing import Any

from ..core.job import Job, JobState

JOB_COLUMNS = (
    "id, type, queue, priority, state, payload, attempts, max_attempts, run_at, timeout, progress, "
    "progress_message, result, error, traceback, created_at, started_at, finished_at, instance_id, cancel_requested"
)
SORTABLE_COLUMNS = {
    "id", "type", "queue", "priority", "state", "attempts", "created_at", "started_at", "finished_at", "progress",
}  # fmt: skip


@dataclass(frozen=True)
class QueueInfo:
    name: str
    concurrency: int
    paused: bool
    counts: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "concurrency": self.concurrency, "paused": self.paused, "counts": self.counts}


def row_to_job(row: sqlite3.Row | tuple) -> Job:
    (job_id, job_type, queue, priority, state, payload, attempts, max_attempts, run_at, timeout, progress,
     progress_message, result, error, traceback, created_at, started_at, finished_at, instance_id,
     cancel_requested) = row  # fmt: skip
    job = Job(job_type, json.loads(payload), queue=queue, priority=priority, max_attempts=max_attempts, timeout=timeout)
    job.id = job_id
    job.state = JobState(state)
    job.attempts = attempts
    job.run_at = run_at
    job.progress = progress
    job.progress_message = progress_message
    job.result = json.loads(result) if result is not None else None
    job.error = error
    job.traceback = traceback
    job.created_at = created_at
    job.started_at = started_at
    job.finished_at = finished_at
    job.instance_id = instance_id
    job.cancel_requested = bool(cancel_requested)
    return job
