"""Schema 10: jobs.ran_on, "host:pid" of the instance that last claimed the job (issue 14).

Written by the claim (the UPDATE that makes a job `running`, sqlite_worker) and never cleared:
instance_id says who runs a job only while it runs, ran_on says who ran it after it ended (a
retried job shows its last claimer). NULL for a job never claimed, and for every row an older
schema wrote.

A Python step, like step 0009, only to keep the table's text one column per line: ALTER TABLE
appends the new column on the line of the last one, and tests/unit/test_store.py reads each
CHECK from its own line. The text is rewritten under `writable_schema` (the change is only
whitespace) with the schema version bumped so every connection reloads it.
"""

from __future__ import annotations

import sqlite3

RAN_ON_CHECK = "ran_on IS NULL OR typeof(ran_on) = 'text'"  # rows.COLUMN_RULES, word for word
ADDED = ", ran_on TEXT"

STATEMENTS = (
    f"ALTER TABLE jobs ADD COLUMN ran_on TEXT CHECK ({RAN_ON_CHECK})",
    "ALTER TABLE jobs_quarantine ADD COLUMN ran_on",
)


def migrate(conn: sqlite3.Connection) -> None:
    """Inside the migration's transaction."""
    for statement in STATEMENTS:
        conn.execute(statement)
    jobs = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'jobs'").fetchone()[0]
    if jobs.count(ADDED) != 1:
        return  # written some other way (another program's edit): leave the text as SQLite made it
    version = conn.execute("PRAGMA schema_version").fetchone()[0]
    conn.execute("PRAGMA writable_schema = ON")
    try:
        conn.execute(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'jobs'",
            (jobs.replace(ADDED, ",\n    ran_on           TEXT"),),
        )
        conn.execute(f"PRAGMA schema_version = {version + 1}")
    finally:
        conn.execute("PRAGMA writable_schema = OFF")
