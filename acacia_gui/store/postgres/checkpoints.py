"""PostgresCheckpoints: the `job_checkpoints` table, a part of PostgresJobStore (the port of sqlite_checkpoints).

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

from ...core.job import JobId
from .db import PostgresDatabase


class PostgresCheckpoints:
    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    def save_checkpoint(self, job_id: JobId, attempt: int, data: str) -> float | None:
        """Replace a job's checkpoint with `data` (JSON text) in one committed transaction; its time,
        or None when the job is gone or has moved on to another attempt (a late, abandoned run)."""
        saved_at = time.time()
        with self.db.write() as conn:
            # KEY SHARE on the job: a delete waits for this commit and then deletes the checkpoint too.
            row = conn.execute(
                "INSERT INTO job_checkpoints (job_id, data, saved_at, attempt)"
                " SELECT id, %s, %s, %s FROM jobs WHERE id = %s AND attempts = %s FOR KEY SHARE"
                " ON CONFLICT (job_id) DO UPDATE SET data = excluded.data,"
                " saved_at = excluded.saved_at, attempt = excluded.attempt RETURNING job_id",
                (data, saved_at, attempt, job_id, attempt),
            ).fetchone()
        return saved_at if row is not None else None

    def get_checkpoint(self, job_id: JobId) -> dict[str, Any] | None:
        return self.get_checkpoints((job_id,)).get(job_id)

    def get_checkpoints(self, job_ids: Iterable[JobId]) -> dict[JobId, dict[str, Any]]:
        ids = list(job_ids)
        if not ids:
            return {}
        rows = self.db.fetchall("SELECT job_id, data, saved_at, attempt FROM job_checkpoints WHERE job_id = ANY(%s)", (ids,))
        return {job_id: {"data": json.loads(data), "saved_at": saved_at, "attempt": attempt}
                for job_id, data, saved_at, attempt in rows}  # fmt: skip
