"""Schema 9: recurring schedules (core/schedules.py) and the slot a job was enqueued for.

A Python step, like step 0005, for one reason: adding 'schedule' to the events table's source
CHECK. Widening an IN list only lets more rows in, so the schema text is edited in place under
`writable_schema` (https://www.sqlite.org/lang_altertable.html, "Making other kinds of table
schema changes") instead of copying every event row, with the schema version bumped so every
connection reloads it.

- jobs.scheduled_for: the slot's time (epoch seconds) of a job a schedule enqueued; NULL otherwise.
- schedules: one row per schedule; `rule` columns as core.schedules.Schedule, `next_at` the next
  slot (NULL while paused), and what the last firing did (last_slot, last_job_id, last_dropped).
  last_job_id is not a foreign key: deleting that job leaves the schedule as it was.
- schedule_slots: one row per enqueued slot. Its primary key (schedule, slot) is what makes a
  slot fire exactly once, even with two processes on one file: the second INSERT OR IGNORE of a
  slot inserts nothing, and nothing else is written for it. The last SLOTS_KEPT slots of each
  schedule are kept (older ones can never be due again: next_at only moves forward, except after
  a backward clock step, where the last ones kept still stop a repeat).
"""

from __future__ import annotations

import sqlite3

OLD_SOURCE_CHECK = "source IN ('api', 'cli', 'socket', 'gui', 'worker', 'recovery')"
NEW_SOURCE_CHECK = "source IN ('api', 'cli', 'socket', 'gui', 'worker', 'recovery', 'schedule')"
SCHEDULED_FOR_CHECK = "scheduled_for IS NULL OR typeof(scheduled_for) = 'real'"  # rows.COLUMN_RULES, word for word

STATEMENTS = (
    f"ALTER TABLE jobs ADD COLUMN scheduled_for REAL CHECK ({SCHEDULED_FOR_CHECK})",
    "ALTER TABLE jobs_quarantine ADD COLUMN scheduled_for",
    "CREATE TABLE schedules ("
    " name TEXT PRIMARY KEY CHECK (typeof(name) = 'text' AND length(name) BETWEEN 1 AND 64),"
    " type TEXT NOT NULL CHECK (typeof(type) = 'text' AND length(type) BETWEEN 1 AND 200),"
    " payload TEXT NOT NULL CHECK (json_valid(payload)),"
    " every REAL CHECK (every IS NULL OR every >= 1),"
    " cron TEXT,"
    " timezone TEXT,"
    " catch_up TEXT NOT NULL CHECK (catch_up IN ('once', 'all', 'skip')),"
    " max_backlog INTEGER NOT NULL CHECK (max_backlog BETWEEN 1 AND 10000),"
    " queue TEXT,"
    " priority INTEGER NOT NULL DEFAULT 0,"
    " paused INTEGER NOT NULL DEFAULT 0 CHECK (paused IN (0, 1)),"
    " next_at REAL,"
    " last_slot REAL,"
    " last_job_id INTEGER,"
    " last_dropped INTEGER NOT NULL DEFAULT 0,"
    " created_at REAL NOT NULL,"
    " CHECK ((every IS NULL) != (cron IS NULL))"
    ")",
    "CREATE INDEX schedules_due ON schedules (next_at) WHERE paused = 0",
    "CREATE TABLE schedule_slots ("
    " schedule TEXT NOT NULL,"
    " slot REAL NOT NULL,"
    " job_id INTEGER NOT NULL,"
    " PRIMARY KEY (schedule, slot)"
    ") WITHOUT ROWID",
)


def migrate(conn: sqlite3.Connection) -> None:
    """Inside the migration's transaction."""
    for statement in STATEMENTS:
        conn.execute(statement)
    jobs = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'jobs'").fetchone()[0]
    events = conn.execute("SELECT sql FROM sqlite_master WHERE type = 'table' AND name = 'events'").fetchone()[0]
    if events.count(OLD_SOURCE_CHECK) != 1:
        raise sqlite3.DatabaseError("the events table's source CHECK is not the one schema 1 wrote; cannot add 'schedule'")
    version = conn.execute("PRAGMA schema_version").fetchone()[0]
    conn.execute("PRAGMA writable_schema = ON")
    try:
        conn.execute(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'events'",
            (events.replace(OLD_SOURCE_CHECK, NEW_SOURCE_CHECK),),
        )
        # One column per line, as the table was written (tests read each CHECK from its line).
        conn.execute(
            "UPDATE sqlite_master SET sql = ? WHERE type = 'table' AND name = 'jobs'",
            (jobs.replace(", scheduled_for REAL", ",\n    scheduled_for    REAL"),),
        )
        conn.execute(f"PRAGMA schema_version = {version + 1}")
    finally:
        conn.execute("PRAGMA writable_schema = OFF")
