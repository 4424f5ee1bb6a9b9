"""PostgresStalls: the `job_stalls` table, a part of PostgresJobStore (the port of sqlite_stalls).

Why a part of its own: only the engine that runs a job writes its stall (when it has
heard nothing from the handler for stall_after seconds, and when it hears again); the
socket, the CLI and the window read it. A row counts only while its job is `running` and
was stalled during this run, so a stall never outlives what made it true (a crash of the
app, a retry) even if its row does.
"""

from __future__ import annotations

import time
from typing import Any

from ...core.definitions import JobState, Source
from ...core.job import JobId
from ..sqlite_stalls import stall_message
from .db import PostgresDatabase

__all__ = ["PostgresStalls", "stall_message"]

# A stall of this run of a running job (a row left by a dead app or an earlier attempt is not).
_CURRENT = "j.state = 'running' AND s.since >= COALESCE(j.started_at, 0)"


class PostgresStalls:
    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    def mark_stalled(self, job_id: JobId, since: float, stall_after: float) -> bool:
        """Flag a running job stalled since `since` (its last sign of life), with its event; False
        (nothing written) when the job is not running or is already flagged."""
        with self.db.write() as conn:
            # FOR SHARE: the job stays running (its completion waits) until this commits, as SQLite's lock ensured.
            if conn.execute("SELECT 1 FROM jobs WHERE id = %s AND state = 'running' FOR SHARE", (job_id,)).fetchone() is None:
                return False
            if conn.execute("SELECT 1 FROM job_stalls s JOIN jobs j ON j.id = s.job_id WHERE s.job_id = %s AND "
                            + _CURRENT + " FOR UPDATE OF s", (job_id,)).fetchone() is not None:  # fmt: skip
                return False
            conn.execute(
                "INSERT INTO job_stalls (job_id, since, stall_after) VALUES (%s, %s, %s)"
                " ON CONFLICT (job_id) DO UPDATE SET since = excluded.since, stall_after = excluded.stall_after",
                (job_id, float(since), float(stall_after)),
            )
            self.db.event(conn, job_id, Source.WORKER, JobState.RUNNING, JobState.RUNNING, stall_message(stall_after))
        return True

    def clear_stall(self, job_id: JobId, message: str, source: str = "worker") -> bool:
        """Remove a job's stall flag; when it was set on a running job, record `message` as its
        event (e.g. "resumed"). Returns whether a current stall was cleared."""
        with self.db.write() as conn:
            cleared = conn.execute("DELETE FROM job_stalls WHERE job_id = %s RETURNING since", (job_id,)).fetchone()
            current = cleared is not None and conn.execute(
                "SELECT 1 FROM jobs WHERE id = %s AND state = 'running' AND %s >= COALESCE(started_at, 0)", (job_id, cleared[0])
            ).fetchone() is not None  # fmt: skip
            if current and message:
                self.db.event(conn, job_id, source, JobState.RUNNING, JobState.RUNNING, message)
        return current

    def get_stall(self, job_id: JobId) -> dict[str, Any] | None:
        """The job's current stall as {"since": epoch seconds, "for": seconds so far, "stall_after"}, or None."""
        row = self.db.fetchone(
            "SELECT s.since, s.stall_after FROM job_stalls s JOIN jobs j ON j.id = s.job_id WHERE s.job_id = %s AND " + _CURRENT,
            (job_id,),
        )
        if row is None:
            return None
        return {"since": row[0], "for": round(max(0.0, time.time() - row[0]), 3), "stall_after": row[1]}

    def stalled_job_ids(self) -> list[JobId]:
        """Ids of the jobs stalled now, in id order."""
        rows = self.db.fetchall("SELECT s.job_id FROM job_stalls s JOIN jobs j ON j.id = s.job_id WHERE "
                                + _CURRENT + " ORDER BY s.job_id")  # fmt: skip
        return [row[0] for row in rows]
