"""PostgresJobs: the reads and user actions of the PostgreSQL store (the JobStore half of
PostgresJobStore), the port of store/sqlite_jobs.py, statement by statement.

Reads run on a connection from `db.read()` (autocommit: each statement sees the latest
commit); every change runs in one `db.write()` transaction, committed before the method
returns. Where SQLite's BEGIN IMMEDIATE serialised every writer, a change here locks the
rows it reads before deciding (`FOR UPDATE`), so two instances acting at once on one job
still make one decision each, in turn.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterable, Sequence
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from ...core.definitions import (
    CANCELLABLE_STATES,
    EDITABLE_STATES,
    MAX_LOG_LINES,
    MAX_PRIORITY,
    MAX_QUEUE_CONCURRENCY,
    RETRYABLE_STATES,
    SORT_FIELDS,
    STATE_LIFECYCLE,
    OnConflict,
    SortField,
)
from ...core.errors import InvalidOptionError, InvalidTransitionError, JobNotFoundError, UniqueKeyTakenError
from ...core.job import Job, JobId, JobState, encode_payload, validate_queue_name
from ...core.pipeline import dependency_order
from ...core.rates import format_rate
from ..rows import (
    _NOW,
    COLUMN_RULES,
    COLUMNS,
    JOB_COLUMNS,
    PREVIEW_COLUMNS,
    QueueInfo,
    is_bad_row_error,
    row_to_job,
    row_to_preview_job,
)
from .db import PostgresDatabase
from .dependencies import (
    UNSATISFIED,
    add_edges,
    blocking_message,
    blocks,
    graph,
    neighbours,
    revive_dependents,
    satisfied,
    settle,
    states_of,
)
from .rowsets import rows_param, rowset

# The sort fields that are not a plain column (core.definitions.SortField says what they mean).
# A running job's duration grows; sorting it as RUNNING_DURATION_BASE - started_at keeps every
# order stable (no clock in the query) and puts running jobs above any finished duration.
RUNNING_DURATION_BASE = 1e12
# The sort fields that can be NULL (the others are NOT NULL columns, or `state`'s CASE, never NULL).
NULLABLE_SORT_FIELDS = frozenset({SortField.PROGRESS.value, SortField.STARTED_AT.value, SortField.FINISHED_AT.value,
                                  SortField.DURATION.value})
ORDER_EXPRESSIONS = {
    SortField.STATE.value: "CASE state " + " ".join(f"WHEN '{s.value}' THEN {rank}" for rank, s in enumerate(STATE_LIFECYCLE))
    + f" ELSE {len(STATE_LIFECYCLE)} END",
    SortField.DURATION.value: f"CASE WHEN started_at IS NULL THEN NULL WHEN finished_at IS NULL THEN {RUNNING_DURATION_BASE!r}"
    " - started_at ELSE finished_at - started_at END",
    # Text by code point, as SQLite's BINARY collation does, whatever the database's locale.
    SortField.TYPE.value: 'type COLLATE "C"',
    SortField.QUEUE.value: 'queue COLLATE "C"',
}

# Not final: the states in which a unique key is held (the partial unique index's).
_HOLDING_KEY = "('waiting', 'queued', 'scheduled', 'running')"
_INSERT_COLUMNS = ("type, queue, priority, state, payload, max_attempts, run_at, timeout, created_at, cancel_grace,"
                   " memory_limit, cpu_time_limit, nice")  # fmt: skip
# One statement for many plain rows and their `enqueued` events: the rows as one JSON parameter
# (rowsets.py), inserted in order (ids follow that order); returns the ids.
_INSERT_MANY = (
    f"WITH inserted AS (INSERT INTO jobs ({_INSERT_COLUMNS}) SELECT {_INSERT_COLUMNS} FROM "
    + rowset("r", (("type", "text"), ("queue", "text"), ("priority", "bigint"), ("state", "text"),
                   ("payload", "text"), ("max_attempts", "bigint"), ("run_at", "float8"), ("timeout", "float8"),
                   ("created_at", "float8"), ("cancel_grace", "float8"), ("memory_limit", "bigint"),
                   ("cpu_time_limit", "float8"), ("nice", "bigint")))
    + " ORDER BY r.ord RETURNING id, state)"
    " INSERT INTO events (job_id, at, source, old_state, new_state, message)"
    " SELECT id, %s, %s, NULL, state, 'enqueued' FROM inserted ORDER BY id RETURNING job_id"
)  # fmt: skip

# What each column of _INSERT_MANY holds (one Python type per column).
_INSERT_TYPES = (str, str, int, str, str, int, float, float, float, float, int, float, int)


class PostgresJobs:
    """Jobs, queues, events and logs as the JobQueue, the dispatcher, the CLI and the window see them."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db
        self._known_queues: set[str] = set()  # queue rows known to exist (queues are never deleted)

    # -- reading helpers -------------------------------------------------------------
    def _all(self, sql: str, params: Sequence[Any] | None = None) -> list[tuple]:
        with self.db.read() as conn:
            return conn.execute(sql, params).fetchall()

    def _one(self, sql: str, params: Sequence[Any] | None = None) -> Any:
        with self.db.read() as conn:
            return conn.execute(sql, params).fetchone()

    # -- queues --------------------------------------------------------------------
    def _ensure_queues(self, conn: psycopg.Connection, names: Iterable[str], now: float) -> None:
        """Create missing queue rows; insert_jobs skips this for queues it saw committed."""
        conn.execute(
            "INSERT INTO queues (name, concurrency, paused, created_at) SELECT name, 0, 0, %s FROM unnest(%s::text[]) AS name"
            " ORDER BY name ON CONFLICT (name) DO NOTHING",  # in name order: two inserters never wait on each other in a cycle
            (now, sorted(set(names))),
        )

    def list_queues(self) -> list[QueueInfo]:
        """Every queue: those with a `queues` row, and those only jobs name (another program
        wrote the jobs, or deleted the row), with the default settings the claims give them."""
        with self.db.read() as conn:
            settings = {name: (concurrency, paused) for name, concurrency, paused in
                        conn.execute("SELECT name, concurrency, paused FROM queues")}  # fmt: skip
            counts: dict[str, dict[str, int]] = {}
            for queue, state, n in conn.execute(  # a broken queue name is left out
                "SELECT CASE WHEN queue !~ '[^A-Za-z0-9_.-]' THEN queue END, state, count(*) FROM jobs GROUP BY queue, state"
            ):  # fmt: skip
                if queue is not None:
                    counts.setdefault(queue, {})[state] = counts.get(queue, {}).get(state, 0) + n
            rates = {name: format_rate(count, seconds) for name, count, seconds in
                     conn.execute("SELECT queue, count, per_seconds FROM queue_rates")}  # fmt: skip
        return [
            QueueInfo(name, concurrency, bool(paused), {s.value: counts.get(name, {}).get(s.value, 0) for s in JobState},
                      rates.get(name))
            for name, (concurrency, paused) in sorted({**dict.fromkeys(counts, (0, 0)), **settings}.items())
        ]

    def get_queue(self, name: str) -> QueueInfo:
        for info in self.list_queues():
            if info.name == name:
                return info
        raise JobNotFoundError(f"no queue named {name!r}")

    def set_queue_paused(self, name: str, paused: bool) -> None:
        validate_queue_name(name)
        with self.db.write() as conn:
            self._ensure_queues(conn, [name], time.time())
            conn.execute("UPDATE queues SET paused = %s WHERE name = %s", (int(paused), name))

    def set_queue_concurrency(self, name: str, concurrency: int) -> None:
        validate_queue_name(name)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 0 <= concurrency <= MAX_QUEUE_CONCURRENCY:
            raise InvalidOptionError(
                f"concurrency must be a whole number from 0 (no limit) to {MAX_QUEUE_CONCURRENCY}, got {concurrency!r}"
            )
        with self.db.write() as conn:
            self._ensure_queues(conn, [name], time.time())
            conn.execute("UPDATE queues SET concurrency = %s WHERE name = %s", (concurrency, name))

    # -- enqueue -------------------------------------------------------------------
    def insert_jobs(self, jobs: Sequence[Job], source: str, payload_texts: Sequence[str] | None = None) -> list[JobId]:
        """Insert already-validated jobs in one transaction; fills in their ids and times.

        `payload_texts`: the payloads already encoded by encode_payload (JobQueue passes
        them, so a payload is encoded once); encoded here when not given.
        """
        now = time.time()
        texts = payload_texts if payload_texts is not None else [encode_payload(job.payload) for job in jobs]
        if any(job.after or job.unique_key for job in jobs):
            return self._insert_linked(jobs, texts, source, now)
        rows = []
        for job, payload_text in zip(jobs, texts, strict=True):
            delay = job.delay or 0.0
            job.run_at = now + delay
            job.state = JobState.SCHEDULED if delay > 0 else JobState.QUEUED
            job.created_at = now
            job.queue = job.queue or "default"
            rows.append((job.type, job.queue, job.priority, job.state.value, payload_text,
                         job.max_attempts or 1, job.run_at, job.timeout, now, job.cancel_grace, job.memory_limit,
                         job.cpu_time_limit, job.nice))  # fmt: skip
        new_queues = {job.queue for job in jobs} - self._known_queues
        ids: list[JobId] = []
        with self.db.write(pipeline=True, single=not new_queues and bool(rows)) as conn:  # one round trip
            if new_queues:
                self._ensure_queues(conn, new_queues, now)
            if rows:
                inserted = self._send_insert(conn, rows, now, source)
                self.db.after_commit(lambda: ids.extend(sorted(row[0] for row in inserted.fetchall())))
        self._known_queues.update(new_queues)  # only once committed: a rolled-back queue row is not known
        for job_id, job in zip(ids, jobs, strict=True):
            job.id = job_id
            job.max_attempts = job.max_attempts or 1
        return ids

    def _insert_linked(self, jobs: Sequence[Job], texts: Sequence[str], source: str, now: float) -> list[JobId]:
        """insert_jobs for jobs with dependencies or unique keys: one row at a time, dependencies
        first (a dependency's id is always smaller), in one transaction. Unknown dependencies,
        a cycle or a refused unique key write nothing."""
        order = dependency_order(jobs)
        external = sorted({dep for job in jobs for dep in job.after if not isinstance(dep, Job)})
        new_queues = {job.queue or "default" for job in jobs} - self._known_queues
        with self.db.write() as conn:
            states = states_of(conn, external)  # read FOR SHARE: a dependency finishing meanwhile settles after us
            missing = [dep for dep in external if dep not in states]
            if missing:
                raise InvalidOptionError(f"after: there is no job {missing[0]}")
            if new_queues:
                self._ensure_queues(conn, new_queues, now)
            for index in order:
                job, payload_text = jobs[index], texts[index]
                job.queue = job.queue or "default"
                job.max_attempts = job.max_attempts or 1
                job.created_at = now
                job.run_at = now + (job.delay or 0.0)
                dependencies = [dep.id if isinstance(dep, Job) else dep for dep in job.after]
                blocker = next((dep for dep in dependencies if blocks(job.after_policy, states[dep])), None)
                if blocker is not None:
                    job.state, job.error, job.finished_at = JobState.CANCELLED, blocking_message(blocker, states[blocker]), now
                elif any(not satisfied(job.after_policy, states[dep]) for dep in dependencies):
                    job.state = JobState.WAITING
                else:
                    job.state = JobState.SCHEDULED if (job.delay or 0) > 0 else JobState.QUEUED
                if not self._insert_one(conn, job, payload_text) and self._resolve_conflict(conn, job, payload_text,
                                                                                            source, now):  # fmt: skip
                    states[job.id] = job.state.value
                    continue
                job.conflict = None
                states[job.id] = job.state.value
                add_edges(conn, job.id, dependencies, job.after_policy)
                self.db.event(conn, job.id, source, None, job.state.value,
                              job.error if job.state is JobState.CANCELLED else "enqueued", at=now)  # fmt: skip
        self._known_queues.update(new_queues)
        return [job.id for job in jobs]

    @staticmethod
    def _insert_one(conn: psycopg.Connection, job: Job, payload_text: str) -> bool:
        """Insert one linked job's row (job.id set); False when its unique key is held by a job
        that is not final. The insert runs in a savepoint, so a refused key leaves the
        transaction usable."""
        try:
            with conn.transaction():
                job.id = conn.execute(
                    f"INSERT INTO jobs ({_INSERT_COLUMNS}, unique_key, error, finished_at)"
                    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s) RETURNING id",
                    (job.type, job.queue, job.priority, job.state.value, payload_text, job.max_attempts, job.run_at,
                     job.timeout, job.created_at, job.cancel_grace, job.memory_limit, job.cpu_time_limit, job.nice,
                     job.unique_key, job.error, job.finished_at),
                ).fetchone()[0]  # fmt: skip
        except pg_errors.UniqueViolation:
            if job.unique_key is None:
                raise
            return False
        return True

    def _resolve_conflict(self, conn: psycopg.Connection, job: Job, payload_text: str, source: str, now: float) -> bool:
        """Another job that is not final holds `job.unique_key`: act on job.on_conflict (True).

        The holder is read and locked; should it have become final since the insert was
        refused (another instance finished it meanwhile), the insert is tried again, and
        False says it went in: the caller goes on as for any new job."""
        for _ in range(100):
            row = conn.execute(
                f"SELECT id FROM jobs WHERE unique_key = %s AND state IN {_HOLDING_KEY} FOR UPDATE", (job.unique_key,)
            ).fetchone()
            if row is not None:
                break
            if self._insert_one(conn, job, payload_text):  # the key is free again
                return False
        else:  # pragma: no cover - a key taken and freed a hundred times over while we looked
            raise InvalidTransitionError(f"unique key {job.unique_key!r} keeps changing hands; try again")
        existing = self._require(conn, row[0])
        replaceable = existing.state in EDITABLE_STATES
        if job.on_conflict == OnConflict.REJECT or (job.on_conflict == OnConflict.REPLACE and not replaceable):
            why = " and has started, so its payload cannot be replaced" if job.on_conflict == OnConflict.REPLACE else ""
            raise UniqueKeyTakenError(
                f"job {existing.id} ({existing.state}) already has unique key {job.unique_key!r}{why}", existing.id
            )
        if job.on_conflict == OnConflict.REPLACE:
            conn.execute("UPDATE jobs SET payload = %s WHERE id = %s AND state = %s", (payload_text, existing.id,
                                                                                      existing.state.value))  # fmt: skip
            self.db.event(conn, existing.id, source, existing.state.value, existing.state.value,
                          "payload replaced by an enqueue with the same unique key", at=now)  # fmt: skip
            existing.payload = job.payload
            job.conflict = "replaced"
        else:
            job.conflict = "returned"
        for name in ("id", "state", "queue", "priority", "run_at", "created_at", "error", "finished_at"):
            setattr(job, name, getattr(existing, name))
        return True

    @staticmethod
    def _send_insert(conn: psycopg.Connection, rows: list[tuple], now: float, source: str) -> psycopg.Cursor:
        """Insert plain job rows and their `enqueued` events in one statement; its cursor gives their
        ids (unread: in pipeline mode they come back with the COMMIT).

        The identity gives the rows of one statement increasing ids in the order they are
        inserted (that of the rows), so the ids, sorted, are the rows' in order."""
        typed = [[None if value is None else convert(value) for convert, value in zip(_INSERT_TYPES, row, strict=True)]
                 for row in rows]  # fmt: skip
        return conn.execute(_INSERT_MANY, (rows_param(typed), now, source))

    # -- reading -------------------------------------------------------------------
    def get_job(self, job_id: JobId) -> Job | None:
        """The job, or None. A broken row (rows.py) reads too: broken values replaced, `error` saying what is broken."""
        with self.db.read() as conn:
            return self._get(conn, job_id)

    def require_job(self, job_id: JobId) -> Job:
        job = self.get_job(job_id)
        if job is None:
            raise JobNotFoundError(f"no job with id {job_id}")
        return job

    @staticmethod
    def _get(conn: psycopg.Connection, job_id: JobId, lock: bool = False) -> Job | None:
        """get_job on `conn`; `lock`: the row is locked until the transaction ends."""
        row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = %s{' FOR UPDATE' if lock else ''}",
                           (job_id,)).fetchone()  # fmt: skip
        if row is None:
            return None
        try:
            return row_to_job(row)
        except Exception as exc:
            if not is_bad_row_error(exc):
                raise
        return _read_broken_job(row)

    def _require(self, conn: psycopg.Connection, job_id: JobId) -> Job:
        """require_job inside a write transaction: read on its connection, the row locked."""
        job = self._get(conn, job_id, lock=True)
        if job is None:
            raise JobNotFoundError(f"no job with id {job_id}")
        return job

    def _where(self, state: Any = None, queue: Any = None, type: Any = None, search: str | None = None,
               ids: Iterable[int] | None = None) -> tuple[str, list[Any]]:  # fmt: skip
        clauses: list[str] = []
        params: list[Any] = []
        for column, value in (("state", state), ("queue", queue), ("type", type)):
            if value is None or value == []:
                continue
            values = [value] if isinstance(value, str) else list(value)
            clauses.append(f"{column} = ANY(%s::text[])")
            params.append([str(v) for v in values])
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            # ILIKE under the "C" collation: ASCII letters match either case, others as they are (SQLite's LIKE)
            clauses.append(
                "(type ILIKE %s COLLATE \"C\" ESCAPE '\\' OR payload ILIKE %s COLLATE \"C\" ESCAPE '\\'"
                " OR error ILIKE %s COLLATE \"C\" ESCAPE '\\' OR progress_message ILIKE %s COLLATE \"C\" ESCAPE '\\'"
                " OR id::text = %s)"
            )
            params.extend([pattern, pattern, pattern, pattern, search.strip()])
        if ids is not None:
            id_list = [int(i) for i in ids]
            clauses.append("id = ANY(%s::bigint[])")
            params.append(id_list)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def _listing_sql(self, *, state: Any = None, queue: Any = None, type: Any = None, search: str | None = None,
                    ids: Iterable[int] | None = None, order_by: str = "id", descending: bool = False,
                    limit: int | None = None, offset: int = 0, preview: bool = False) -> tuple[str, list[Any]]:  # fmt: skip
        """The statement and parameters list_jobs runs (the tests read its plan)."""
        if order_by not in SORT_FIELDS:
            raise InvalidOptionError(f"cannot order by {order_by!r}; choose one of {', '.join(sorted(SORT_FIELDS))}")
        where, params = self._where(state, queue, type, search, ids)
        # NULL sorts first going up and last going down, as in SQLite. Said only of a field that can
        # be NULL: an index gives ASC NULLS LAST (DESC NULLS FIRST backwards), so the same words on
        # `id` would sort the whole table instead of reading the primary key (33 ms at 100,000 jobs).
        direction = "DESC" if descending else "ASC"
        nulls = (" NULLS LAST" if descending else " NULLS FIRST") if order_by in NULLABLE_SORT_FIELDS else ""
        order = f" ORDER BY {ORDER_EXPRESSIONS.get(order_by, order_by)} {direction}{nulls}, id {direction}"
        if limit is not None:
            order += " LIMIT %s OFFSET %s"
            params += [int(limit), int(offset)]
        return f"SELECT {PREVIEW_COLUMNS if preview else JOB_COLUMNS} FROM jobs{where}{order}", params

    def list_jobs(self, *, state: Any = None, queue: Any = None, type: Any = None, search: str | None = None,
                  ids: Iterable[int] | None = None, order_by: str = "id", descending: bool = False,
                  limit: int | None = None, offset: int = 0, preview: bool = False) -> list[Job]:  # fmt: skip
        """Jobs matching every given filter (a value or a list of values), in order. A broken
        row is listed too, as get_job reads it. `preview`: a payload or result longer than
        LIST_PREVIEW_CHARS characters of JSON is a core.job.Preview of its start."""
        sql, params = self._listing_sql(state=state, queue=queue, type=type, search=search, ids=ids, order_by=order_by,
                                        descending=descending, limit=limit, offset=offset, preview=preview)  # fmt: skip
        read = row_to_preview_job if preview else row_to_job
        with self.db.read() as conn:
            rows = conn.execute(sql, params).fetchall()
            jobs = []
            for row in rows:
                try:
                    jobs.append(read(row))
                except Exception as exc:
                    if not is_bad_row_error(exc):
                        raise
                    job = self._get(conn, row[0])  # read whole, each broken value replaced
                    if job is not None:
                        jobs.append(job)
            return jobs

    def count_jobs(self, *, state: Any = None, queue: Any = None, type: Any = None, search: str | None = None) -> int:
        where, params = self._where(state, queue, type, search)
        return self._one(f"SELECT count(*) FROM jobs{where}", params)[0]

    def counts_by_state(self) -> dict[str, int]:
        counts = {s.value: 0 for s in JobState}
        for state, n in self._all("SELECT state, count(*) FROM jobs GROUP BY state"):
            counts[state] = n
        return counts

    def starting_by_queue(self) -> dict[str, int]:
        """Per queue, the jobs `running` in the database whose handler has not started yet
        (claimed ahead by a worker: started_at is still empty). They count as running in
        `counts_by_state`, so a queue can show more "running" jobs than there are workers."""
        rows = self._all("SELECT queue, count(*) FROM jobs WHERE state = 'running' AND started_at IS NULL GROUP BY queue")
        return {queue: n for queue, n in rows if isinstance(queue, str)}

    def finished_since(self, since: float) -> int:
        return self._one("SELECT count(*) FROM jobs WHERE finished_at >= %s", (since,))[0]

    def get_events(self, job_id: JobId) -> list[dict[str, Any]]:
        rows = self._all("SELECT at, source, old_state, new_state, message FROM events WHERE job_id = %s ORDER BY id", (job_id,))
        return [dict(zip(("at", "source", "old_state", "new_state", "message"), row, strict=True)) for row in rows]

    def get_logs(self, job_id: JobId, *, after: int = 0, limit: int = MAX_LOG_LINES,
                 last: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """A job's log lines in order: those after line id `after` (up to `limit`), or its `last` ones."""
        if last is not None:
            rows = self._all(
                "SELECT * FROM (SELECT id, at, level, message FROM job_logs WHERE job_id = %s ORDER BY id DESC LIMIT %s)"
                " AS lines ORDER BY id",
                (job_id, last),
            )
        else:
            rows = self._all(
                "SELECT id, at, level, message FROM job_logs WHERE job_id = %s AND id > %s ORDER BY id LIMIT %s",
                (job_id, after, limit),
            )
        return [dict(zip(("id", "at", "level", "message"), row, strict=True)) for row in rows]

    def jobs_ahead(self, job_id: JobId) -> int:
        """How many queued jobs of its queue are claimed before this queued one (0 if it is not queued)."""
        row = self._one(
            "SELECT count(*) FROM jobs j JOIN jobs me ON me.id = %s AND me.state = 'queued'"
            " WHERE j.state = 'queued' AND j.queue = me.queue"
            " AND (j.priority > me.priority OR (j.priority = me.priority AND j.id < me.id))",
            (job_id,),
        )
        return row[0]

    def get_dependencies(self, job_id: JobId) -> dict[str, list[dict[str, Any]]]:
        """Its direct dependencies ("upstream") and dependents ("downstream"): id, type, state, progress, policy."""
        with self.db.read() as conn:
            return neighbours(conn, job_id)

    def get_pipeline(self, job_id: JobId, limit: int = 500) -> dict[str, Any]:
        """Every job linked to it by dependencies, either way (at most `limit`): "nodes", "edges", "truncated"."""
        with self.db.read() as conn:
            return graph(conn, job_id, limit)

    def count_logs(self, job_id: JobId) -> int:
        return self._one("SELECT count(*) FROM job_logs WHERE job_id = %s", (job_id,))[0]

    # -- user actions --------------------------------------------------------------
    def cancel_job(self, job_id: JobId, source: str) -> Job:
        """Queued/scheduled → cancelled at once; running → cancel_requested (the owner stops it)."""
        with self.db.write() as conn:
            job = self._require(conn, job_id)  # locked: a claim or a completion waits for this decision
            if job.state not in CANCELLABLE_STATES:
                raise InvalidTransitionError(f"job {job_id} is {job.state} and cannot be cancelled")
            if job.state is JobState.RUNNING:
                conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = %s", (job_id,))
                job.cancel_requested = True
                return job
            now = time.time()
            conn.execute(
                "UPDATE jobs SET state = 'cancelled', finished_at = %s, error = 'cancelled before it ran' WHERE id = %s",
                (now, job_id),
            )
            self.db.event(conn, job_id, source, job.state.value, "cancelled", at=now)
            settle(self.db, conn, [job_id], source, now)
        return self.require_job(job_id)

    def retry_job(self, job_id: JobId, source: str, *, with_dependents: bool = False) -> Job:
        """Failed/cancelled/interrupted → queued, with a fresh set of attempts (waiting, if a
        dependency of its own has not finished yet). `with_dependents`: the jobs its failure
        cancelled (transitively) go back to waiting too."""
        with self.db.write() as conn:
            job = self._require(conn, job_id)
            if job.state not in RETRYABLE_STATES:
                raise InvalidTransitionError(
                    f"job {job_id} is {job.state}; only failed, cancelled or interrupted jobs can be retried"
                )
            now = time.time()
            held = conn.execute(
                f"SELECT d.depends_on, d.policy, p.state FROM job_dependencies d JOIN jobs p ON p.id = d.depends_on"
                f" WHERE d.job_id = %s AND {UNSATISFIED} ORDER BY d.depends_on FOR SHARE OF p", (job_id,)
            ).fetchall()  # fmt: skip
            blocker = next(((dep, state) for dep, policy, state in held if blocks(policy, state)), None)
            if blocker is not None:
                raise InvalidTransitionError(f"job {job_id} cannot run: {blocking_message(*blocker)}; retry job {blocker[0]}"
                                             " with its dependents instead")  # fmt: skip
            new_state = "waiting" if held else "queued"
            conn.execute(
                "UPDATE jobs SET state = %s, attempts = 0, run_at = %s, result = NULL, error = NULL, traceback = NULL,"
                " progress = NULL, progress_message = '', started_at = NULL, finished_at = NULL, cancel_requested = 0"
                " WHERE id = %s",
                (new_state, now, job_id),
            )
            self.db.event(conn, job_id, source, job.state.value, new_state, "retry", at=now)
            if with_dependents:
                revive_dependents(self.db, conn, job_id, source, now)
        return self.require_job(job_id)

    def edit_job(self, job_id: JobId, source: str, *, priority: int | None = None, queue: str | None = None,
                 payload_text: str | None = None, front: bool = False) -> Job:  # fmt: skip
        """Change a waiting (queued/scheduled) job's priority, queue and/or payload (already
        validated and encoded: JobQueue.edit does that), in one transaction.

        `front`: the priority becomes one more than the highest of the other waiting jobs of
        its (new) queue (capped at MAX_PRIORITY), so it is claimed next; it overrides `priority`.
        The row is locked when read and the write is a compare-and-set on the state read, so a
        job claimed meanwhile is refused. Records an event (state unchanged) whose message says
        what changed."""
        if queue is not None:
            validate_queue_name(queue)
        with self.db.write() as conn:
            job = self._require(conn, job_id)
            if job.state not in EDITABLE_STATES:
                raise InvalidTransitionError(
                    f"job {job_id} is {job.state}; only queued or scheduled jobs can be edited"
                )
            new_queue = job.queue if queue is None else queue
            new_priority = job.priority if priority is None else priority
            if front:
                row = conn.execute(
                    "SELECT max(priority) FROM jobs WHERE queue = %s AND state IN ('queued', 'scheduled') AND id != %s",
                    (new_queue, job_id),
                ).fetchone()
                if row[0] is not None:
                    new_priority = min(max(int(row[0]) + 1, new_priority), MAX_PRIORITY)
            changes = []
            if new_priority != job.priority:
                changes.append(f"priority {job.priority} → {new_priority}")
            if new_queue != job.queue:
                changes.append(f"queue {job.queue} → {new_queue}")
            if payload_text is not None and payload_text != encode_payload(job.payload):
                changes.append("payload edited")
            if front:
                changes.append("moved to the front")
            now = time.time()
            if new_queue != job.queue:
                self._ensure_queues(conn, [new_queue], now)
            updated = conn.execute(
                "UPDATE jobs SET priority = %s, queue = %s, payload = coalesce(%s, payload) WHERE id = %s AND state = %s",
                (new_priority, new_queue, payload_text, job_id, job.state.value),
            ).rowcount
            if updated != 1:
                raise InvalidTransitionError(f"job {job_id} changed state meanwhile; only queued or scheduled jobs can be edited")
            self.db.event(conn, job_id, source, job.state.value, job.state.value,
                          "edited: " + (", ".join(changes) or "nothing changed"), at=now)  # fmt: skip
        return self.require_job(job_id)

    def delete_jobs(self, job_ids: Iterable[JobId], source: str) -> int:
        """Delete jobs that are not running (with their events, logs and artifact rows). Returns how many.

        Raises (deleting nothing) if one is missing or running. The rows go in small
        transactions (see _delete_ids), so a big delete never holds its locks for long."""
        ids = list(dict.fromkeys(job_ids))
        for job_id in ids:
            if self.require_job(job_id).state is JobState.RUNNING:
                raise InvalidTransitionError(f"job {job_id} is running; cancel it before deleting it")
        _delete_ids(self.db, ids, "state != 'running'", source)
        return len(ids)

    def clear_finished(self, source: str, *, queue: str | None = None) -> list[JobId]:
        """Delete every succeeded/failed/cancelled/interrupted job (of one queue, or all),
        in small transactions (see _delete_ids)."""
        final = [s.value for s in JobState if s.is_final]
        where, params = self._where(state=final, queue=queue)
        ids = [row[0] for row in self._all(f"SELECT id FROM jobs{where} ORDER BY id", params)]
        _delete_ids(self.db, ids, _state_in(final), source)
        return ids

    def delete_finished_before(self, source: str, *, before: float, states: Sequence[str],
                               queue: str | None = None, limit: int = 500) -> list[JobId]:  # fmt: skip
        """Delete up to `limit` jobs in `states` (final ones only) that finished before `before`,
        oldest first (the jobs_finished index), in small transactions (see _delete_ids)."""
        final = [s for s in states if JobState(s).is_final]
        if not final or limit <= 0:
            return []
        sql = "SELECT id FROM jobs WHERE finished_at < %s AND state = ANY(%s::text[])"
        params: list[Any] = [before, final]
        if queue is not None:
            sql += " AND queue = %s"
            params.append(queue)
        ids = [row[0] for row in self._all(sql + " ORDER BY finished_at, id LIMIT %s", [*params, limit])]
        if ids:
            _delete_ids(self.db, ids, _state_in(final), source)
        return ids

    # -- event pages (a watch's replay) ----------------------------------------------
    def get_events_page(self, job_id: JobId, *, after: int = 0, limit: int = MAX_LOG_LINES,
                        last: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """A job's events with their ids, oldest first: those after event id `after` (up to `limit`), or its `last` ones."""
        columns = "id, at, source, old_state, new_state, message"
        if last is not None:
            rows = self._all(
                f"SELECT * FROM (SELECT {columns} FROM events WHERE job_id = %s ORDER BY id DESC LIMIT %s) AS page ORDER BY id",
                (job_id, last),
            )
        else:
            rows = self._all(
                f"SELECT {columns} FROM events WHERE job_id = %s AND id > %s ORDER BY id LIMIT %s", (job_id, after, limit)
            )
        return [dict(zip(("id", "at", "source", "old_state", "new_state", "message"), row, strict=True)) for row in rows]


def _state_in(states: Sequence[str]) -> str:
    """A `state IN (...)` condition for _delete_ids' `still` (states are JobState values, never user text)."""
    return f"state IN ({', '.join(repr(JobState(s).value) for s in states)})"


DELETE_JOBS_PER_TRANSACTION = 500
DELETE_LOG_LINES_PER_TRANSACTION = 10_000


def _delete_ids(db: PostgresDatabase, ids: list[JobId], still: str, source: str) -> None:
    """Delete jobs with their events and logs: per 500 jobs, their log lines 10,000 per
    transaction, the last of them with the jobs (those still matching `still`, locked first)
    and their events (jobs with few lines: one transaction in all). Each transaction is
    short, so the engine's claims and completions are not held up for long."""
    for start in range(0, len(ids), DELETE_JOBS_PER_TRANSACTION):
        chunk = ids[start:start + DELETE_JOBS_PER_TRANSACTION]
        while True:
            with db.write() as conn:
                gone = conn.execute("DELETE FROM job_logs WHERE id IN (SELECT id FROM job_logs WHERE job_id = ANY(%s::bigint[])"
                                    f" LIMIT {DELETE_LOG_LINES_PER_TRANSACTION})", (chunk,)).rowcount  # fmt: skip
                if gone == DELETE_LOG_LINES_PER_TRANSACTION:
                    continue  # maybe more lines: commit these, let other writers in, go on
                kept = [row[0] for row in conn.execute(f"SELECT id FROM jobs WHERE id = ANY(%s::bigint[]) AND {still}"
                                                       " ORDER BY id FOR UPDATE", (chunk,))]  # fmt: skip
                if kept:
                    unfinished = [row[0] for row in conn.execute(  # deleting a job that has not run cancels it for its dependents
                        "UPDATE jobs SET state = 'cancelled' WHERE id = ANY(%s::bigint[]) AND state IN ('waiting', 'queued',"
                        " 'scheduled') RETURNING id", (kept,)).fetchall()]  # fmt: skip
                    if unfinished:
                        settle(db, conn, sorted(unfinished), source, time.time())
                    for sql in ("DELETE FROM jobs WHERE id = ANY(%s::bigint[])",
                                "DELETE FROM events WHERE job_id = ANY(%s::bigint[])",
                                "DELETE FROM job_dependencies WHERE job_id = ANY(%s::bigint[])",
                                "DELETE FROM job_dependencies WHERE depends_on = ANY(%s::bigint[])",
                                "DELETE FROM job_artifacts WHERE job_id = ANY(%s::bigint[])",  # rows, not files
                                "DELETE FROM job_checkpoints WHERE job_id = ANY(%s::bigint[])"):  # fmt: skip
                        conn.execute(sql, (kept,))
            break


# -- broken rows -------------------------------------------------------------------
# PostgreSQL's types and CHECKs keep most breakage out, but a program with the rights to
# drop a CHECK can still write a row Acacia cannot read. As in SQLite (rows.py), such a row
# reads anyway: each value that breaks its rule replaced, `error` saying what is broken.
_NUMBER = (int, float)
_TYPE_NAME = re.compile(r"[A-Za-z0-9_.:/-]{1,200}")
_QUEUE_NAME = re.compile(r"[A-Za-z0-9_.-]{1,64}")
_STATE_VALUES = {state.value for state in JobState}


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_number(value: Any) -> bool:
    return isinstance(value, _NUMBER) and not isinstance(value, bool)


def _is_json(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        json.loads(value)
    except (ValueError, RecursionError):
        return False
    return True


_VALID = {
    "type": lambda v: isinstance(v, str) and _TYPE_NAME.fullmatch(v) is not None,
    "queue": lambda v: isinstance(v, str) and _QUEUE_NAME.fullmatch(v) is not None,
    "priority": _is_int,
    "state": lambda v: v in _STATE_VALUES,
    "payload": _is_json,
    "attempts": lambda v: _is_int(v) and v >= 0,
    "max_attempts": lambda v: _is_int(v) and v >= 1,
    "run_at": _is_number,
    "timeout": lambda v: v is None or (_is_number(v) and v > 0),
    "progress": lambda v: v is None or (_is_number(v) and 0 <= v <= 1),
    "progress_message": lambda v: isinstance(v, str),
    "result": lambda v: v is None or _is_json(v),
    "error": lambda v: v is None or isinstance(v, str),
    "traceback": lambda v: v is None or isinstance(v, str),
    "created_at": _is_number,
    "started_at": lambda v: v is None or _is_number(v),
    "finished_at": lambda v: v is None or _is_number(v),
    "instance_id": lambda v: v is None or isinstance(v, str),
    "cancel_requested": lambda v: v in (0, 1),
    "interruptions": lambda v: _is_int(v) and v >= 0,
    "cancel_grace": lambda v: v is None or (_is_number(v) and v >= 0),
    "memory_limit": lambda v: v is None or (_is_int(v) and v > 0),
    "cpu_time_limit": lambda v: v is None or (_is_number(v) and v > 0),
    "nice": lambda v: v is None or (_is_int(v) and 0 <= v <= 19),
    "unique_key": lambda v: v is None or (isinstance(v, str) and 1 <= len(v) <= 200),
    "scheduled_for": lambda v: v is None or _is_number(v),
    "ran_on": lambda v: v is None or isinstance(v, str),
}


def row_problems(row: Sequence[Any]) -> dict[str, str]:
    """What is wrong with a JOB_COLUMNS row, column → why (the words of rows.COLUMN_RULES)."""
    values = dict(zip(COLUMNS, row, strict=True))
    problems = {column: f"{column} is not {COLUMN_RULES[column][1]}" for column, valid in _VALID.items()
                if not valid(values[column])}  # fmt: skip
    if "state" not in problems and (values["state"] == "running") != (values["instance_id"] is not None):
        problems["instance_id"] = "state and instance_id disagree (a running job needs an owner, no other one has)"
    return problems


def _read_broken_job(row: Sequence[Any]) -> Job:
    """A Job from a row row_to_job cannot read: each broken value replaced (a payload as None)
    and `error` saying what is broken."""
    problems = row_problems(row)
    now = time.time()
    values = list(row)
    for index, column in enumerate(COLUMNS):
        if column in problems and column in COLUMN_RULES:
            replacement = COLUMN_RULES[column][2]
            values[index] = now if replacement is _NOW else replacement
    job = row_to_job(values)
    if problems:
        job.error = (f"this job's row in the database is broken ({'; '.join(problems.values())}), so it cannot run."
                     " The worker sets it aside (failed) when it meets it. Fix the row, or delete the job.")  # fmt: skip
    return job

