"""SqliteJobs: the reads and user actions of the SQLite store (the JobStore half of SqliteJobStore).

Every method runs on the shared SqliteDatabase: reads on the calling thread's connection,
changes in one `db.write()` transaction, committed before the method returns.
"""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Iterable, Sequence
from typing import Any

from ..core.definitions import (
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
from ..core.errors import InvalidOptionError, InvalidTransitionError, JobNotFoundError, UniqueKeyTakenError
from ..core.job import Job, JobId, JobState, encode_payload, validate_queue_name
from ..core.pipeline import dependency_order
from ..core.rates import format_rate
from .rows import (
    JOB_COLUMNS,
    PREVIEW_COLUMNS,
    QueueInfo,
    is_bad_row_error,
    read_broken_job,
    row_to_job,
    row_to_preview_job,
)
from .sqlite_db import SqliteDatabase, write_error
from .sqlite_dependencies import (
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

# The sort fields that are not a plain column (core.definitions.SortField says what they mean).
# A running job's duration grows; sorting it as RUNNING_DURATION_BASE - started_at keeps every
# order stable (no clock in the query) and puts running jobs above any finished duration.
RUNNING_DURATION_BASE = 1e12
ORDER_EXPRESSIONS = {
    SortField.STATE.value: "CASE state " + " ".join(f"WHEN '{s.value}' THEN {rank}" for rank, s in enumerate(STATE_LIFECYCLE))
    + f" ELSE {len(STATE_LIFECYCLE)} END",
    SortField.DURATION.value: f"CASE WHEN started_at IS NULL THEN NULL WHEN finished_at IS NULL THEN {RUNNING_DURATION_BASE!r}"
    " - started_at ELSE finished_at - started_at END",
}


class SqliteJobs:
    """Jobs, queues, events and logs as the JobQueue, the dispatcher, the CLI and the window see them."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db
        self._known_queues: set[str] = set()  # queue rows known to exist (queues are never deleted)

    # -- queues --------------------------------------------------------------------
    def _ensure_queues(self, conn: sqlite3.Connection, names: Iterable[str], now: float) -> None:
        """Create missing queue rows; insert_jobs skips this for queues it saw committed."""
        conn.executemany(
            "INSERT INTO queues (name, concurrency, paused, created_at) VALUES (?, 0, 0, ?) ON CONFLICT (name) DO NOTHING",
            [(name, now) for name in set(names)],
        )

    def list_queues(self) -> list[QueueInfo]:
        """Every queue: those with a `queues` row, and those only jobs name (another program
        wrote the jobs, or deleted the row), with the default settings the claims give them."""
        conn = self.db.conn
        settings = {name: (concurrency, paused) for name, concurrency, paused in
                    conn.execute("SELECT name, concurrency, paused FROM queues")}  # fmt: skip
        counts: dict[str, dict[str, int]] = {}
        for queue, state, n in conn.execute(  # a broken queue name (not even UTF-8, maybe) is left out
            "SELECT CASE WHEN typeof(queue) = 'text' AND queue NOT GLOB '*[^A-Za-z0-9_.-]*' THEN queue END, state, count(*)"
            " FROM jobs GROUP BY queue, state"
        ):  # fmt: skip
            if queue is not None:
                counts.setdefault(queue, {})[state] = n
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
            conn.execute("UPDATE queues SET paused = ? WHERE name = ?", (int(paused), name))

    def set_queue_concurrency(self, name: str, concurrency: int) -> None:
        validate_queue_name(name)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 0 <= concurrency <= MAX_QUEUE_CONCURRENCY:
            raise InvalidOptionError(
                f"concurrency must be a whole number from 0 (no limit) to {MAX_QUEUE_CONCURRENCY}, got {concurrency!r}"
            )
        with self.db.write() as conn:
            self._ensure_queues(conn, [name], time.time())
            conn.execute("UPDATE queues SET concurrency = ? WHERE name = ?", (concurrency, name))

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
        with self.db.write() as conn:
            if new_queues:
                self._ensure_queues(conn, new_queues, now)
            ids = self._insert_rows(conn, rows)
            events = [(job_id, now, source, row[3]) for job_id, row in zip(ids, rows, strict=True)]
            sql = "INSERT INTO events (job_id, at, source, old_state, new_state, message) VALUES (?, ?, ?, NULL, ?, 'enqueued')"
            if len(events) == 1:
                conn.execute(sql, events[0])
            else:
                conn.executemany(sql, events)
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
            states = states_of(conn, external)
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
                try:
                    job.id = conn.execute(
                        "INSERT INTO jobs (type, queue, priority, state, payload, max_attempts, run_at, timeout, created_at,"
                        " cancel_grace, memory_limit, cpu_time_limit, nice, unique_key, error, finished_at)"
                        " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                        (job.type, job.queue, job.priority, job.state.value, payload_text, job.max_attempts, job.run_at,
                         job.timeout, now, job.cancel_grace, job.memory_limit, job.cpu_time_limit, job.nice, job.unique_key,
                         job.error, job.finished_at),
                    ).lastrowid  # fmt: skip
                except sqlite3.IntegrityError as exc:
                    if "jobs.unique_key" not in str(exc):
                        raise
                    self._resolve_conflict(conn, job, payload_text, source, now)
                    states[job.id] = job.state.value
                    continue
                job.conflict = None
                states[job.id] = job.state.value
                add_edges(conn, job.id, dependencies, job.after_policy)
                self.db.event(conn, job.id, source, None, job.state.value,
                              job.error if job.state is JobState.CANCELLED else "enqueued", at=now)  # fmt: skip
        self._known_queues.update(new_queues)
        return [job.id for job in jobs]

    def _resolve_conflict(self, conn: sqlite3.Connection, job: Job, payload_text: str, source: str, now: float) -> None:
        """Another job that is not final holds `job.unique_key`: act on job.on_conflict."""
        existing = self.require_job(conn.execute(
            "SELECT id FROM jobs WHERE unique_key = ? AND state IN ('waiting', 'queued', 'scheduled', 'running')",
            (job.unique_key,),
        ).fetchone()[0])  # fmt: skip
        replaceable = existing.state in EDITABLE_STATES
        if job.on_conflict == OnConflict.REJECT or (job.on_conflict == OnConflict.REPLACE and not replaceable):
            why = " and has started, so its payload cannot be replaced" if job.on_conflict == OnConflict.REPLACE else ""
            raise UniqueKeyTakenError(
                f"job {existing.id} ({existing.state}) already has unique key {job.unique_key!r}{why}", existing.id
            )
        if job.on_conflict == OnConflict.REPLACE:
            conn.execute("UPDATE jobs SET payload = ? WHERE id = ? AND state = ?", (payload_text, existing.id,
                                                                                   existing.state.value))  # fmt: skip
            self.db.event(conn, existing.id, source, existing.state.value, existing.state.value,
                          "payload replaced by an enqueue with the same unique key", at=now)  # fmt: skip
            existing.payload = job.payload
            job.conflict = "replaced"
        else:
            job.conflict = "returned"
        for name in ("id", "state", "queue", "priority", "run_at", "created_at", "error", "finished_at"):
            setattr(job, name, getattr(existing, name))

    @staticmethod
    def _insert_rows(conn: sqlite3.Connection, rows: list[tuple]) -> list[JobId]:
        """Insert job rows; returns their ids.

        Many rows go in one executemany: under BEGIN IMMEDIATE nobody else inserts, and
        AUTOINCREMENT gives each row one more than the largest id ever used, so the ids
        are the consecutive run ending at last_insert_rowid().
        """
        sql = ("INSERT INTO jobs (type, queue, priority, state, payload, max_attempts, run_at, timeout, created_at,"
               " cancel_grace, memory_limit, cpu_time_limit, nice) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)")  # fmt: skip
        if len(rows) == 1:
            return [conn.execute(sql, rows[0]).lastrowid]
        if not rows:
            return []
        conn.executemany(sql, rows)
        last = conn.execute("SELECT last_insert_rowid()").fetchone()[0]
        return list(range(last - len(rows) + 1, last + 1))

    # -- reading -------------------------------------------------------------------
    def get_job(self, job_id: JobId) -> Job | None:
        """The job, or None. A broken row (rows.py) reads too: broken values replaced, `error` saying what is broken."""
        conn = self.db.conn
        cursor = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,))
        try:
            row = cursor.fetchone()
            return row_to_job(row) if row else None
        except Exception as exc:
            if not is_bad_row_error(exc):
                raise
        finally:
            cursor.close()
        return read_broken_job(conn, job_id)

    def require_job(self, job_id: JobId) -> Job:
        job = self.get_job(job_id)
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
            clauses.append(f"{column} IN ({', '.join('?' * len(values))})")
            params.extend(str(v) for v in values)
        if search:
            pattern = "%" + search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
            clauses.append(
                "(type LIKE ? ESCAPE '\\' OR payload LIKE ? ESCAPE '\\' OR error LIKE ? ESCAPE '\\'"
                " OR progress_message LIKE ? ESCAPE '\\' OR CAST(id AS TEXT) = ?)"
            )
            params.extend([pattern, pattern, pattern, pattern, search.strip()])
        if ids is not None:
            id_list = list(ids)
            clauses.append(f"id IN ({', '.join('?' * len(id_list)) or 'NULL'})")
            params.extend(id_list)
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def list_jobs(self, *, state: Any = None, queue: Any = None, type: Any = None, search: str | None = None,
                  ids: Iterable[int] | None = None, order_by: str = "id", descending: bool = False,
                  limit: int | None = None, offset: int = 0, preview: bool = False) -> list[Job]:  # fmt: skip
        """Jobs matching every given filter (a value or a list of values), in order. A broken
        row is listed too, as get_job reads it. `preview`: a payload or result longer than
        LIST_PREVIEW_CHARS characters of JSON is a core.job.Preview of its start."""
        if order_by not in SORT_FIELDS:
            raise InvalidOptionError(f"cannot order by {order_by!r}; choose one of {', '.join(sorted(SORT_FIELDS))}")
        where, params = self._where(state, queue, type, search, ids)
        direction = "DESC" if descending else "ASC"
        order = f" ORDER BY {ORDER_EXPRESSIONS.get(order_by, order_by)} {direction}, id {direction}"
        if limit is not None:
            order += " LIMIT ? OFFSET ?"
            params += [int(limit), int(offset)]
        conn = self.db.conn
        columns, read = (PREVIEW_COLUMNS, row_to_preview_job) if preview else (JOB_COLUMNS, row_to_job)
        cursor = conn.execute(f"SELECT {columns} FROM jobs{where}{order}", params)
        try:
            return [read(row) for row in cursor]
        except Exception as exc:
            if not is_bad_row_error(exc):
                raise
        finally:
            cursor.close()
        # A broken row: the same ids in the same order, each read on its own.
        ids_in_order = [row[0] for row in conn.execute(f"SELECT id FROM jobs{where}{order}", params)]
        return [job for job in map(self.get_job, ids_in_order) if job is not None]

    def count_jobs(self, *, state: Any = None, queue: Any = None, type: Any = None, search: str | None = None) -> int:
        where, params = self._where(state, queue, type, search)
        return self.db.conn.execute(f"SELECT count(*) FROM jobs{where}", params).fetchone()[0]

    def counts_by_state(self) -> dict[str, int]:
        counts = {s.value: 0 for s in JobState}
        for state, n in self.db.conn.execute("SELECT state, count(*) FROM jobs GROUP BY state"):
            counts[state] = n
        return counts

    def starting_by_queue(self) -> dict[str, int]:
        """Per queue, the jobs `running` in the database whose handler has not started yet
        (claimed ahead by a worker: started_at is still empty). They count as running in
        `counts_by_state`, so a queue can show more "running" jobs than there are workers."""
        rows = self.db.conn.execute(
            "SELECT queue, count(*) FROM jobs WHERE state = 'running' AND started_at IS NULL GROUP BY queue"
        )
        return {queue: n for queue, n in rows if isinstance(queue, str)}

    def finished_since(self, since: float) -> int:
        return self.db.conn.execute("SELECT count(*) FROM jobs WHERE finished_at >= ?", (since,)).fetchone()[0]

    def get_events(self, job_id: JobId) -> list[dict[str, Any]]:
        rows = self.db.conn.execute(
            "SELECT at, source, old_state, new_state, message FROM events WHERE job_id = ? ORDER BY id", (job_id,)
        )
        return [dict(zip(("at", "source", "old_state", "new_state", "message"), row, strict=True)) for row in rows]

    def get_logs(self, job_id: JobId, *, after: int = 0, limit: int = MAX_LOG_LINES,
                 last: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """A job's log lines in order: those after line id `after` (up to `limit`), or its `last` ones."""
        if last is not None:
            rows = self.db.conn.execute(
                "SELECT * FROM (SELECT id, at, level, message FROM job_logs WHERE job_id = ? ORDER BY id DESC LIMIT ?)"
                " ORDER BY id",
                (job_id, last),
            )
        else:
            rows = self.db.conn.execute(
                "SELECT id, at, level, message FROM job_logs WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?",
                (job_id, after, limit),
            )
        return [dict(zip(("id", "at", "level", "message"), row, strict=True)) for row in rows]

    def jobs_ahead(self, job_id: JobId) -> int:
        """How many queued jobs of its queue are claimed before this queued one (0 if it is not queued)."""
        row = self.db.conn.execute(
            "SELECT count(*) FROM jobs j JOIN jobs me ON me.id = ? AND me.state = 'queued'"
            " WHERE j.state = 'queued' AND j.queue = me.queue"
            " AND (j.priority > me.priority OR (j.priority = me.priority AND j.id < me.id))",
            (job_id,),
        ).fetchone()
        return row[0]

    def get_dependencies(self, job_id: JobId) -> dict[str, list[dict[str, Any]]]:
        """Its direct dependencies ("upstream") and dependents ("downstream"): id, type, state, progress, policy."""
        return neighbours(self.db.conn, job_id)

    def get_pipeline(self, job_id: JobId, limit: int = 500) -> dict[str, Any]:
        """Every job linked to it by dependencies, either way (at most `limit`): "nodes", "edges", "truncated"."""
        return graph(self.db.conn, job_id, limit)

    def count_logs(self, job_id: JobId) -> int:
        return self.db.conn.execute("SELECT count(*) FROM job_logs WHERE job_id = ?", (job_id,)).fetchone()[0]

    # -- user actions --------------------------------------------------------------
    def cancel_job(self, job_id: JobId, source: str) -> Job:
        """Queued/scheduled → cancelled at once; running → cancel_requested (the owner stops it)."""
        with self.db.write() as conn:
            job = self.require_job(job_id)  # on the transaction's connection
            if job.state not in CANCELLABLE_STATES:
                raise InvalidTransitionError(f"job {job_id} is {job.state} and cannot be cancelled")
            if job.state is JobState.RUNNING:
                conn.execute("UPDATE jobs SET cancel_requested = 1 WHERE id = ?", (job_id,))
                job.cancel_requested = True
                return job
            now = time.time()
            conn.execute(
                "UPDATE jobs SET state = 'cancelled', finished_at = ?, error = 'cancelled before it ran' WHERE id = ?",
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
            job = self.require_job(job_id)  # on the transaction's connection
            if job.state not in RETRYABLE_STATES:
                raise InvalidTransitionError(
                    f"job {job_id} is {job.state}; only failed, cancelled or interrupted jobs can be retried"
                )
            now = time.time()
            held = conn.execute(
                f"SELECT d.depends_on, d.policy, p.state FROM job_dependencies d JOIN jobs p ON p.id = d.depends_on"
                f" WHERE d.job_id = ? AND {UNSATISFIED}", (job_id,)
            ).fetchall()  # fmt: skip
            blocker = next(((dep, state) for dep, policy, state in held if blocks(policy, state)), None)
            if blocker is not None:
                raise InvalidTransitionError(f"job {job_id} cannot run: {blocking_message(*blocker)}; retry job {blocker[0]}"
                                             " with its dependents instead")  # fmt: skip
            new_state = "waiting" if held else "queued"
            conn.execute(
                "UPDATE jobs SET state = ?, attempts = 0, run_at = ?, result = NULL, error = NULL, traceback = NULL,"
                " progress = NULL, progress_message = '', started_at = NULL, finished_at = NULL, cancel_requested = 0"
                " WHERE id = ?",
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
        The write is a compare-and-set on the state read, so a job claimed meanwhile is refused.
        Records an event (state unchanged) whose message says what changed."""
        if queue is not None:
            validate_queue_name(queue)
        with self.db.write() as conn:
            job = self.require_job(job_id)  # on the transaction's connection
            if job.state not in EDITABLE_STATES:
                raise InvalidTransitionError(
                    f"job {job_id} is {job.state}; only queued or scheduled jobs can be edited"
                )
            new_queue = job.queue if queue is None else queue
            new_priority = job.priority if priority is None else priority
            if front:
                row = conn.execute(
                    "SELECT max(priority) FROM jobs WHERE queue = ? AND state IN ('queued', 'scheduled') AND id != ?",
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
                "UPDATE jobs SET priority = ?, queue = ?, payload = coalesce(?, payload) WHERE id = ? AND state = ?",
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
        transactions (see _delete_ids), so a big delete never holds the writer for long."""
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
        ids = [row[0] for row in self.db.conn.execute(f"SELECT id FROM jobs{where}", params)]
        _delete_ids(self.db, ids, f"state IN ({', '.join(repr(s) for s in final)})", source)
        return ids

    def delete_finished_before(self, source: str, *, before: float, states: Sequence[str],
                               queue: str | None = None, limit: int = 500) -> list[JobId]:  # fmt: skip
        """Delete up to `limit` jobs in `states` (final ones only) that finished before `before`,
        oldest first (the jobs_finished index), in small transactions (see _delete_ids)."""
        final = [s for s in states if JobState(s).is_final]
        if not final or limit <= 0:
            return []
        marks = ", ".join("?" * len(final))
        # `+state`: walk jobs_finished oldest first; the state index would read every finished job and sort them
        sql = f"SELECT id FROM jobs WHERE finished_at < ? AND +state IN ({marks})"
        params: list[Any] = [before, *final]
        if queue is not None:
            sql += " AND queue = ?"
            params.append(queue)
        ids = [row[0] for row in self.db.conn.execute(sql + " ORDER BY finished_at LIMIT ?", [*params, limit])]
        if ids:
            _delete_ids(self.db, ids, f"state IN ({', '.join(repr(s) for s in final)})", source)
        return ids

    # -- event pages (a watch's replay) ----------------------------------------------
    def get_events_page(self, job_id: JobId, *, after: int = 0, limit: int = MAX_LOG_LINES,
                        last: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """A job's events with their ids, oldest first: those after event id `after` (up to `limit`), or its `last` ones."""
        columns = "id, at, source, old_state, new_state, message"
        if last is not None:
            rows = self.db.conn.execute(
                f"SELECT * FROM (SELECT {columns} FROM events WHERE job_id = ? ORDER BY id DESC LIMIT ?) ORDER BY id",
                (job_id, last),
            )
        else:
            rows = self.db.conn.execute(
                f"SELECT {columns} FROM events WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?", (job_id, after, limit)
            )
        return [dict(zip(("id", "at", "source", "old_state", "new_state", "message"), row, strict=True)) for row in rows]


DELETE_JOBS_PER_TRANSACTION = 500
DELETE_LOG_LINES_PER_TRANSACTION = 10_000
VACUUM_PAGES_PER_STEP = 200  # _give_back_free_pages: pages per transaction (a few ms of writer time at most)


def _give_back_free_pages(db: SqliteDatabase, pages: int = VACUUM_PAGES_PER_STEP, pause: float = 0.0) -> int:
    """Give the file's free pages back to the file system (incremental vacuum), at most
    `pages` per transaction; between two, a pause as long as the last one held the writer,
    so writers waiting in SQLite's busy handler (which sleeps 1, 2, 5, 10 ms... between
    tries) get the lock instead of being beaten to it again and again (`pause`: the first
    one, after the caller's own transaction). Returns the pages freed; a read first, so no
    write transaction when there is nothing to give back.

    One `executescript`, not `execute`: `PRAGMA incremental_vacuum(N)` frees one page per
    step of the statement, and `execute` steps a statement without columns only once (one
    page per call); executescript steps it to the end, in C, without taking the GIL back
    page by page while it holds the writer."""
    conn = db.conn
    if conn.execute("PRAGMA auto_vacuum").fetchone()[0] != 2:
        return 0
    freed, held = 0, pause
    while free := conn.execute("PRAGMA freelist_count").fetchone()[0]:
        time.sleep(held)
        step = min(free, pages)
        began = time.monotonic()
        try:
            conn.executescript(f"BEGIN IMMEDIATE; PRAGMA incremental_vacuum({int(step)}); COMMIT;")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise write_error(db.path, exc) from exc
        held = time.monotonic() - began
        freed += step
        if step == free:
            break
    return freed


def _delete_ids(db: SqliteDatabase, ids: list[JobId], still: str, source: str) -> None:
    """Delete jobs with their events and logs: per 500 jobs, their log lines 10,000 per
    transaction, the last of them with the jobs (those still matching `still`) and their
    events and the free pages that leaves, up to VACUUM_PAGES_PER_STEP (jobs with few lines:
    one transaction in all; the pruner's batch of 100 frees a few dozen pages). Each
    transaction is short, so the engine's claims and completions get the writer in between;
    free pages still left (a big delete) are given back afterwards (_give_back_free_pages)."""
    freed, held = 0, 0.0
    for start in range(0, len(ids), DELETE_JOBS_PER_TRANSACTION):
        chunk = ids[start:start + DELETE_JOBS_PER_TRANSACTION]
        marks = ", ".join("?" * len(chunk))
        while True:
            began = time.monotonic()
            with db.write() as conn:
                gone = conn.execute(f"DELETE FROM job_logs WHERE id IN (SELECT id FROM job_logs WHERE job_id IN ({marks})"
                                    f" LIMIT {DELETE_LOG_LINES_PER_TRANSACTION})", chunk).rowcount  # fmt: skip
                freed += gone
                if gone == DELETE_LOG_LINES_PER_TRANSACTION:
                    continue  # maybe more lines: commit these, let other writers in, go on
                kept = [row[0] for row in conn.execute(f"SELECT id FROM jobs WHERE id IN ({marks}) AND {still}", chunk)]
                if kept:
                    kept_marks = ", ".join("?" * len(kept))
                    unfinished = [row[0] for row in conn.execute(  # deleting a job that has not run cancels it for its dependents
                        f"UPDATE jobs SET state = 'cancelled' WHERE id IN ({kept_marks}) AND state IN ('waiting', 'queued',"
                        " 'scheduled') RETURNING id", kept).fetchall()]  # fmt: skip
                    if unfinished:
                        settle(db, conn, unfinished, source, time.time())
                    conn.execute(f"DELETE FROM jobs WHERE id IN ({kept_marks})", kept)
                    conn.execute(f"DELETE FROM events WHERE job_id IN ({kept_marks})", kept)
                    conn.execute(f"DELETE FROM job_dependencies WHERE job_id IN ({kept_marks})", kept)
                    conn.execute(f"DELETE FROM job_dependencies WHERE depends_on IN ({kept_marks})", kept)
                    conn.execute(f"DELETE FROM job_artifacts WHERE job_id IN ({kept_marks})", kept)  # rows, not files
                    conn.execute(f"DELETE FROM job_checkpoints WHERE job_id IN ({kept_marks})", kept)
                if conn.execute("PRAGMA auto_vacuum").fetchone()[0] == 2:  # the pages just freed go back at once
                    for _ in range(min(conn.execute("PRAGMA freelist_count").fetchone()[0], VACUUM_PAGES_PER_STEP)):
                        conn.execute("PRAGMA incremental_vacuum(1)")  # one page per call (see _give_back_free_pages)
            held = time.monotonic() - began
            freed += len(kept)
            break
    if freed:
        _give_back_free_pages(db, pause=held)
