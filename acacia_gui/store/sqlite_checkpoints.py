"""SqliteCheckpoints: the `job_checkpoints` table (schema 7), a part of SqliteJobStore.

Why a part of its own: a checkpoint is written by a running job's handler (one short
transaction each, committed before save_checkpoint returns) and read once per claim
batch by the engine (one indexed read for all the jobs claimed) and by the details views;
the job reads and the claims need not know about it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable
from typing import Any

from ..core.job import JobId
from .sqlite_db import SqliteDatabase

BATCH = 500  # ids per `IN (...)` read, under SQLite's bound on parameters


class SqliteCheckpoints:
    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db

    def save_checkpoint(self, job_id: JobId, attempt: int, data: str) -> float | None:
        """Replace a job's checkpoint with `data` (JSON text) in one committed transaction; its time,
        or None when the job is gone or has moved on to another attempt (a late, abandoned run)."""
        saved_at = time.time()
        with self.db.write() as conn:
            row = conn.execute(
                "INSERT INTO job_checkpoints (job_id, data, saved_at, attempt) SELECT id, ?, ?, ? FROM jobs"
                " WHERE id = ? AND attempts = ? ON CONFLICT (job_id) DO UPDATE SET data = excluded.data,"
                " saved_at = excluded.saved_at, attempt = excluded.attempt RETURNING job_id",
                (data, saved_at, attempt, job_id, attempt),
            ).fetchone()
        return saved_at if row is not None else None

    def get_checkpoint(self, job_id: JobId) -> dict[str, Any] | None:
        found = self.get_checkpoints((job_id,))
        return found.get(job_id)

    def get_checkpoints(self, job_ids: Iterable[JobId]) -> dict[JobId, dict[str, Any]]:
        ids = list(job_ids)
        found: dict[JobId, dict[str, Any]] = {}
        conn = self.db.conn
        for start in range(0, len(ids), BATCH):
            chunk = ids[start : start + BATCH]
            marks = ", ".join("?" * len(chunk))
            for job_id, data, saved_at, attempt in conn.execute(
                f"SELECT job_id, data, saved_at, attempt FROM job_checkpoints WHERE job_id IN ({marks})", chunk
            ):
                found[job_id] = {"data": json.loads(data), "saved_at": saved_at, "attempt": attempt}
        return found
