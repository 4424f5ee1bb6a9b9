"""SqliteJobStore: the durable queue in one SQLite file (WAL).

Thread-safety: one connection per thread, every write in `BEGIN IMMEDIATE`, so two
threads or two processes never claim the same job. Every method that changes state
commits before it returns; callers announce changes only afterwards.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

from ..core.errors import InvalidOptionError, InvalidTransitionError, JobNotFoundError, StoreError
from ..core.job import (
    CANCELLABLE_STATES,
    RETRYABLE_STATES,
    Job,
    JobId,
    JobState,
    encode_payload,
    validate_queue_name,
)
from ..core.runner import Completion

log = logging.getLogger(__name__)

SCHEMA_VERSION = 1
SYNCHRONOUS_LEVELS = {"off": "OFF", "normal": "NORMAL", "full": "FULL"}
SOURCES = ("api", "cli", "socket", "gui", "worker", "recovery")
JOB_COLUMNS = (
    "id, type, queue, priority, state, payload, attempts, max_attempts, run_at, timeout, progress, "
    "progress_message, result, error, traceback, created_at, started_at, finished_at, instance_id, cancel_requested"
)
SORTABLE_COLUMNS = {
    "id", "type", "queue", "priority", "state", "attempts", "created_at", "started_at", "finished_at", "progress",
}  # fmt: skip
LOG_LINES_PER_JOB = 10_000
BACKSTOP_CHECKPOINT_PAGES = 4_000  # see checkpoint_in_background (SQLite's default is 1,000)

@dataclass(frozen=True)
class QueueInfo:
    name: str
    concurrency: int
    paused: bool
    counts: dict[str, int]

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "concurrency": self.concurrency, "paused": self.paused, "counts": self.counts}


def row_to_job(row: sqlite3.Row | tuple) -> Job:
    (job_id, job_type, queue, priority, state, payload, attempts, max_attempts, run_at, timeout, progress,
     progress_message, result, error, traceback, created_at, started_at, finished_at, instance_id,
     cancel_requested) = row  # fmt: skip
    job = Job(job_type, json.loads(payload), queue=queue, priority=priority, max_attempts=max_attempts, timeout=timeout)
    job.id = job_id
    job.state = JobState(state)
    job.attempts = attempts
    job.run_at = run_at
    job.progress = progress
    job.progress_message = progress_message
    job.result = json.loads(result) if result is not None else None
    job.error = error
    job.traceback = traceback
    job.created_at = created_at
    job.started_at = started_at
    job.finished_at = finished_at
    job.instance_id = instance_id
    job.cancel_requested = bool(cancel_requested)
    return job


class SqliteJobStore:
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
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._migrate()

    # -- connections ---------------------------------------------------------------
    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.path, isolation_level=None, check_same_thread=False, timeout=self._busy_timeout_ms / 1000)
        conn.execute(f"PRAGMA busy_timeout = {self._busy_timeout_ms}")
        mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
        if mode.lower() != "wal":
            raise StoreError(f"could not switch {self.path} to WAL mode (got {mode}); is it on a network file system?")
        conn.execute(f"PRAGMA synchronous = {SYNCHRONOUS_LEVELS[self.synchronous]}")
        conn.execute("PRAGMA foreign_keys = OFF")
        if not self._checkpoint_on_commit:
            conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_CHECKPOINT_PAGES}")
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

    def checkpoint_in_background(self, every: float = 0.05) -> Callable[[], None]:
        """Move WAL checkpoints, and the fsync each one ends with, off the committing threads.

        By default SQLite checkpoints inside a commit every 1,000 WAL pages, which stalls
        that commit for milliseconds (the enqueue→start p99 showed it). From now on a
        daemon thread runs a PASSIVE checkpoint every `every` seconds, and this thread's
        connection and every new one checkpoint on commit only as a backstop, when a
        write storm with no pause has let the WAL reach BACKSTOP_CHECKPOINT_PAGES (a
        background checkpoint cannot finish while writes keep coming). Call it from the
        long-running app's main thread before other threads open connections. Returns a
        function that stops the thread, runs a last checkpoint and restores the default.
        """
        self._checkpoint_on_commit = False
        self.conn.execute(f"PRAGMA wal_autocheckpoint = {BACKSTOP_CHECKPOINT_PAGES}")
        stop = threading.Event()

        def checkpoint_now() -> None:
            try:
                self.conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchone()
            except sqlite3.Error as exc:  # busy or closed: the next round (or the next writer) does it
                log.debug("background checkpoint of %s skipped: %s", self.path, exc)

        def run() -> None:
            while not stop.wait(every):
                checkpoint_now()
            conn = getattr(self._local, "conn", None)
            if conn is not None:  # this thread's connection ends with it
                with self._connections_lock:
                    if conn in self._all_connections:
                        self._all_connections.remove(conn)
                conn.close()

        thread = threading.Thread(target=run, name="acacia-wal-checkpoint", daemon=True)
        thread.start()

        def stop_checkpoints() -> None:
            stop.set()
            thread.join()
            self._checkpoint_on_commit = True
            self.conn.execute("PRAGMA wal_autocheckpoint = 1000")
            checkpoint_now()

        return stop_checkpoints

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
        if isinstance(concurrency, bool) or not isinstance(concurrency, int) or not 0 <= concurrency <= 10_000:
            raise InvalidOptionError(f"concurrency must be a whole number from 0 (no limit) to 10000, got {concurrency!r}")
        with self._write() as conn:
            self._ensure_queues(conn, [name], time.time())
            conn.execute("UPDATE queues SET concurrency = ? WHERE name = ?", (concurrency, name))

    # -- enqueue -------------------------------------------------------------------
    def insert_jobs(self, jobs: Sequence[Job], source: str) -> list[JobId]:
        """Insert already-validated jobs in one transaction; fills in their ids and times."""
        now = time.time()
        rows = []
        for job in jobs:
            payload_text = encode_payload(job.payload)
            delay = job.delay or 0.0
            job.run_at = now + delay
            job.state = JobState.SCHEDULED if delay > 0 else JobState.QUEUED
            job.created_at = now
            rows.append((job, payload_text))
        ids: list[JobId] = []
        with self._write() as conn:
            self._ensure_queues(conn, [job.queue or "default" for job, _ in rows], now)
            for job, payload_text in rows:
                cur = conn.execute(
                    "INSERT INTO jobs (type, queue, priority, state, payload, max_attempts, run_at, timeout, created_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)",
                    (job.type, job.queue or "default", job.priority, job.state.value, payload_text,
                     job.max_attempts or 1, job.run_at, job.timeout, now),
                )  # fmt: skip
                ids.append(cur.lastrowid)
            conn.executemany(
                "INSERT INTO events (job_id, at, source, old_state, new_state, message) VALUES (?, ?, ?, NULL, ?, 'enqueued')",
                [(job_id, now, source, job.state.value) for job_id, (job, _) in zip(ids, rows, strict=True)],
            )
        for job_id, (job, _) in zip(ids, rows, strict=True):
            job.id = job_id
            job.queue = job.queue or "default"
            job.max_attempts = job.max_attempts or 1
        return ids

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
        if order_by not in SORTABLE_COLUMNS:
            raise InvalidOptionError(f"cannot order by {order_by!r}; choose one of {', '.join(sorted(SORTABLE_COLUMNS))}")
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

    def get_logs(self, job_id: JobId, *, after: int = 0, limit: int = 10_000) -> list[dict[str, Any]]:
        rows = self.conn.execute(
            "SELECT id, at, level, message FROM job_logs WHERE job_id = ? AND id > ? ORDER BY id LIMIT ?",
            (job_id, after, limit),
        )
        return [dict(zip(("id", "at", "level", "message"), row, strict=True)) for row in rows]

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
            job = self._locked_job(conn, job_id)
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
            job = self._locked_job(conn, job_id)
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
        ids = list(job_ids)
        with self._write() as conn:
            deleted = 0
            for job_id in ids:
                job = self._locked_job(conn, job_id)
                if job.state is JobState.RUNNING:
                    raise InvalidTransitionError(f"job {job_id} is running; cancel it before deleting it")
                conn.execute("DELETE FROM jobs WHERE id = ?", (job_id,))
                conn.execute("DELETE FROM events WHERE job_id = ?", (job_id,))
                conn.execute("DELETE FROM job_logs WHERE job_id = ?", (job_id,))
                deleted += 1
        return deleted

    def clear_finished(self, source: str, *, queue: str | None = None) -> list[JobId]:
        """Delete every succeeded/failed/cancelled/interrupted job (of one queue, or all)."""
        where, params = self._where(state=[s.value for s in JobState if s.is_final], queue=queue)
        with self._write() as conn:
            ids = [row[0] for row in conn.execute(f"SELECT id FROM jobs{where}", params)]
            for start in range(0, len(ids), 500):
                chunk = ids[start:start + 500]
                marks = ", ".join("?" * len(chunk))
                conn.execute(f"DELETE FROM jobs WHERE id IN ({marks})", chunk)
                conn.execute(f"DELETE FROM events WHERE job_id IN ({marks})", chunk)
                conn.execute(f"DELETE FROM job_logs WHERE job_id IN ({marks})", chunk)
        return ids

    def _locked_job(self, conn: sqlite3.Connection, job_id: JobId) -> Job:
        row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = ?", (job_id,)).fetchone()
        if row is None:
            raise JobNotFoundError(f"no job with id {job_id}")
        return row_to_job(row)

    # -- the worker's side ---------------------------------------------------------
    def register_instance(self, instance_id: str) -> None:
        now = time.time()
        with self._write() as conn:
            conn.execute(
                "INSERT INTO instances (id, pid, hostname, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                (instance_id, os.getpid(), socket.gethostname(), now, now),
            )

    def heartbeat(self, instance_id: str) -> None:
        with self._write() as conn:
            conn.execute("UPDATE instances SET heartbeat_at = ? WHERE id = ?", (time.time(), instance_id))

    def unregister_instance(self, instance_id: str) -> None:
        with self._write() as conn:
            conn.execute("DELETE FROM instances WHERE id = ?", (instance_id,))

    def owners_of_running_jobs(self) -> list[str]:
        rows = self.conn.execute("SELECT DISTINCT instance_id FROM jobs WHERE state = 'running'")
        return [row[0] for row in rows]

    def instances(self) -> list[dict[str, Any]]:
        rows = self.conn.execute("SELECT id, pid, hostname, started_at, heartbeat_at FROM instances")
        return [dict(zip(("id", "pid", "hostname", "started_at", "heartbeat_at"), r, strict=True)) for r in rows]

    def recover_instance(self, instance_id: str, fail_types: Iterable[str] = ()) -> list[tuple[JobId, str]]:
        """Settle the running jobs of a dead instance. Returns (job id, new state) pairs.

        Requeued (the lost attempt counts) unless the handler declared on_interrupt='fail'
        (→ interrupted) or attempts are used up (→ failed).
        """
        fail = set(fail_types)
        changed: list[tuple[JobId, str]] = []
        now = time.time()
        with self._write() as conn:
            rows = conn.execute(
                "SELECT id, type, attempts, max_attempts FROM jobs WHERE state = 'running' AND instance_id = ?",
                (instance_id,),
            ).fetchall()
            for job_id, job_type, attempts, max_attempts in rows:
                if job_type in fail:
                    new, msg = "interrupted", "the app stopped while this job ran; its handler is not safe to repeat"
                elif attempts >= max_attempts:
                    new, msg = "failed", f"the app stopped while this job ran, and its {max_attempts} attempt(s) are used up"
                else:
                    new, msg = "queued", "requeued after the app stopped while this job ran"
                final = new != "queued"
                conn.execute(
                    "UPDATE jobs SET state = ?, instance_id = NULL, error = ?, finished_at = ?, run_at = ?,"
                    " cancel_requested = 0 WHERE id = ?",
                    (new, msg if final else None, now if final else None, now, job_id),
                )
                self._event(conn, job_id, "recovery", "running", new, msg, at=now)
                changed.append((job_id, new))
            conn.execute("DELETE FROM instances WHERE id = ?", (instance_id,))
        return changed

    def promote_due(self, now: float | None = None) -> list[tuple[JobId, str]]:
        """Scheduled jobs whose time has come → queued. Returns (id, queue) pairs."""
        now = time.time() if now is None else now
        conn = self.conn
        if conn.execute("SELECT 1 FROM jobs WHERE state = 'scheduled' AND run_at <= ? LIMIT 1", (now,)).fetchone() is None:
            return []
        with self._write() as conn:
            rows = conn.execute(
                "UPDATE jobs SET state = 'queued' WHERE state = 'scheduled' AND run_at <= ? RETURNING id, queue", (now,)
            ).fetchall()
            conn.executemany(
                "INSERT INTO events (job_id, at, source, old_state, new_state, message)"
                " VALUES (?, ?, 'worker', 'scheduled', 'queued', 'due')",
                [(job_id, now) for job_id, _ in rows],
            )
        return [(job_id, queue) for job_id, queue in rows]

    def next_due_time(self) -> float | None:
        row = self.conn.execute("SELECT min(run_at) FROM jobs WHERE state = 'scheduled'").fetchone()
        return row[0]

    def complete_and_claim(
        self,
        completions: Sequence[Completion],
        instance_id: str,
        free_slots: int,
        prefetch: int = 0,
        no_prefetch_types: Iterable[str] = (),
    ) -> tuple[list[Completion], list[Job]]:
        """Apply finished runs and claim up to `free_slots` + `prefetch` queued jobs, in one transaction.

        A completion applies only while its run still owns the job (same instance,
        same attempt, still running); the applied ones are returned. Claiming respects
        paused queues and each queue's concurrency across every instance. Claimed jobs
        come best first; the `prefetch` ones (claimed ahead, beyond the free slots) stop
        before the first job whose type is in `no_prefetch_types`.
        """
        now = time.time()
        with self._write() as conn:
            applied = self._apply_completions(conn, completions, instance_id, now)
            wanted = free_slots + prefetch
            claimed = self._claim(conn, instance_id, free_slots, now, prefetch, no_prefetch_types) if wanted > 0 else []
        return applied, claimed

    def _apply_completions(self, conn: sqlite3.Connection, completions: Sequence[Completion],
                           instance_id: str, now: float) -> list[Completion]:  # fmt: skip
        applied: list[Completion] = []
        events = []
        for c in completions:
            final = c.state.is_final
            cur = conn.execute(
                "UPDATE jobs SET state = ?, instance_id = NULL, result = ?, error = ?, traceback = ?,"
                " finished_at = ?, run_at = coalesce(?, run_at), attempts = attempts - ?,"
                " progress = CASE WHEN ? = 'succeeded' THEN 1.0 ELSE coalesce(?, progress) END,"
                " progress_message = ?, cancel_requested = 0"
                " WHERE id = ? AND state = 'running' AND instance_id = ? AND attempts = ?",
                (c.state.value, c.result, c.error, c.traceback, now if final else None, c.run_at,
                 1 if c.refund_attempt else 0, c.state.value, c.progress, c.progress_message,
                 c.job_id, instance_id, c.attempt),
            )  # fmt: skip
            if cur.rowcount:
                applied.append(c)
                events.append((c.job_id, now, "running", c.state.value, c.message or (c.error or "")[:500]))
        conn.executemany(
            "INSERT INTO events (job_id, at, source, old_state, new_state, message) VALUES (?, ?, 'worker', ?, ?, ?)", events
        )
        return applied

    def _claim(self, conn: sqlite3.Connection, instance_id: str, free_slots: int, now: float,
               prefetch: int = 0, no_prefetch_types: Iterable[str] = ()) -> list[Job]:  # fmt: skip
        wanted = free_slots + prefetch
        queues = conn.execute("SELECT name, concurrency FROM queues WHERE paused = 0").fetchall()
        if not queues:
            return []
        limited = {name: limit for name, limit in queues if limit > 0}
        running: dict[str, int] = {}
        if limited:
            running = dict(conn.execute("SELECT queue, count(*) FROM jobs WHERE state = 'running' GROUP BY queue").fetchall())
        candidates: list[tuple[int, int, str]] = []  # (-priority, id, type)
        for name, limit in queues:
            room = wanted if limit == 0 else min(wanted, limit - running.get(name, 0))
            if room <= 0:
                continue
            candidates.extend(
                (-priority, job_id, job_type)
                for job_id, priority, job_type in conn.execute(
                    "SELECT id, priority, type FROM jobs WHERE state = 'queued' AND queue = ?"
                    " ORDER BY priority DESC, id LIMIT ?",
                    (name, room),
                )
            )
        ordered = sorted(candidates)[:wanted]
        ids = [job_id for _, job_id, _ in ordered[:free_slots]]
        excluded = set(no_prefetch_types)
        for _, job_id, job_type in ordered[free_slots:]:
            if job_type in excluded:
                break  # keeps priority order: nothing behind it is claimed ahead of it
            ids.append(job_id)
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        rows = conn.execute(
            f"UPDATE jobs SET state = 'running', instance_id = ?, attempts = attempts + 1, started_at = ?,"
            f" finished_at = NULL, progress = NULL, progress_message = '', error = NULL, traceback = NULL"
            f" WHERE id IN ({marks}) AND state = 'queued' RETURNING {JOB_COLUMNS}",
            [instance_id, now, *ids],
        ).fetchall()
        conn.executemany(
            "INSERT INTO events (job_id, at, source, old_state, new_state, message)"
            " VALUES (?, ?, 'worker', 'queued', 'running', ?)",
            [(row[0], now, f"attempt {row[6]}") for row in rows],
        )
        jobs = [row_to_job(row) for row in rows]
        jobs.sort(key=lambda j: (-j.priority, j.id))
        return jobs

    def cancel_requested_among(self, job_ids: Iterable[JobId]) -> list[JobId]:
        """Which of these running jobs someone (another process) asked to cancel."""
        ids = list(job_ids)
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        return [r[0] for r in self.conn.execute(f"SELECT id FROM jobs WHERE cancel_requested = 1 AND id IN ({marks})", ids)]

    def save_progress(self, updates: Sequence[tuple[JobId, float | None, str]]) -> None:
        if not updates:
            return
        with self._write() as conn:
            conn.executemany(
                "UPDATE jobs SET progress = ?, progress_message = ? WHERE id = ? AND state = 'running'",
                [(progress, message, job_id) for job_id, progress, message in updates],
            )

    def append_logs(self, lines: Sequence[tuple[JobId, float, str, str]]) -> None:
        if not lines:
            return
        with self._write() as conn:
            conn.executemany("INSERT INTO job_logs (job_id, at, level, message) VALUES (?, ?, ?, ?)", lines)

    def log_count(self, job_id: JobId) -> int:
        return self.conn.execute("SELECT count(*) FROM job_logs WHERE job_id = ?", (job_id,)).fetchone()[0]


def _split_sql(script: str) -> list[str]:
    """Split a migration into statements (ours never put ';' inside string literals)."""
    lines = [line for line in script.splitlines() if not line.strip().startswith("--")]
    return [stmt.strip() for stmt in "\n".join(lines).split(";") if stmt.strip()]
