"""SqliteStalls: the `job_stalls` table (schema 6), a part of SqliteJobStore.

Why a part of its own: only the engine that runs a job writes its stall (when it has
heard nothing from the handler for stall_after seconds, and when it hears again); the
socket, the CLI and the window read it. A row counts only while its job is `running` and
was stalled during this run, so a stall never outlives what made it true (a crash of the
app, a retry) even if its row does.
"""

from __future__ import annotations

import time
from typing import Any

from ..core.definitions import JobState, Source
from ..core.job import JobId
from .sqlite_db import SqliteDatabase

# A stall of this run of a running job (a row left by a dead app or an earlier attempt is not).
_CURRENT = "j.state = 'running' AND s.since >= COALESCE(j.started_at, 0)"


class SqliteStalls:
    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db

    def mark_stalled(self, job_id: JobId, since: float, stall_after: float) -> bool:
        """Flag a running job stalled since `since` (its last sign of life), with its event; False
        (nothing written) when the job is not running or is already flagged."""
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM jobs WHERE id = ? AND state = 'running'", (job_id,)).fetchone() is None:
                return False
            if conn.execute("SELECT 1 FROM job_stalls s JOIN jobs j ON j.id = s.job_id WHERE s.job_id = ? AND "
                            + _CURRENT, (job_id,)).fetchone() is not None:  # fmt: skip
                return False
            conn.execute("INSERT OR REPLACE INTO job_stalls (job_id, since, stall_after) VALUES (?, ?, ?)",
                         (job_id, float(since), float(stall_after)))  # fmt: skip
            self.db.event(conn, job_id, Source.WORKER, JobState.RUNNING, JobState.RUNNING, stall_message(stall_after))
        return True

    def clear_stall(self, job_id: JobId, message: str, source: str = "worker") -> bool:
        """Remove a job's stall flag; when it was set on a running job, record `message` as its
        event (e.g. "resumed"). Returns whether a current stall was cleared."""
        with self.db.write() as conn:
            current = conn.execute("SELECT 1 FROM job_stalls s JOIN jobs j ON j.id = s.job_id WHERE s.job_id = ? AND "
                                   + _CURRENT, (job_id,)).fetchone() is not None  # fmt: skip
            conn.execute("DELETE FROM job_stalls WHERE job_id = ?", (job_id,))
            if current and message:
                self.db.event(conn, job_id, source, JobState.RUNNING, JobState.RUNNING, message)
        return current

    def get_stall(self, job_id: JobId) -> dict[str, Any] | None:
        """The job's current stall as {"since": epoch seconds, "for": seconds so far, "stall_after"}, or None."""
        row = self.db.conn.execute(
            "SELECT s.since, s.stall_after FROM job_stalls s JOIN jobs j ON j.id = s.job_id WHERE s.job_id = ? AND "
            + _CURRENT, (job_id,)).fetchone()  # fmt: skip
        if row is None:
            return None
        return {"since": row[0], "for": round(max(0.0, time.time() - row[0]), 3), "stall_after": row[1]}

    def stalled_job_ids(self) -> list[JobId]:
        """Ids of the jobs stalled now, in id order."""
        rows = self.db.conn.execute("SELECT s.job_id FROM job_stalls s JOIN jobs j ON j.id = s.job_id WHERE "
                                    + _CURRENT + " ORDER BY s.job_id")  # fmt: skip
        return [row[0] for row in rows]


def stall_message(stall_after: float) -> str:
    """The event recorded when a job is flagged."""
    return f"stalled: no progress or log line for {stall_after:g} s"
