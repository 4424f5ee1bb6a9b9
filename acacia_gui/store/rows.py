"""Row shapes shared by the SQLite store's modules: the job columns, row → Job (and QueueInfo, from the contract)."""

from __future__ import annotations

import json
import sqlite3

from ..core.interfaces import QueueInfo as QueueInfo  # the contract's value type, re-exported for the store's modules
from ..core.job import Job, JobState

JOB_COLUMNS = (
    "id, type, queue, priority, state, payload, attempts, max_attempts, run_at, timeout, progress, "
    "progress_message, result, error, traceback, created_at, started_at, finished_at, instance_id, cancel_requested, "
    "interruptions, cancel_grace, memory_limit, cpu_time_limit, nice"
)


_STATES = {state.value: state for state in JobState}
_new_job = object.__new__
_loads = json.loads


def row_to_job(row: sqlite3.Row | tuple) -> Job:
    """A Job from a JOB_COLUMNS row. Sets every slot directly (no __init__, no enum call):
    the worker builds one per claimed job, and the GUI one per visible row."""
    job = _new_job(Job)
    (job.id, job.type, job.queue, job.priority, state, payload, job.attempts, job.max_attempts, job.run_at,
     job.timeout, job.progress, job.progress_message, result, job.error, job.traceback, job.created_at,
     job.started_at, job.finished_at, job.instance_id, cancel_requested, job.interruptions, job.cancel_grace,
     job.memory_limit, job.cpu_time_limit, job.nice) = row  # fmt: skip
    job.state = _STATES[state]
    job.payload = _loads(payload)
    job.result = _loads(result) if result is not None else None
    job.cancel_requested = bool(cancel_requested)
    job.context = None
    job._reporter = None
    job.delay = 0.0
    return job
