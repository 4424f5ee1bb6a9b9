"""PostgresArtifacts: the `job_artifacts` table, a part of PostgresJobStore (the port of sqlite_artifacts).

Why a part of its own: artifacts are written by the engine while a job runs (one short
transaction each, so a crash loses none) and read by the window, the socket and the CLI;
neither the job reads nor the engine's claims need to know about them.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from ...core.definitions import MAX_ARTIFACTS_PER_JOB
from ...core.job import JobId
from .db import PostgresDatabase

COLUMNS = ("path", "label", "size", "kind", "at")


class PostgresArtifacts:
    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    def add_artifact(self, job_id: JobId, artifact: dict[str, Any]) -> bool:
        """Record (or update, same path) one artifact of an existing job; False when the job is
        gone or already has MAX_ARTIFACTS_PER_JOB others."""
        values = (str(artifact["path"]), artifact.get("label"), int(artifact["size"]), str(artifact["kind"]),
                  float(artifact["at"]))  # fmt: skip
        with self.db.write() as conn:
            # KEY SHARE: the job cannot be deleted before this commits (no artifact outlives its job),
            # and its other updates (progress, completion) are not held up.
            if conn.execute("SELECT 1 FROM jobs WHERE id = %s FOR KEY SHARE", (job_id,)).fetchone() is None:
                return False
            known = conn.execute("SELECT 1 FROM job_artifacts WHERE job_id = %s AND path = %s", (job_id, values[0])).fetchone()
            if known is None:
                count = conn.execute("SELECT count(*) FROM job_artifacts WHERE job_id = %s", (job_id,)).fetchone()[0]
                if count >= MAX_ARTIFACTS_PER_JOB:
                    return False
            conn.execute(
                "INSERT INTO job_artifacts (job_id, path, label, size, kind, at) VALUES (%s, %s, %s, %s, %s, %s)"
                " ON CONFLICT (job_id, path) DO UPDATE SET label = excluded.label, size = excluded.size,"
                " kind = excluded.kind, at = excluded.at",
                (job_id, *values),
            )
        return True

    def get_artifacts(self, job_id: JobId) -> list[dict[str, Any]]:
        rows = self.db.fetchall(
            "SELECT id, path, label, size, kind, at FROM job_artifacts WHERE job_id = %s ORDER BY id", (job_id,)
        )
        return [_row(row) for row in rows]


def _row(row: tuple) -> dict[str, Any]:
    artifact = dict(zip(("id", *COLUMNS), row, strict=True))
    artifact["name"] = PurePath(artifact["path"]).name or artifact["path"]
    return artifact
