"""SqliteJobStore: the durable queue in one SQLite file (WAL).

The worker's writes (claim, completions, recovery, progress, logs, checkpoints) are in
sqlite_worker.WorkerStoreMixin; the row shapes in rows.

Thread-safety: one connection per thread, every write in `BEGIN IMMEDIATE`, so two
threads or two processes never claim the same job. Every method that changes state
commits before it returns; callers announce changes only afterwards.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from importlib import resources
from pathlib import Path
from typing import Any

from ..core.definitions import CANCELLABLE_STATES, MAX_LOG_LINES, MAX_QUEUE_CONCURRENCY, RETRYABLE_STATES, SORT_FIELDS
from ..core.definitions import LOG_LINES_PER_JOB as LOG_LINES_PER_JOB  # re-exported: the worker's output buffer reads it here
from ..core.errors import InvalidOptionError, InvalidTransitionError, JobNotFoundError, StoreError
from ..core.job import Job, JobId, JobState, encode_payload, validate_queue_name
from .rows import JOB_COLUMNS, QueueInfo, row_to_job
from .sqlite_worker import BACKSTOP_CHECKPOINT_PAGES, WorkerStoreMixin

log = logging.getLogger(__name__)

SCHEMA_VERSION = 2
SYNCHRONOUS_LEVELS = {"off": "OFF", "normal": "NORMAL", "full": "FULL"}


class SqliteJobStore(WorkerStoreMixin):
    """The JobStore on a SQLite file. `synchronous`: 'normal' (default) or 'full'.

    'normal' (WAL) survives any crash of the app: a commit is in the WAL before we
    answer. 'full' also fsyncs each commit, so it survives power loss, at a cost in
    commits per second (see the README's benchmark table).
    """

    def __init__(self, path: str | os.PathLike[str], *, synchronous: str = "normal", busy_timeout: float = 10.0):
        if synchronous not in SYNCHRONOUS_LEVELS:
            raise InvalidOptionError(f"synchronous must be one of {', '.join(SYNCHRONOUS_LEVELS)}, got {synchronous!r}")
        self.path = Path(path)
        self.synchronous = synchronous
        self._busy_timeout_ms = int(busy_timeout * 1000)
        self._local = threading.local()
        self._all_connections: list[sqlite3.Connection] = []
        self._connections_lock = threading.Lock()
        self._checkpoint_on_commit = True
        self._known_queues: set[str] = set()  # queue rows known to exist (queues are never deleted)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    # -- connections ---------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=self._busy_timeout_ms / 1000)
        try:
            conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode.lower() != "wal":
                raise StoreError(f"could not switch {self.path} to WAL mode (got {mode}); is it on a network file system?")
            conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS_LEVELS[self.synchronous]}")
            conn.execute("PRAGMA foreign_keys = OFF")
            if not self._checkpoint_on_commit:
                conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_CHECKPOINT_PAGES}")
        except BaseException:
            conn.close()  # not kept anywhere yet: nobody else would close it
            raise
        with self._connections_lock:
            self._all_connections.append(conn)
        return conn

    @property
    def conn(self) -> sqlite3.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction; converts SQLite failures into StoreError."""
        conn = self.conn
        try:
            conn.execute("BEGIN IMMEDIATE")
        except sqlite3.OperationalError as exc:
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc
        try:
            yield conn
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
        try:
            conn.execute("COMMIT")
        except sqlite3.Error as exc:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise StoreError(f"cannot write to {self.path}: {exc}") from exc

    def close(self) -> None:
        with self._connections_lock:
            conns, self._all_connections = self._all_connections, []
        for conn in conns:
            try:
                conn.close()
            except sqlite3.Error:
                pass
        self._local = threading.local()

    def data_version(self) -> int:
        """Changes when another connection commits: a cheap 'anything new?' poll."""
        return self.conn.execute("PRAGMA data_version").fetchone()[0]

    # -- schema --------------------------------------------------------------------
    def _migrate(self) -> None:
        conn = self.conn
        version = conn.execute("PRAGMA user_version").fetchone()[0]
        if version > SCHEMA_VERSION:
            raise StoreError(
                f"{self.path} was written by a newer Acacia (schema {version}, this one knows {SCHEMA_VERSION}); upgrade Acacia"
            )
        if version == SCHEMA_VERSION:
            return
        folder = resources.files("acacia_gui.store.migrations")
        scripts = sorted(p for p in folder.iterdir() if p.name.endswith(".sql"))
        with self._write() as c:
            current = c.execute("PRAGMA user_version").fetchone()[0]  # re-read under the lock
            for script in scripts:
                number = int(script.name.split("_", 1)[0])
                if number <= current:
                    continue
                for statement in _split_sql(script.read_text(encoding="utf-8")):
                    c.execute(statement)
                c.execute(f"PRAGMA user_version = {number}")

    def integrity_check(self) -> str:
        return self.conn.execute("PRAGMA integrity_check").fetchone()[0]

    # -- queues --------------------------------------------------------------------
    def _ensure_queues(self, conn: sqlite3.Connection, names: Iterable[str], now: float) -> None:
        """Create missing queue rows; insert_jobs skips this for queues it saw committed."""
        conn.executemany(
            "INSERT INTO queues (name, concurrency, paused, created_at) VALUES (?, 0, 0, ?) ON CONFLICT (name) DO NOTHING",
            [(name, now) for name in set(names)],
        )

    def list_queues(self) -> list[QueueInfo]:
        conn = self.conn
        queues = conn.execute("SELECT name, concurrency, paused FROM queues ORDER BY name").fetchall()
        counts: dict[str, dict[str, int]] = {}
        for queue, state, n in conn.execute("SELECT queue, state, count(*) FROM jobs GROUP BY queue, state"):
            counts.setdefault(queue, {})[state] = n
        return [
            QueueInfo(name, concurrency, bool(paused), {s.value: counts.get(name, {}).get(s.value, 0) for s in JobState})
            for name, concurrency, paused in queues
        ]

    def get_queue(self, name: str) -> QueueInfo:
        for info in self.list_queues():
            if info.name == name:
                return info
        raise JobNotFoundError(f"no queue named {name!r}")

    def set_queue_paused(self, name: str, paused: bool) -> None:
        validate_queue_name(name)
        with self._write() as conn:
            self._ensure_queues(conn, [name], time.time())
            conn.execute("UPDATE queues SET paused = ? WHERE name = ?", (int(paused), name))

    def set_queue_concurrency(self, name: str, concurrency: int) -> None:
        validate_queue_name(name)
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 0 <= concurrency <= MAX_QUEUE_CONCURRENCY:
            raise InvalidOptionError(
                f"concurrency must be a whole number from 0 (no limit) to {MAX_QUEUE_CONCURRENCY}, got {concurrency!r}"
            )
        with self._write() as conn:
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
        with self._write() as conn:
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
        row = self.conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        return row_to_job(row) if row else None

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
                  limit: int | None = None, offset: int = 0) -> list[Job]:  # fmt: skip
        """Jobs matching every given filter (a value or a list of values), in order."""
        if order_by not in SORT_FIELDS:
            raise InvalidOptionError(f"cannot order by {order_by!r}; choose one of {', '.join(sorted(SORT_FIELDS))}")
        where, params = self._where(state, queue, type, search, ids)
        direction = "DESC" if descending else "ASC"
        sql = f"SELECT {JOB_COLUMNS} FROM jobs{where} ORDER BY {order_by} {direction}, id {direction}"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params += [int(limit), int(offset)]
        return [row_to_job(row) for row in self.conn.execute(sql, params)]

    def count_jobs(self, *, state: Any = None, queue: Any = None, type: Any = None, search: str | None = None) -> int:
        where, params = self._where(state, queue, type, search)
        return self.conn.execute(f"SELECT count(*) FROM jobs{where}", params).fetchone()[0]

    def counts_by_state(self) -> dict[str, int]:
        counts = {s.value: 0 for s in JobState}
        for state, n in self.conn.execute("SELECT state, count(*) FROM jobs GROUP BY state"):
            counts[state] = n
        return counts

    def finished_since(self, since: float) -> int:
        return self.conn.execute("SELECT count(*) FROM jobs WHERE finished_at >= ?", (since,)).fetchone()[0]

    def get_events(self, job_id: JobId) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT at, source, old_state, new_state, message FROM events WHERE job_id = ? ORDER BY id", (job_id,)
        )
        return [dict(zip(("at", "source", "old_state", "new_state", "message"), row, strict=True)) for row in rows]

    def get_logs(self, job_id: JobId, *, after: int = 0, limit: int = MAX_LOG_LINES,
                 last: int | None = None) -> list[dict[str, Any]]:  # fmt: skip
        """A job's log lines in order: those after line id `after` (up to `limit`), or its `last` ones."""
        if last is not None:
            rows = self.conn.execute(
                "SELECT * FROM (SELECT id, at, level, message FROM job_logs WHERE job_id = ? ORDER BY id DESC LIMIT ?)"
                " ORDER BY id",
                (job_id, last),
            )
        else:
            rows = self.conn.execute(
                "SELECT id, at, level, message FROM job_logs WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?",
                (job_id, after, limit),
            )
        return [dict(zip(("id", "at", "level", "message"), row, strict=True)) for row in rows]

    def count_logs(self, job_id: JobId) -> int:
        return self.conn.execute("SELECT count(*) FROM job_logs WHERE job_id = ?", (job_id,)).fetchone()[0]

    # -- user actions --------------------------------------------------------------
    def _event(self, conn: sqlite3.Connection, job_id: JobId, source: str, old: str | None, new: str,
               message: str = "", at: float | None = None) -> None:  # fmt: skip
        conn.execute(
            "INSERT INTO events (job_id, at, source, old_state, new_state, message) VALUES (?, ?, ?, ?, ?, ?)",
            (job_id, at or time.time(), source, old, new, message),
        )

    def cancel_job(self, job_id: JobId, source: str) -> Job:
        """Queued/scheduled → cancelled at once; running → cancel_requested (the owner stops it)."""
        with self._write() as conn:
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
            self._event(conn, job_id, source, job.state.value, "cancelled", at=now)
        return self.require_job(job_id)

    def retry_job(self, job_id: JobId, source: str) -> Job:
        """Failed/cancelled/interrupted → queued, with a fresh set of attempts."""
        with self._write() as conn:
            job = self.require_job(job_id)  # on the transaction's connection
            if job.state not in RETRYABLE_STATES:
                raise InvalidTransitionError(
                    f"job {job_id} is {job.state}; only failed, cancelled or interrupted jobs can be retried"
                )
            now = time.time()
            conn.execute(
                "UPDATE jobs SET state = 'queued', attempts = 0, run_at = ?, result = NULL, error = NULL, traceback = NULL,"
                " progress = NULL, progress_message = '', started_at = NULL, finished_at = NULL, cancel_requested = 0"
                " WHERE id = ?",
                (now, job_id),
            )
            self._event(conn, job_id, source, job.state.value, "queued", "retry", at=now)
        return self.require_job(job_id)

    def delete_jobs(self, job_ids: Iterable[JobId], source: str) -> int:
        """Delete jobs that are not running (with their events and logs). Returns how many."""
        ids = list(dict.fromkeys(job_ids))
        with self._write() as conn:
            for job_id in ids:
                if self.require_job(job_id).state is JobState.RUNNING:
                    raise InvalidTransitionError(f"job {job_id} is running; cancel it before deleting it")
            _delete_ids(conn, ids)
        return len(ids)

    def clear_finished(self, source: str, *, queue: str | None = None) -> list[JobId]:
        """Delete every succeeded/failed/cancelled/interrupted job (of one queue, or all)."""
        where, params = self._where(state=[s.value for s in JobState if s.is_final], queue=queue)
        with self._write() as conn:
            ids = [row[0] for row in conn.execute(f"SELECT id FROM jobs{where}", params)]
            _delete_ids(conn, ids)
        return ids


def _delete_ids(conn: sqlite3.Connection, ids: list[JobId]) -> None:
    """Delete jobs with their events and logs (inside the caller's transaction)."""
    for start in range(0, len(ids), 500):
        chunk = ids[start:start + 500]
        marks = ", ".join("?" * len(chunk))
        conn.execute(f"DELETE FROM jobs WHERE id IN ({marks})", chunk)
        conn.execute(f"DELETE FROM events WHERE job_id IN ({marks})", chunk)
        conn.execute(f"DELETE FROM job_logs WHERE job_id IN ({marks})", chunk)


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (ours never put ';' inside string literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]
