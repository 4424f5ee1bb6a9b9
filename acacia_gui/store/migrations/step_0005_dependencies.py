"""Schema 5: jobs that run after others (`after`), the `waiting` state, and unique keys.

A Python step, not a script, for one reason: adding `waiting` to the state CHECK. SQLite
cannot alter a CHECK, and rebuilding `jobs` would copy every row (minutes on a big file,
and a row another program broke since schema 3 would stop the upgrade). Widening an IN
list only lets more rows in, so the schema text is edited in place under
`writable_schema`, the procedure SQLite documents for loosening a constraint
(https://www.sqlite.org/lang_altertable.html, "Making other kinds of table schema
changes"), with the schema version bumped so every connection reloads it.
"""

from __future__ import annotations

import sqlite3

OLD_STATE_CHECK = "state IN ('queued', 'scheduled', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')"
NEW_STATE_CHECK = "state IN ('waiting', 'queued', 'scheduled', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')"

STATEMENTS = (
    # A key no two jobs that are not final may share: the partial unique index enforces it.
    "ALTER TABLE jobs ADD COLUMN unique_key TEXT"
    " CHECK (unique_key IS NULL OR (typeof(unique_key) = 'text' AND length(unique_key) BETWEEN 1 AND 200))",
    "ALTER TABLE jobs_quarantine ADD COLUMN unique_key",
    "CREATE UNIQUE INDEX jobs_unique_key ON jobs (unique_key)"
    " WHERE unique_key IS NOT NULL AND state IN ('waiting', 'queued', 'scheduled', 'running')",
    # One row per edge: `job_id` runs after `depends_on`, under the job's policy. The edges stay
    # when jobs finish (the Dependencies tab shows them); they go when either job is deleted.
    "CREATE TABLE job_dependencies ("
    " job_id INTEGER NOT NULL,"
    " depends_on INTEGER NOT NULL,"
    " policy TEXT NOT NULL CHECK (policy IN ('success', 'finished')),"
    " PRIMARY KEY (job_id, depends_on),"
    " CHECK (job_id != depends_on)"
    ") WITHOUT ROWID",
    "CREATE INDEX job_dependencies_upstream ON job_dependencies (depends_on, job_id)",
    # Finished jobs whose dependents are not all settled yet (the engine settles a bounded
    # number per transaction): go on after dependent `after_job`.
    "CREATE TABLE release_backlog (depends_on INTEGER PRIMARY KEY, after_job INTEGER NOT NULL)",
)


def migrate(conn: sqlite3.Connection) -> None:
    """Inside the migration's transaction."""
    for statement in STATEMENTS:
        conn.execute(statement)
    schema = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'jobs'").fetchone()[0]
    if schema.count(OLD_STATE_CHECK) != 1:
        raise sqlite3.DatabaseError("the jobs table's state CHECK is not the one schema 3 wrote; cannot add 'waiting'")
    version = conn.execute("PRAGMA schema_version").fetchone()[0]
    conn.execute("PRAGMA writable_schema = ON")
    try:
        new_schema = schema.replace(OLD_STATE_CHECK, NEW_STATE_CHECK).replace(", unique_key TEXT", ",\n    unique_key       TEXT")
        conn.execute("UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'jobs'", (new_schema,))
        conn.execute(f"PRAGMA schema_version = {version + 1}")
    finally:
        conn.execute("PRAGMA writable_schema = OFF")
