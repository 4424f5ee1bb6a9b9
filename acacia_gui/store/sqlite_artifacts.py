"""SqliteArtifacts: the `job_artifacts` table (schema 4), a part of SqliteJobStore.

Why a part of its own: artifacts are written by the engine while a job runs (one short
transaction each, so a crash loses none) and read by the window, the socket and the CLI;
neither the job reads nor the engine's claims need to know about them.
"""

from __future__ import annotations

from pathlib import PurePath
from typing import Any

from ..core.definitions import MAX_ARTIFACTS_PER_JOB
from ..core.job import JobId
from .sqlite_db import SqliteDatabase

COLUMNS = ("path", "label", "size", "kind", "at")


class SqliteArtifacts:
    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db

    def add_artifact(self, job_id: JobId, artifact: dict[str, Any]) -> bool:
        """Record (or update, same path) one artifact of an existing job; False when the job is
        gone or already has MAX_ARTIFACTS_PER_JOB others."""
        values = (str(artifact["path"]), artifact.get("label"), int(artifact["size"]), str(artifact["kind"]),
                  float(artifact["at"]))  # fmt: skip
        with self.db.write() as conn:
            known = conn.execute("SELECT 1 FROM job_artifacts WHERE job_id = ? AND path = ?", (job_id, values[0])).fetchone()
            if known is None:
                count = conn.execute("SELECT count(*) FROM job_artifacts WHERE job_id = ?", (job_id,)).fetchone()[0]
                exists = conn.execute("SELECT 1 FROM jobs WHERE id = ?", (job_id,)).fetchone()
                if count >= MAX_ARTIFACTS_PER_JOB or exists is None:
                    return False
            conn.execute(
                "INSERT INTO job_artifacts (job_id, path, label, size, kind, at) VALUES (?, ?, ?, ?, ?, ?)"
                " ON CONFLICT (job_id, path) DO UPDATE SET label = excluded.label, size = excluded.size,"
                " kind = excluded.kind, at = excluded.at",
                (job_id, *values),
            )
        return True

    def get_artifacts(self, job_id: JobId) -> list[dict[str, Any]]:
        rows = self.db.conn.execute(
            "SELECT id, path, label, size, kind, at FROM job_artifacts WHERE job_id = ? ORDER BY id", (job_id,)
        )
        return [_row(row) for row in rows]


def _row(row: tuple) -> dict[str, Any]:
    artifact = dict(zip(("id", *COLUMNS), row, strict=True))
    artifact["name"] = PurePath(artifact["path"]).name or artifact["path"]
    return artifact

