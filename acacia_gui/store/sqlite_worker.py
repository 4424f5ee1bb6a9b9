"""SqliteWorkerStore: the engine's side of the SQLite store (the WorkerStore half of SqliteJobStore).

Instances, recovery, due jobs, claims and completions, start marks, progress, logs and
the WAL checkpoints, on the shared SqliteDatabase. Every method that changes state does
it in one `db.write()` transaction, committed before it returns.

A broken row (rows.py: written by another program with the schema's CHECKs off, or
holding what they cannot see) never fails the engine's writes for every job: a write it
spoils is rolled back, the broken rows it may have met are set aside (failed, their
original copied to `jobs_quarantine`, an event saying why) and the write runs again
without them. The rare writes roll back to a savepoint; complete_and_claim, a chain's every
step, opens none on its first try (two statements and a copy of each page it changes
less) and is run again from the start, in savepoints, when a row spoiled it.
"""

from __future__ import annotations

import os
import socket
import sqlite3
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

from ..core.definitions import FINAL_STATES
from ..core.errors import StoreError
from ..core.job import Job, JobId
from ..core.rates import TypeLimits
from ..core.recovery import RecoveryPolicy, decide
from ..core.runner import Completion
from .rows import (
    COLUMN_RULES,
    JOB_COLUMNS,
    BrokenRowError,
    is_bad_row_error,
    ran_on_label,
    row_problems,
    row_to_job,
    set_aside_row,
)
from .sqlite_db import SqliteDatabase
from .sqlite_dependencies import ENGINE_SETTLE_BUDGET, RELEASED_MESSAGE, settle
from .sqlite_rates import queue_rates, queue_scope, record_starts, type_scope, window_room

T = TypeVar("T")

# The queues that have queued jobs, with their settings, one index seek per queue (a loose
# scan of jobs_ready): a queue with no `queues` row (another program wrote its jobs, or
# deleted the row) runs with the defaults. A name outside the queue alphabet comes back as
# NULL (Python might not even decode it): such a row is broken, and the claim sets it aside.
READY_QUEUES = (
    "WITH RECURSIVE ready (name) AS ("
    " SELECT (SELECT queue FROM jobs INDEXED BY jobs_ready WHERE state = 'queued' ORDER BY queue LIMIT 1)"
    " UNION ALL SELECT (SELECT queue FROM jobs INDEXED BY jobs_ready WHERE state = 'queued' AND queue > ready.name"
    " ORDER BY queue LIMIT 1) FROM ready WHERE ready.name IS NOT NULL)"
    " SELECT CASE WHEN typeof(ready.name) = 'text' AND ready.name NOT GLOB '*[^A-Za-z0-9_.-]*' THEN ready.name END,"
    " CASE WHEN typeof(q.concurrency) = 'integer' AND q.concurrency > 0 THEN q.concurrency ELSE 0 END, q.paused IS 1"
    " FROM ready LEFT JOIN queues q ON q.name = ready.name WHERE ready.name IS NOT NULL"
)


# A finished run's outcome, applied only while its run still owns the job (same instance, same attempt).
_COMPLETE = (
    "UPDATE jobs SET state = ?, instance_id = NULL, result = ?, error = ?, traceback = ?,"
    " finished_at = ?, run_at = coalesce(?, run_at), attempts = attempts - ?,"
    " progress = CASE WHEN ? = 'succeeded' THEN 1.0 ELSE coalesce(?, progress) END,"
    " progress_message = ?, cancel_requested = 0, started_at = coalesce(started_at, ?)"
    " WHERE id = ? AND state = 'running' AND instance_id = ? AND attempts = ?"
)


def _completion_params(c: Completion, now: float, starts: dict[JobId, float], instance_id: str) -> tuple[Any, ...]:
    return (c.state.value, c.result, c.error, c.traceback, now if c.state.is_final else None, c.run_at,
            1 if c.refund_attempt else 0, c.state.value, c.progress, c.progress_message, starts.get(c.job_id),
            c.job_id, instance_id, c.attempt)  # fmt: skip


def _spoiled_by_a_row(exc: BaseException) -> bool:
    """Whether a write that raised `exc` may have met a broken row (db.write wraps SQLite's errors)."""
    return is_bad_row_error(exc) or (isinstance(exc, StoreError) and exc.__cause__ is not None
                                     and is_bad_row_error(exc.__cause__))  # fmt: skip


def _fetch(conn: sqlite3.Connection, sql: str, params: Sequence[Any]) -> list[tuple]:
    cursor = conn.execute(sql, params)
    try:
        return cursor.fetchall()
    finally:
        cursor.close()  # a row that cannot be decoded must not leave the statement open


class SqliteWorkerStore:
    """Writes made by a running engine (the Scheduler and its collaborators)."""

    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db
        self._more_claimable = False
        self._next_claim_at: float | None = None
        self._seen_version: int | None = None

    def data_version(self) -> int:
        """Changes when another connection commits: a cheap 'anything new?' poll.

        The engine's transactions read release_backlog only while db.settle_backlog says it may
        hold rows: after one of them left some, and after another connection (maybe another
        instance, which may have left some) committed, as seen here."""
        version = self.db.data_version()
        if version != self._seen_version:
            self._seen_version = version
            self.db.settle_backlog = True
        return version

    def checkpoint_in_background(self, every: float = 0.05) -> Callable[[], None]:
        """WAL checkpoints on a background thread (SqliteDatabase.checkpoint_in_background)."""
        return self.db.checkpoint_in_background(every)

    def listen_for_wakeups(self, wake: Callable[[], None]) -> Callable[[], None]:
        """Nothing to listen to: every process on the file is on this machine, and the poll's
        data_version read sees their commits within a poll interval."""
        return lambda: None

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
        now = time.time()
        def owned(conn: sqlite3.Connection) -> list[JobId]:
            return [row[0] for row in conn.execute("SELECT id FROM jobs WHERE state = 'running' AND instance_id = ?",
                                                   (instance_id,))]  # fmt: skip

        with self.db.write() as conn:
            changed, broken = self._without_broken_rows(
                conn, lambda c: self._recover_rows(c, instance_id, policy, now), owned, "recovery", now
            )
            conn.execute("DELETE FROM instances WHERE id = ?", (instance_id,))
        return [*changed, *((job_id, "failed") for job_id in broken)]

    def _recover_rows(self, conn: sqlite3.Connection, instance_id: str, policy: RecoveryPolicy,
                      now: float) -> list[tuple[JobId, str]]:  # fmt: skip
        changed: list[tuple[JobId, str]] = []
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
        settle(self.db, conn, [job_id for job_id, new in changed if new in FINAL_STATES], "recovery", now)
        return changed

    def promote_due(self, now: float | None = None) -> list[tuple[JobId, str]]:
        """Scheduled jobs whose time has come → queued. Returns (id, queue) pairs."""
        now = time.time() if now is None else now
        conn = self.db.conn
        if conn.execute("SELECT 1 FROM jobs WHERE state = 'scheduled' AND run_at <= ? LIMIT 1", (now,)).fetchone() is None:
            return []

        def promote(conn: sqlite3.Connection) -> list[tuple[JobId, str]]:
            cursor = conn.execute(
                "UPDATE jobs SET state = 'queued' WHERE state = 'scheduled' AND run_at <= ? RETURNING id, queue", (now,)
            )
            try:
                rows = cursor.fetchall()
            finally:
                cursor.close()
            conn.executemany(
                "INSERT INTO events (job_id, at, source, old_state, new_state, message)"
                " VALUES (?, ?, 'worker', 'scheduled', 'queued', 'due')",
                [(job_id, now) for job_id, _ in rows],
            )
            return rows

        def due(conn: sqlite3.Connection) -> list[JobId]:
            return [row[0] for row in conn.execute("SELECT id FROM jobs WHERE state = 'scheduled' AND run_at <= ?", (now,))]

        with self.db.write() as conn:
            rows, _ = self._without_broken_rows(conn, promote, due, "worker", now)
        return [(job_id, queue) for job_id, queue in rows]

    def complete_and_claim(
        self,
        completions: Sequence[Completion],
        instance_id: str,
        free_slots: int,
        prefetch: int = 0,
        no_prefetch_types: Iterable[str] = (),
        started: Sequence[tuple[JobId, float]] = (),
        type_limits: TypeLimits | None = None,
    ) -> tuple[list[Completion], list[Job]]:
        """Apply finished runs and claim up to `free_slots` + `prefetch` queued jobs, in one transaction.

        A completion applies only while its run still owns the job (same instance,
        same attempt, still running); the applied ones are returned. Claiming respects
        paused queues and each queue's concurrency across every instance. Claimed jobs
        come best first; the `prefetch` ones (claimed ahead, beyond the free slots) stop
        before the first job whose type is in `no_prefetch_types`; their started_at stays
        empty until `started` reports (job id, time) for them, so recovery can tell a job
        that never ran. `type_limits` (per job type: max_running, rate) and the queues' rates
        hold back the jobs they cover, counted over every instance, while jobs behind them
        are still claimed; such jobs are never claimed ahead.

        Dependents these ends release are claimed straight from `waiting` when the claim takes
        them (one write, not `queued` then `running`), by the same rules and in the same order as
        queued jobs; their events are still `waiting → queued`, then `queued → running`.
        """
        now = time.time()
        starts = dict(started)
        finishing = {c.job_id for c in completions}
        wanted = free_slots + prefetch
        self._more_claimable = False
        self._next_claim_at = None

        held: list[tuple[JobId, str, int, str]] = []  # released by settle, still `waiting`: claimed or queued below
        events: list[tuple[Any, ...]] = []  # every event row of this write, in order: one INSERT at the end

        def write(conn: sqlite3.Connection) -> tuple[list[Completion], list[Job]]:
            held.clear()
            events.clear()
            self.db.settle_backlog = self.db.settle_backlog or backlog  # a try rolled back to the savepoint undid its reads
            if starts.keys() - finishing:  # the others are marked by their completion's UPDATE
                conn.executemany(
                    "UPDATE jobs SET started_at = ? WHERE id = ? AND state = 'running' AND instance_id = ?"
                    " AND started_at IS NULL",
                    [(at, job_id, instance_id) for job_id, at in starts.items() if job_id not in finishing],
                )
            applied = self._apply_completions(conn, completions, instance_id, now, starts, events)
            ended = {c.job_id: c.state.value for c in applied if c.state.is_final}
            settle(self.db, conn, list(ended), "worker", now, budget=ENGINE_SETTLE_BUDGET, states=ended,
                   hold=held, events=events)  # before the claim  # fmt: skip
            claimed = (self._claim(conn, instance_id, free_slots, now, prefetch, no_prefetch_types, type_limits, held,
                                   events)
                       if wanted > 0 or held else [])  # fmt: skip
            if held:
                taken = {job.id for job in claimed}
                rest = [row[0] for row in held if row[0] not in taken]
                for start in range(0, len(rest), 500):
                    chunk = rest[start:start + 500]
                    conn.execute(f"UPDATE jobs SET state = 'queued' WHERE id IN ({', '.join('?' * len(chunk))})"
                                 " AND state = 'waiting'", chunk)  # fmt: skip
            if events:
                conn.executemany("INSERT INTO events (job_id, at, source, old_state, new_state, message)"
                                 " VALUES (?, ?, ?, ?, ?, ?)", events)  # fmt: skip
            return applied, claimed

        def suspects(conn: sqlite3.Connection) -> list[JobId]:
            return [*starts, *finishing, *(row[0] for row in held),
                    *(self._claim_suspects(conn, wanted) if wanted > 0 else [])]  # fmt: skip

        backlog = self.db.settle_backlog
        careful = False  # the first try opens no savepoint (the common case: no broken row)
        while True:
            try:
                with self.db.write() as conn:
                    if not careful:
                        return write(conn)
                    (applied, claimed), _ = self._without_broken_rows(conn, write, suspects, "worker", now)
                    return applied, claimed
            except BaseException as exc:
                self.db.settle_backlog = backlog or self.db.settle_backlog  # rolled back: release_backlog is as it was
                if careful or not _spoiled_by_a_row(exc):
                    raise
                careful = True  # again from the start, in savepoints, setting the broken rows aside

    def _without_broken_rows(self, conn: sqlite3.Connection, write: Callable[[sqlite3.Connection], T],
                             suspects: Callable[[sqlite3.Connection], Iterable[JobId]], source: str,
                             now: float) -> tuple[T, list[JobId]]:  # fmt: skip
        """Run `write(conn)` in a savepoint. If a broken row spoils it, roll it back, set aside
        the broken rows among `suspects(conn)` (the rows the write may have met) and run it
        again. Returns its result and the ids set aside. Raises what spoiled it when no
        suspect is broken (then it was not a row's fault)."""
        set_aside: list[JobId] = []
        while True:
            conn.execute("SAVEPOINT without_broken_rows")
            notes = self.db.notes_mark()
            try:
                result = write(conn)
            except Exception as exc:
                if not is_bad_row_error(exc):
                    raise  # the whole transaction is rolled back by db.write()
                conn.execute("ROLLBACK TO without_broken_rows")
                conn.execute("RELEASE without_broken_rows")
                self.db.forget_notes_since(notes)
                broken = {}
                for job_id in dict.fromkeys(suspects(conn)):
                    problems = row_problems(conn, job_id)
                    if problems and job_id not in set_aside:
                        broken[job_id] = problems
                if not broken:
                    raise
                for job_id, problems in broken.items():
                    old_state = conn.execute(  # NULL when the state itself is broken
                        f"SELECT CASE WHEN {COLUMN_RULES['state'][0]} THEN state END FROM jobs WHERE id = ?", (job_id,)
                    ).fetchone()[0]
                    message = set_aside_row(conn, job_id, problems, now)
                    self.db.event(conn, job_id, source, old_state, "failed", message[:500], at=now)
                    set_aside.append(job_id)
                settle(self.db, conn, list(broken), source, now)  # their dependents do not wait for them
                continue
            conn.execute("RELEASE without_broken_rows")
            return result, set_aside

    def _claim_suspects(self, conn: sqlite3.Connection, wanted: int) -> list[JobId]:
        """The rows a claim may read: the first `wanted` queued jobs of every queue, and every
        queued job whose queue name is broken (a scan, but only after a claim failed)."""
        ids = [row[0] for row in conn.execute(
            "SELECT id FROM jobs WHERE state = 'queued' AND NOT (typeof(queue) = 'text' AND queue NOT GLOB '*[^A-Za-z0-9_.-]*')"
        )]  # fmt: skip
        for name, _, _ in conn.execute(READY_QUEUES).fetchall():
            if name is not None:
                ids.extend(row[0] for row in conn.execute(
                    "SELECT id FROM jobs WHERE state = 'queued' AND queue = ? ORDER BY priority DESC, id LIMIT ?", (name, wanted)
                ))  # fmt: skip
        return ids

    def _apply_completions(self, conn: sqlite3.Connection, completions: Sequence[Completion], instance_id: str,
                           now: float, starts: dict[JobId, float],
                           events: list[tuple[Any, ...]]) -> list[Completion]:  # fmt: skip
        """Write the completions whose run still owns its job: one SELECT finds them, one
        executemany writes them (the UPDATE keeps the ownership check; nothing else writes
        inside this transaction); one completion (a chain's step) is one UPDATE … RETURNING.
        A job's first applicable completion wins, as if each were applied in turn. Their
        events are appended to `events`."""
        if not completions:
            return []
        if len(completions) == 1:
            c = completions[0]
            applied = [c] if _fetch(conn, _COMPLETE + " RETURNING id", _completion_params(c, now, starts, instance_id)) else []
        else:
            applied = self._apply_many(conn, completions, instance_id, now, starts)
        events += [(c.job_id, now, "worker", "running", c.state.value, c.message or (c.error or "")[:500]) for c in applied]
        return applied

    def _apply_many(self, conn: sqlite3.Connection, completions: Sequence[Completion], instance_id: str,
                    now: float, starts: dict[JobId, float]) -> list[Completion]:  # fmt: skip
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
        if applied:
            conn.executemany(_COMPLETE, [_completion_params(c, now, starts, instance_id) for c in applied])
        return applied

    def _claim(self, conn: sqlite3.Connection, instance_id: str, free_slots: int, now: float,
               prefetch: int, no_prefetch_types: Iterable[str], type_limits: TypeLimits | None,
               held: Sequence[tuple[JobId, str, int, str]], events: list[tuple[Any, ...]]) -> list[Job]:  # fmt: skip
        """Claim the best queued jobs; `held` (id, queue, priority, type): `waiting` rows settle just
        released, candidates like queued ones. Appends the `waiting → queued` events of all of them
        and the claims' events to `events`; those not claimed the caller sets to `queued`."""
        events += [(job_id, now, "worker", "waiting", "queued", RELEASED_MESSAGE) for job_id, _, _, _ in held]
        if free_slots + prefetch <= 0:
            return []
        return self._claim_rows(conn, instance_id, free_slots, now, prefetch, no_prefetch_types, type_limits,
                                held, events)  # fmt: skip

    def _claim_rows(self, conn: sqlite3.Connection, instance_id: str, free_slots: int, now: float, prefetch: int,
                    no_prefetch_types: Iterable[str], type_limits: TypeLimits | None,
                    held: Sequence[tuple[JobId, str, int, str]], events: list[tuple[Any, ...]]) -> list[Job]:  # fmt: skip
        wanted = free_slots + prefetch
        self._more_claimable = False
        ready = conn.execute(READY_QUEUES).fetchall()
        if any(name is None for name, _, _ in ready):
            raise BrokenRowError("a queued job's queue name is broken")
        indexed = {name for name, _, _ in ready}  # the queues with queued rows: the others have only held ones
        extra = sorted({queue for _, queue, _, _ in held} - indexed)
        if extra:
            settings = {name: (limit, paused) for name, limit, paused in conn.execute(
                "SELECT name, CASE WHEN typeof(concurrency) = 'integer' AND concurrency > 0 THEN concurrency ELSE 0 END,"
                f" paused IS 1 FROM queues WHERE name IN ({', '.join('?' * len(extra))})", extra)}  # fmt: skip
            ready += [(name, *settings.get(name, (0, False))) for name in extra]
        queues = [(name, limit) for name, limit, paused in ready if not paused]
        if not queues:
            return []
        limited = {name: limit for name, limit in queues if limit > 0}
        running: dict[str, int] = {}
        if limited:
            running = dict(conn.execute(
                f"SELECT queue, count(*) FROM jobs WHERE state = 'running' AND queue IN ({', '.join('?' * len(limited))})"
                " GROUP BY queue",
                list(limited),
            ).fetchall())  # fmt: skip
        rates = queue_rates(conn)  # usually none: one read of an empty table
        rooms: dict[str, int] = {}
        for name, limit in queues:
            room = wanted if limit == 0 else min(wanted, limit - running.get(name, 0))
            if room > 0 and name in rates:
                left, next_at = window_room(conn, queue_scope(name), rates[name], now)
                room = min(room, left)
                self._note_next_claim(next_at)
            if room > 0:
                rooms[name] = room
        type_rooms = self._type_rooms(conn, type_limits or {}, now)
        ordered, self._more_claimable = self._pick(conn, rooms, wanted, type_rooms, held, indexed)
        ids = [job_id for _, job_id, _, _ in ordered[:free_slots]]
        excluded = set(no_prefetch_types) | set(type_rooms)  # a limited job is never claimed ahead
        for _, job_id, job_type, queue in ordered[free_slots:]:
            if job_type in excluded or queue in rates:
                break  # keeps priority order: nothing behind it is claimed ahead of it
            ids.append(job_id)
        if not ids:
            return []
        marks = ", ".join("?" * len(ids))
        starting = ids[:free_slots]  # the rest are claimed ahead: started_at stays empty until they start
        # A held row is `waiting` (settle released it in this transaction); any other is `queued`.
        cursor = conn.execute(
            f"UPDATE jobs SET state = 'running', instance_id = ?, ran_on = ?, attempts = attempts + 1,"
            f" started_at = CASE WHEN id IN ({', '.join('?' * len(starting)) or 'NULL'}) THEN ? END,"
            f" finished_at = NULL, progress = NULL, progress_message = '', error = NULL, traceback = NULL"
            f" WHERE id IN ({marks}) AND state IN ('queued', 'waiting') RETURNING {JOB_COLUMNS}",
            [instance_id, ran_on_label(), *starting, now, *ids],
        )
        try:
            rows = cursor.fetchall()
        finally:
            cursor.close()  # a row that cannot be decoded must not leave the statement open
        events += [(row[0], now, "worker", "queued", "running", f"attempt {row[6]}") for row in rows]
        jobs = [row_to_job(row) for row in rows]
        jobs.sort(key=lambda j: (-j.priority, j.id))
        if rates or type_limits:
            self._record_rate_starts(conn, jobs, type_limits or {}, rates, now)
        return jobs

    def _pick(self, conn: sqlite3.Connection, rooms: dict[str, int], wanted: int, type_rooms: dict[str, int],
              held: Sequence[tuple[JobId, str, int, str]] = (),
              indexed: set[str] | None = None) -> tuple[list[tuple[int, int, str, str]], bool]:  # fmt: skip
        """The best `wanted` queued jobs, at most rooms[queue] of each queue and type_rooms[type]
        of each limited type, as (-priority, id, type, queue); and whether more were claimable.

        One row more than the room is read per queue (to know whether more is claimable).
        When a limited type fills its room, its other rows are skipped and the queues read
        again without that type, so the jobs behind them are still claimed: at most one
        read more per limited type, and none without limits."""
        exclude = {job_type for job_type, room in type_rooms.items() if room <= 0}
        fixed: list[tuple[int, int, str, str]] = []  # rows of excluded types already picked
        picked: list[tuple[int, int, str, str]] = []
        more = False
        for _ in range(len(type_rooms) + 1):
            candidates = list(fixed)
            more = False
            not_in = f" AND type NOT IN ({', '.join('?' * len(exclude))})" if exclude else ""
            for name, full_room in rooms.items():
                room = full_room - sum(1 for row in fixed if row[3] == name)
                if room <= 0:
                    continue
                rows = conn.execute(
                    f"SELECT id, priority, type FROM jobs WHERE state = 'queued' AND queue = ?{not_in}"
                    " ORDER BY priority DESC, id LIMIT ?",
                    (name, *exclude, room + 1),
                ).fetchall() if indexed is None or name in indexed else []  # fmt: skip
                extra = [(job_id, priority, job_type) for job_id, queue, priority, job_type in held
                         if queue == name and job_type not in exclude]  # fmt: skip
                if extra:
                    rows = sorted([*rows, *extra], key=lambda row: (-row[1], row[0]))[:room + 1]
                more = more or (len(rows) > room and full_room == wanted)  # not when the queue's own limit stops it
                candidates.extend((-priority, job_id, job_type, name) for job_id, priority, job_type in rows[:room])
            candidates.sort()
            picked = []
            used: dict[str, int] = {}
            skipped: set[str] = set()
            for row in candidates:
                if len(picked) == wanted:
                    more = True
                    break
                job_type = row[2]
                if job_type in type_rooms:
                    if used.get(job_type, 0) >= type_rooms[job_type]:
                        skipped.add(job_type)
                        continue
                    used[job_type] = used.get(job_type, 0) + 1
                picked.append(row)
            if not skipped:
                break
            exclude |= skipped
            fixed = [row for row in picked if row[2] in exclude]
        return picked, more

    def _type_rooms(self, conn: sqlite3.Connection, limits: TypeLimits, now: float) -> dict[str, int]:
        """How many more jobs of each limited type may start now (max_running, rate), over
        every instance; notes when a full rate window frees a start."""
        rooms: dict[str, int] = {}
        for job_type, limit in limits.items():
            room = 1 << 30
            if limit.max_running is not None:
                running = conn.execute("SELECT count(*) FROM jobs WHERE state = 'running' AND type = ?",
                                       (job_type,)).fetchone()[0]  # fmt: skip
                room = limit.max_running - running
            if limit.rate is not None and room > 0:
                left, next_at = window_room(conn, type_scope(job_type), limit.rate, now)
                room = min(room, left)
                self._note_next_claim(next_at)
            rooms[job_type] = max(0, room)
        return rooms

    def _record_rate_starts(self, conn: sqlite3.Connection, jobs: Sequence[Job], limits: TypeLimits,
                            rates: dict[str, Any], now: float) -> None:  # fmt: skip
        """Count these claims as starts of their rate-limited type and queue (a limited job is
        never claimed ahead, so its claim is its start); note when a window that is now full
        frees its next start."""
        counts: dict[tuple[str, Any], int] = {}
        for job in jobs:
            limit = limits.get(job.type)
            if limit is not None and limit.rate is not None:
                key = (type_scope(job.type), limit.rate)
                counts[key] = counts.get(key, 0) + 1
            if job.queue in rates:
                key = (queue_scope(job.queue), rates[job.queue])
                counts[key] = counts.get(key, 0) + 1
        for (scope, rate), n in counts.items():
            record_starts(conn, scope, n, now)
            self._note_next_claim(window_room(conn, scope, rate, now, prune=False)[1])

    def _note_next_claim(self, at: float | None) -> None:
        if at is not None and (self._next_claim_at is None or at < self._next_claim_at):
            self._next_claim_at = at

    def next_claim_at(self) -> float | None:
        """When a rate that held jobs back in the last complete_and_claim frees its next start
        (a time.time() value), or None: the engine wakes then instead of polling."""
        return self._next_claim_at

    def settling_pending(self) -> bool:
        """Whether finished jobs still have dependents to settle (release_backlog): the engine
        writes again soon, even with nothing else to write, until there are none. Known from
        the last engine transaction (no query); True until the first one looked."""
        return self.db.settle_backlog

    def more_claimable(self) -> bool:
        """Whether the last complete_and_claim saw claimable jobs beyond what it was asked to
        claim (so claiming again at once may get some; when False, it would get none)."""
        return self._more_claimable

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
