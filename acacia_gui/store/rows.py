"""Row shapes shared by the SQLite store's modules: the job columns, row → Job (and QueueInfo, from the contract),
and what a broken row is (COLUMN_RULES), how it is read anyway and how it is set aside."""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from typing import Any

from ..core.definitions import LIST_PREVIEW_CHARS
from ..core.interfaces import QueueInfo as QueueInfo  # the contract's value type, re-exported for the store's modules
from ..core.job import Job, JobId, JobState, Preview

JOB_COLUMNS = (
    "id, type, queue, priority, state, payload, attempts, max_attempts, run_at, timeout, progress, "
    "progress_message, result, error, traceback, created_at, started_at, finished_at, instance_id, cancel_requested, "
    "interruptions, cancel_grace, memory_limit, cpu_time_limit, nice, unique_key, scheduled_for, ran_on"
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
     job.memory_limit, job.cpu_time_limit, job.nice, job.unique_key, job.scheduled_for, job.ran_on) = row  # fmt: skip
    job.state = _STATES[state]
    job.payload = _loads(payload)
    job.result = _loads(result) if result is not None else None
    job.cancel_requested = bool(cancel_requested)
    job.context = None
    job._reporter = None
    job._outputs = None
    job._artifacts_added = 0
    job._checkpoints = None
    job.checkpoint = None
    job.delay = 0.0
    job.after = []
    job.after_policy = "success"
    job.on_conflict = "return"
    job.conflict = None
    return job


def _cut(column: str) -> str:
    return f"CASE WHEN length({column}) > {LIST_PREVIEW_CHARS} THEN 'null' ELSE {column} END"


# JOB_COLUMNS with a long payload or result left out ('null'), then the first
# LIST_PREVIEW_CHARS characters of each that was left out (NULL for those carried whole).
PREVIEW_COLUMNS = (
    JOB_COLUMNS.replace(" payload,", f" {_cut('payload')},").replace(" result,", f" {_cut('result')},")
    + f", CASE WHEN length(payload) > {LIST_PREVIEW_CHARS} THEN substr(payload, 1, {LIST_PREVIEW_CHARS}) END"
    + f", CASE WHEN length(result) > {LIST_PREVIEW_CHARS} THEN substr(result, 1, {LIST_PREVIEW_CHARS}) END"
)


def row_to_preview_job(row: sqlite3.Row | tuple) -> Job:
    """A Job from a PREVIEW_COLUMNS row: a long payload or result is a Preview of its JSON text."""
    job = row_to_job(row[:-2])
    if row[-2] is not None:
        job.payload = Preview(row[-2])
    if row[-1] is not None:
        job.result = Preview(row[-1])
    return job


# -- broken rows -------------------------------------------------------------------
# Another program can write the file (the `sqlite3` shell, a script). The schema's CHECKs
# (migration 0003) refuse a row Acacia cannot use; a row written with the CHECKs switched
# off, or one they cannot see (text that is not UTF-8, JSON nested deeper than Python
# reads), is "broken": reads show it with what is wrong, and the worker sets it aside
# (set_aside_row) instead of failing every claim.

COLUMNS = tuple(name.strip() for name in JOB_COLUMNS.split(","))
_NOW = object()  # a replacement: the time the row is set aside

# column → (its CHECK in the schema, word for word; what it must hold; what a broken value is
# reset to when the row is set aside). tests/unit/test_store.py checks them against the schema.
COLUMN_RULES: dict[str, tuple[str, str, object]] = {
    "type": ("typeof(type) = 'text' AND length(type) BETWEEN 1 AND 200 AND type NOT GLOB '*[^A-Za-z0-9_.:/-]*'",
             "a job type (1 to 200 letters, digits and . _ - : /)", "unreadable"),
    "queue": ("typeof(queue) = 'text' AND length(queue) BETWEEN 1 AND 64 AND queue NOT GLOB '*[^A-Za-z0-9_.-]*'",
              "a queue name (1 to 64 letters, digits and . _ -)", "default"),
    "priority": ("typeof(priority) = 'integer'", "a whole number", 0),
    "state": ("state IN ('waiting', 'queued', 'scheduled', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')",
              "a job state", "failed"),
    "payload": ("typeof(payload) = 'text' AND json_valid(payload)", "valid JSON text", "null"),
    "attempts": ("typeof(attempts) = 'integer' AND attempts >= 0", "a whole number from 0", 0),
    "max_attempts": ("typeof(max_attempts) = 'integer' AND max_attempts >= 1", "a whole number from 1", 1),
    "run_at": ("typeof(run_at) = 'real'", "a time (seconds since 1970)", _NOW),
    "timeout": ("timeout IS NULL OR (typeof(timeout) = 'real' AND timeout > 0)", "empty or seconds above 0", None),
    "progress": ("progress IS NULL OR (typeof(progress) = 'real' AND progress BETWEEN 0 AND 1)",
                 "empty or a number from 0 to 1", None),
    "progress_message": ("typeof(progress_message) = 'text'", "text", ""),
    "result": ("result IS NULL OR (typeof(result) = 'text' AND json_valid(result))", "empty or valid JSON text", None),
    "error": ("error IS NULL OR typeof(error) = 'text'", "empty or text", None),
    "traceback": ("traceback IS NULL OR typeof(traceback) = 'text'", "empty or text", None),
    "created_at": ("typeof(created_at) = 'real'", "a time (seconds since 1970)", _NOW),
    "started_at": ("started_at IS NULL OR typeof(started_at) = 'real'", "empty or a time", None),
    "finished_at": ("finished_at IS NULL OR typeof(finished_at) = 'real'", "empty or a time", _NOW),
    "instance_id": ("instance_id IS NULL OR typeof(instance_id) = 'text'", "empty or text", None),
    "cancel_requested": ("cancel_requested IN (0, 1)", "0 or 1", 0),
    "interruptions": ("typeof(interruptions) = 'integer' AND interruptions >= 0", "a whole number from 0", 0),
    "cancel_grace": ("cancel_grace IS NULL OR (typeof(cancel_grace) = 'real' AND cancel_grace >= 0)",
                     "empty or seconds from 0", None),
    "memory_limit": ("memory_limit IS NULL OR (typeof(memory_limit) = 'integer' AND memory_limit > 0)",
                     "empty or a whole number of bytes above 0", None),
    "cpu_time_limit": ("cpu_time_limit IS NULL OR (typeof(cpu_time_limit) = 'real' AND cpu_time_limit > 0)",
                       "empty or seconds above 0", None),
    "nice": ("nice IS NULL OR (typeof(nice) = 'integer' AND nice BETWEEN 0 AND 19)", "empty or a whole number from 0 to 19",
             None),
    "unique_key": ("unique_key IS NULL OR (typeof(unique_key) = 'text' AND length(unique_key) BETWEEN 1 AND 200)",
                   "empty or text of 1 to 200 characters", None),
    "scheduled_for": ("scheduled_for IS NULL OR typeof(scheduled_for) = 'real'", "empty or a time (seconds since 1970)",
                      None),
    "ran_on": ("ran_on IS NULL OR typeof(ran_on) = 'text'", "empty or text", None),
}  # fmt: skip
OWNER_RULE = "(state = 'running') = (instance_id IS NOT NULL)"  # the table's CHECK: a running job has an owner
_RULES_SQL = ", ".join(f"({rule})" for rule, _, _ in COLUMN_RULES.values()) + f", ({OWNER_RULE})"


class BrokenRowError(ValueError):
    """A row breaks the rules in a way a query noticed before Python read it (see is_bad_row_error)."""


def is_bad_row_error(exc: BaseException) -> bool:
    """Whether `exc` comes from a broken row (a CHECK it breaks, text that is not UTF-8, JSON or
    values Python cannot take) rather than from the database itself (locked, full, closed)."""
    if isinstance(exc, sqlite3.OperationalError):
        return "decode" in str(exc)  # "Could not decode to UTF-8 column ..."
    return isinstance(exc, sqlite3.IntegrityError | ValueError | TypeError | KeyError | RecursionError)


def _fetch_one(conn: sqlite3.Connection, sql: str, params: tuple) -> Any:
    cursor = conn.execute(sql, params)
    try:
        return cursor.fetchone()
    finally:
        cursor.close()  # a fetch that failed must not leave its statement (and a read snapshot) open


def row_problems(conn: sqlite3.Connection, job_id: JobId) -> dict[str, str] | None:
    """What is wrong with job `job_id`'s row, column → why ({}: nothing; None: no such row).

    One query and one read for a sound row; a broken one is read column by column."""
    checks = _fetch_one(conn, f"SELECT {_RULES_SQL} FROM jobs WHERE id = ?", (job_id,))
    if checks is None:
        return None
    column_checks = zip(COLUMN_RULES.items(), checks[:-1], strict=True)
    problems = {column: f"{column} is not {what}" for (column, (_, what, _)), ok in column_checks if ok == 0}
    if checks[-1] == 0 and "state" not in problems:
        problems["instance_id"] = "state and instance_id disagree (a running job needs an owner, no other one has)"
    if not problems:
        try:
            row_to_job(_fetch_one(conn, f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)))
            return problems
        except Exception as exc:
            if not is_bad_row_error(exc):
                raise
    for column in COLUMNS[1:]:
        if column in problems:
            continue
        try:
            (value,) = _fetch_one(conn, f"SELECT {column} FROM jobs WHERE id = ?", (job_id,))
        except sqlite3.OperationalError as exc:
            if not is_bad_row_error(exc):
                raise
            problems[column] = f"{column} is not valid UTF-8 text"
            continue
        if column in ("payload", "result") and value is not None:
            try:
                _loads(value)
            except (ValueError, RecursionError) as exc:
                problems[column] = f"{column} is JSON that Python cannot read ({type(exc).__name__})"
    return problems


def _readable_values(conn: sqlite3.Connection, job_id: JobId, problems: dict[str, str], now: float) -> list[Any]:
    """The row's values in JOB_COLUMNS order, each broken one replaced."""
    values: list[Any] = [job_id]
    for column in COLUMNS[1:]:
        if column in problems:
            replacement = COLUMN_RULES[column][2]
            values.append(now if replacement is _NOW else replacement)
        else:
            values.append(_fetch_one(conn, f"SELECT {column} FROM jobs WHERE id = ?", (job_id,))[0])
    return values


def read_broken_job(conn: sqlite3.Connection, job_id: JobId) -> Job | None:
    """Job `job_id` even when its row is broken: each broken column shows as its replacement
    (a payload as None) and `error` says what is broken. None when there is no such row."""
    problems = row_problems(conn, job_id)
    if problems is None:
        return None
    if not problems:  # sound after all (fixed meanwhile)
        return row_to_job(_fetch_one(conn, f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)))
    job = row_to_job(_readable_values(conn, job_id, problems, time.time()))
    job.error = (f"this job's row in the database is broken ({'; '.join(problems.values())}), so it cannot run."
                 " The worker sets it aside (failed) when it meets it. Fix the row, or delete the job.")  # fmt: skip
    return job


def set_aside_row(conn: sqlite3.Connection, job_id: JobId, problems: dict[str, str], now: float) -> str:
    """Set a broken row aside (inside the caller's transaction) and return what happened, for its event.

    Its values are copied verbatim into `jobs_quarantine`; in `jobs` the job becomes
    `failed`, unowned, each broken column reset (COLUMN_RULES), with an error naming them.
    Should the reset row still break a CHECK, the job is deleted (its copy stays in
    jobs_quarantine): no row may keep failing the worker's transactions.
    """
    reason = "; ".join(problems.values())
    conn.execute(
        f"INSERT INTO jobs_quarantine (quarantined_at, reason, {JOB_COLUMNS}) SELECT ?, ?, {JOB_COLUMNS} FROM jobs WHERE id = ?",
        (now, reason, job_id),
    )
    error = (f"set aside: its row in the database was broken ({reason}). The broken values were reset"
             f"{' (the payload to null)' if 'payload' in problems else ''} and the original row is in the table"
             " jobs_quarantine. Fix and retry it, or delete it.")  # fmt: skip
    resets = [(column, COLUMN_RULES[column][2]) for column in problems if column in COLUMN_RULES]
    resets = [(c, v) for c, v in resets if c not in ("state", "error", "instance_id", "cancel_requested", "finished_at")]
    assignments = "".join(f"{column} = ?, " for column, _ in resets)
    try:
        conn.execute(
            f"UPDATE jobs SET {assignments}state = 'failed', instance_id = NULL, cancel_requested = 0, finished_at = ?,"
            " error = ? WHERE id = ?",
            [*(now if value is _NOW else value for _, value in resets), now, error, job_id],
        )
    except sqlite3.IntegrityError:
        conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
        return f"deleted: its row in the database was broken beyond repair ({reason}); it is in the table jobs_quarantine"
    return error


def ran_on_label() -> str:
    """What a claim writes in jobs.ran_on (both backends): this process, as host:pid."""
    return f"{socket.gethostname()}:{os.getpid()}"
