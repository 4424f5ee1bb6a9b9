"""SqliteWorkerStore: the engine's side of the SQLite store (the WorkerStore half of SqliteJobStore).

Instances, recovery, due jobs, claims and completions, start marks, progress, logs and
the WAL checkpoints, on the shared SqliteDatabase. Every method that changes state does
it in one `db.write()` transaction, committed before it returns.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from ..core.job import Job, JobId
from ..core.recovery import RecoveryPolicy, decide
from ..core.runner import Completion
from .rows import JOB_COLUMNS, row_to_job
from .sqlite_db import SqliteDatabase


class SqliteWorkerStore:
    """Writes made by a running engine (the Scheduler and its collaborators)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db

    def data_version(self) -> int:
        """Changes when another connection commits: a cheap 'anything new?' poll."""
        return self.db.data_version()

    def checkpoint_in_background(self, every: float = 0.05) -> Callable[[], None]:
        """WAL checkpoints on a background thread (SqliteDatabase.checkpoint_in_background)."""
        return self.db.checkpoint_in_background(every)

    def register_instance(self, instance_id: str) -> None:
        now = time.time()
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO instances (id, pid, hostname, started_at, heartbeat_at) VALUES (?, ?, ?, ?, ?)"
                " ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                (instance_id, os.getpid(), socket.gethostname(), now, now),
            )

    def heartbeat(self, instance_id: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE instances SET heartbeat_at = ? WHERE id = ?", (time.time(), instance_id))

    def unregister_instance(self, instance_id: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM instances WHERE id = ?", (instance_id,))

    def owners_of_running_jobs(self) -> list[str]:
        rows = self.db.conn.execute("SELECT DISTINCT instance_id FROM jobs WHERE state = 'running'")
        return [row[0] for row in rows]

    def instances(self) -> list[dict[str, Any]]:
        rows = self.db.conn.execute("SELECT id, pid, hostname, started_at, heartbeat_at FROM instances")
        return [dict(zip(("id", "pid", "hostname", "started_at", "heartbeat_at"), r, strict=True)) for r in rows]

    def recover_instance(self, instance_id: str, policy: RecoveryPolicy | None = None) -> list[tuple[JobId, str]]:
        """Settle the running jobs of a dead instance (see core.recovery). Returns (job id, new state) pairs.

        A run counts as started when its start mark was written or the dead instance's
        start journal (policy.started) lists it: attempts never undercount real runs.
        """
        policy = policy or RecoveryPolicy()
        changed: list[tuple[JobId, str]] = []
        now = time.time()
        with self.db.write() as conn:
            rows = conn.execute(
                "SELECT id, type, attempts, started_at, interruptions FROM jobs WHERE state = 'running' AND instance_id = ?",
                (instance_id,),
            ).fetchall()
            started_ids = [r[0] for r in rows if r[3] is not None or (r[0], r[2]) in policy.started]
            for job_id, job_type, attempts, started_at, interruptions in rows:
                beside = [other for other in started_ids if other != job_id]
                decision = decide(job_id, job_type, attempts, started_at is not None, interruptions, policy, beside)
                new = decision.state.value
                final = decision.state.is_final
                conn.execute(
                    "UPDATE jobs SET state = ?, instance_id = NULL, error = ?, finished_at = ?, run_at = ?,"
                    " cancel_requested = 0, attempts = attempts - ?, interruptions = interruptions + ?,"
                    " started_at = CASE WHEN ? THEN coalesce(started_at, ?) ELSE started_at END WHERE id = ?",
                    (new, decision.message if final else None, now if final else None, now,
                     1 if decision.refund_attempt else 0, 1 if decision.interrupted else 0,
                     decision.interrupted, now, job_id),
                )  # fmt: skip
                self.db.event(conn, job_id, "recovery", "running", new, decision.message, at=now)
                changed.append((job_id, new))
            conn.execute("DELETE FROM instances WHERE id = ?", (instance_id,))
        return changed

    def promote_due(self, now: float | None = None) -> list[tuple[JobId, str]]:
        """Scheduled jobs whose time has come → queued. Returns (id, queue) pairs."""
        now = time.time() if now is None else now
        conn = self.db.conn
        if conn.execute("SELECT 1 FROM jobs WHERE state = 'scheduled' AND run_at <= ? LIMIT 1", (now,)).fetchone() is None:
            return []
        with self.db.write() as conn:
            rows = conn.execute(
                "UPDATE jobs SET state = 'queued' WHERE state = 'scheduled' AND run_at <= ? RETURNING id, queue", (now,)
            ).fetchall()
            conn.executemany(
                "INSERT INTO events (job_id, at, source, old_state, new_state, message)"
                " VALUES (?, ?, 'worker', 'scheduled', 'queued', 'due')",
                [(job_id, now) for job_id, _ in rows],
            )
        return [(job_id, queue) for job_id, queue in rows]

    def complete_and_claim(
        self,
        completions: Sequence[Completion],
        instance_id: str,
        free_slots: int,
        prefetch: int = 0,
        no_prefetch_types: Iterable[str] = (),
        started: Sequence[tuple[JobId, float]] = (),
    ) -> tuple[list[Completion], list[Job]]:
        """Apply finished runs and claim up to `free_slots` + `prefetch` queued jobs, in one transaction.

        A completion applies only while its run still owns the job (same instance,
        same attempt, still running); the applied ones are returned. Claiming respects
        paused queues and each queue's concurrency across every instance. Claimed jobs
        come best first; the `prefetch` ones (claimed ahead, beyond the free slots) stop
        before the first job whose type is in `no_prefetch_types`; their started_at stays
        empty until `started` reports (job id, time) for them, so recovery can tell a job
        that never ran.
        """
        now = time.time()
        starts = dict(started)
        finishing = {c.job_id for c in completions}
        with self.db.write() as conn:
            if starts.keys() - finishing:  # the others are marked by their completion's UPDATE
                conn.executemany(
                    "UPDATE jobs SET started_at = ? WHERE id = ? AND state = 'running' AND instance_id = ?"
                    " AND started_at IS NULL",
                    [(at, job_id, instance_id) for job_id, at in starts.items() if job_id not in finishing],
                )
            applied = self._apply_completions(conn, completions, instance_id, now, starts)
            wanted = free_slots + prefetch
            claimed = self._claim(conn, instance_id, free_slots, now, prefetch, no_prefetch_types) if wanted > 0 else []
        return applied, claimed

    def _apply_completions(self, conn: sqlite3.Connection, completions: Sequence[Completion], instance_id: str,
                           now: float, starts: dict[JobId, float]) -> list[Completion]:  # fmt: skip
        """Write the completions whose run still owns its job: one SELECT finds them, one
        executemany writes them (the UPDATE keeps the ownership check; nothing else writes
        inside this transaction). A job's first applicable completion wins, as if each
        were applied in turn."""
        owned: set[tuple[int, int]] = set()
        ids = list({c.job_id for c in completions})
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            owned.update(conn.execute(
                f"SELECT id, attempts FROM jobs WHERE id IN ({', '.join('?' * len(chunk))})"
                " AND state = 'running' AND instance_id = ?",
                [*chunk, instance_id],
            ).fetchall())  # fmt: skip
        applied: list[Completion] = []
        done: set[int] = set()
        for c in completions:
            if (c.job_id, c.attempt) in owned and c.job_id not in done:
                done.add(c.job_id)
                applied.append(c)
        if not applied:
            return applied
        conn.executemany(
            "UPDATE jobs SET state = ?, instance_id = NULL, result = ?, error = ?, traceback = ?,"
            " finished_at = ?, run_at = coalesce(?, run_at), attempts = attempts - ?,"
            " progress = CASE WHEN ? = 'succeeded' THEN 1.0 ELSE coalesce(?, progress) END,"
            " progress_message = ?, cancel_requested = 0, started_at = coalesce(started_at, ?)"
            " WHERE id = ? AND state = 'running' AND instance_id = ? AND attempts = ?",
            [(c.state.value, c.result, c.error, c.traceback, now if c.state.is_final else None, c.run_at,
              1 if c.refund_attempt else 0, c.state.value, c.progress, c.progress_message, starts.get(c.job_id),
              c.job_id, instance_id, c.attempt) for c in applied],
        )  # fmt: skip
        conn.executemany(
            "INSERT INTO events (job_id, at, source, old_state, new_state, message) VALUES (?, ?, 'worker', ?, ?, ?)",
            [(c.job_id, now, "running", c.state.value, c.message or (c.error or "")[:500]) for c in applied],
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
        starting = ids[:free_slots]  # the rest are claimed ahead: started_at stays empty until they start
        rows = conn.execute(
            f"UPDATE jobs SET state = 'running', instance_id = ?, attempts = attempts + 1,"
            f" started_at = CASE WHEN id IN ({', '.join('?' * len(starting)) or 'NULL'}) THEN ? END,"
            f" finished_at = NULL, progress = NULL, progress_message = '', error = NULL, traceback = NULL"
            f" WHERE id IN ({marks}) AND state = 'queued' RETURNING {JOB_COLUMNS}",
            [instance_id, *starting, now, *ids],
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
        return [r[0] for r in self.db.conn.execute(f"SELECT id FROM jobs WHERE cancel_requested = 1 AND id IN ({marks})", ids)]

    def save_progress(self, updates: Sequence[tuple[JobId, float | None, str]]) -> None:
        if not updates:
            return
        with self.db.write() as conn:
            conn.executemany(
                "UPDATE jobs SET progress = ?, progress_message = ? WHERE id = ? AND state = 'running'",
                [(progress, message, job_id) for job_id, progress, message in updates],
            )

    def append_logs(self, lines: Sequence[tuple[JobId, float, str, str]]) -> None:
        if not lines:
            return
        with self.db.write() as conn:
            conn.executemany("INSERT INTO job_logs (job_id, at, level, message) VALUES (?, ?, ?, ?)", lines)
