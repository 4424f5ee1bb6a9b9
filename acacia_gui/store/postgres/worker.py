"""PostgresWorkerStore: the engine's side of the PostgreSQL store (the port of store/sqlite_worker.py).

Instances, recovery, due jobs, claims and completions, start marks, progress and logs, on
the shared PostgresDatabase. Every method that changes state does it in one `db.write()`
transaction, committed before it returns.

What differs from SQLite, and why: SQLite has one writer at a time (`BEGIN IMMEDIATE`), so
whatever a write transaction counts stays true until it commits. PostgreSQL runs several
writers at once (READ COMMITTED: each statement sees what was committed when it began), so:

- the claim reads its candidates `FOR UPDATE SKIP LOCKED`: two claimers never wait for each
  other's rows and never take the same job;
- what the claim counts across instances (a queue's concurrency, a type's max_running, a
  rate's window) is counted under a transaction-level advisory lock per queue or type
  (rates.lock_scope, taken in name order, so two claimers cannot deadlock on them): two
  claimers cannot both see room for the last slot;
- a completion and a recovery lock the rows they look at (`FOR UPDATE`) before deciding, so a
  late completion and the recovery of its instance never both apply;
- a deadlock the server breaks (possible only in rare interleavings of settling and user
  actions) is retried once by the engine's writes, as a busy database is in SQLite.

A broken row (a program with the owner's rights dropped a CHECK, wrote the row and put the
CHECK back NOT VALID; or a payload nested deeper than Python reads) never fails the engine's
writes for every job: as in SQLite, a write it spoils is rolled back to a savepoint, the
broken rows it may have met are set aside (failed, their original copied to
`jobs_quarantine`, an event saying why) and the write runs again without them. PostgreSQL
checks every CHECK, NOT VALID ones included, on each new row version, so writing to such a
row fails: that is how the engine meets it.
"""

from __future__ import annotations

import json
import os
import socket
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any, TypeVar

import psycopg

from ...core.definitions import FINAL_STATES
from ...core.errors import StoreError
from ...core.job import Job, JobId
from ...core.rates import Rate, TypeLimits
from ...core.recovery import RecoveryPolicy, decide
from ...core.runner import Completion
from ..rows import _NOW, COLUMN_RULES, JOB_COLUMNS, BrokenRowError, ran_on_label, row_to_job
from .db import PostgresDatabase
from .dependencies import ENGINE_SETTLE_BUDGET, RELEASED_MESSAGE, backlog_look_due, insert_events, settle
from .jobs import row_problems
from .rates import lock_scope, queue_scope, record_starts, type_scope, window_room
from .rowsets import id_array, rows_param, rowset

T = TypeVar("T")

# The queues that have queued jobs, with their settings and rate, one index seek per queue (a
# loose scan of the partial index jobs_ready): a queue with no `queues` row (another program
# wrote its jobs, or deleted the row) runs with the defaults.
_QUEUE_SETTINGS = (
    "coalesce(q.concurrency, 0), coalesce(q.paused, 0) = 1, r.count, r.per_seconds"
    " FROM {names} LEFT JOIN queues q ON q.name = {name} LEFT JOIN queue_rates r ON r.queue = {name}"
)
READY_QUEUES = (
    "WITH RECURSIVE ready (name) AS ("
    " SELECT (SELECT min(queue) FROM jobs WHERE state = 'queued')"
    " UNION ALL SELECT (SELECT min(queue) FROM jobs WHERE state = 'queued' AND queue > ready.name)"
    " FROM ready WHERE ready.name IS NOT NULL)"
    " SELECT ready.name, " + _QUEUE_SETTINGS.format(names="ready", name="ready.name")
    + " WHERE ready.name IS NOT NULL ORDER BY ready.name"
)
# The same for named queues (those of dependents released in this transaction, with no queued job).
_NAMED_QUEUES = ("SELECT n.name, " + _QUEUE_SETTINGS.format(names="unnest(%s::text[]) AS n (name)", name="n.name")
                 + " ORDER BY n.name")  # fmt: skip

# "Did anyone commit?" (data_version): a counter per server session, bumped once per write
# transaction by a statement trigger on every table of the store. See data_version().
COMMIT_COUNTER_TABLE = "acacia_commit_counter"

# Whether a jobs row keeps every rule of the schema's CHECKs (migrations/0001_init.sql, word
# for word): a program with the owner's rights can drop a CHECK and write a row past it, and
# PostgreSQL would then let the store's own writes to that row through. The engine's writes
# read this with the rows they change and set a broken one aside (see _without_broken_rows).
# The commit counter keeps a row per session that wrote; a pool replaces its connections (max
# lifetime), so ended sessions' rows are folded into row 0 — in one transaction, so the sum
# data_version reads never changes by it — by a heartbeat every FOLD_COUNTERS_EVERY seconds:
# the table holds the live sessions' rows plus those ended since, never more.
FOLD_COUNTERS_EVERY = 600.0
_FOLD_ENDED_SESSIONS = (
    "WITH gone AS (DELETE FROM acacia_commit_counter c WHERE session <> 0"
    " AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a WHERE a.pid = c.session) RETURNING commits)"
    " INSERT INTO acacia_commit_counter AS c (session, commits, xact)"
    " SELECT 0, sum(commits), pg_current_xact_id() FROM gone HAVING count(*) > 0"
    " ON CONFLICT (session) DO UPDATE SET commits = c.commits + excluded.commits"
)

SOUND = (
    "coalesce(length(type) BETWEEN 1 AND 200 AND type ~ '^[A-Za-z0-9_.:/-]+$'"
    " AND length(queue) BETWEEN 1 AND 64 AND queue ~ '^[A-Za-z0-9_.-]+$'"
    " AND state IN ('waiting', 'queued', 'scheduled', 'running', 'succeeded', 'failed', 'cancelled', 'interrupted')"
    " AND acacia_json_valid(payload) AND attempts >= 0 AND max_attempts >= 1"
    " AND (timeout IS NULL OR timeout > 0) AND (progress IS NULL OR progress BETWEEN 0 AND 1)"
    " AND (result IS NULL OR acacia_json_valid(result)) AND cancel_requested IN (0, 1) AND interruptions >= 0"
    " AND (cancel_grace IS NULL OR cancel_grace >= 0) AND (memory_limit IS NULL OR memory_limit > 0)"
    " AND (cpu_time_limit IS NULL OR cpu_time_limit > 0) AND (nice IS NULL OR nice BETWEEN 0 AND 19)"
    " AND (unique_key IS NULL OR length(unique_key) BETWEEN 1 AND 200)"
    " AND (state = 'running') = (instance_id IS NOT NULL), false)"
)

# What a claim writes: the owner, ran_on, one more attempt, and started_at for the jobs that start
# now (`{starting}`: which ones; the others are claimed ahead and marked when they start).
_CLAIM_SET_OF = (
    "state = 'running', instance_id = %s, ran_on = %s, attempts = attempts + 1,"
    " started_at = CASE WHEN {starting} THEN %s::double precision END,"
    " finished_at = NULL, progress = NULL, progress_message = '', error = NULL, traceback = NULL"
)
_CLAIM_SET = _CLAIM_SET_OF.format(starting="id = ANY(%s::bigint[])")
# The claim's check that a row it locked is still claimable, written so that no index can serve
# it: the rows are found by id (the primary key), and a planner with stale statistics (a table
# just filled by a batch) would otherwise scan every queued job's entry in jobs_state instead.
_STILL_CLAIMABLE = "coalesce(state IN ('queued', 'waiting'), false)"
_DEADLOCK_RETRIES = 3

# Completions, one array per field (the UPDATE keeps the ownership check: same instance, same attempt).
# The engine's statements on rows it names by id keep their other conditions inside coalesce(), where
# no index can serve them: the rows are then found through the primary key, whatever the statistics
# say. Given `instance_id = %s` as an index condition, the generic plan of a prepared statement
# (psycopg prepares after 5 runs) on a table just filled trusted an estimate of one running row,
# scanned jobs_running and re-read the arrays once per row: a completion of 125 jobs took 15 ms.
# The ids are also given as an array (`j.id = ANY(…)`), an index condition on the primary key:
# joined to the rows alone, a planner with stale statistics hashed them against a whole-table scan.
_COMPLETE = (
    "UPDATE jobs j SET state = c.state, instance_id = NULL, result = c.result, error = c.error,"
    " traceback = c.traceback, finished_at = c.finished_at, run_at = coalesce(c.run_at, j.run_at),"
    " attempts = j.attempts - c.refund, progress = coalesce(c.progress, j.progress),"
    " progress_message = c.progress_message, cancel_requested = 0, started_at = coalesce(j.started_at, c.started_at)"
    " FROM " + rowset("c", (("id", "bigint"), ("attempt", "bigint"), ("state", "text"), ("result", "text"),
                            ("error", "text"), ("traceback", "text"), ("finished_at", "float8"), ("run_at", "float8"),
                            ("refund", "bigint"), ("progress", "float8"), ("progress_message", "text"),
                            ("started_at", "float8")))
    + " WHERE j.id = c.id AND j.id = ANY(%s::bigint[])"
    " AND coalesce(j.state = 'running' AND j.instance_id = %s AND j.attempts = c.attempt, false)"
)

# A claimed job's last checkpoint (data, saved_at, attempt) or NULL, read by the claim's RETURNING.
_LAST_CHECKPOINT = ("(SELECT json_build_array(c.data, c.saved_at, c.attempt) FROM job_checkpoints c"
                    " WHERE c.job_id = jobs.id)")  # fmt: skip
# What a claim returns: the job, its last checkpoint, whether its row is sound (see _claimed).
_CLAIMED_COLUMNS = f"{JOB_COLUMNS}, {_LAST_CHECKPOINT}, {SOUND}"

# The claim of one queue with no limit, no rate and no type limits (the common case), in one
# statement: the best `wanted` queued jobs, read `FOR UPDATE SKIP LOCKED` (one more, to know
# whether more were claimable), become this instance's, the first `free_slots` of them started,
# and their `queued → running` events are written. Nothing is left to do after it but COMMIT,
# which travels with it (pipeline mode): its rows are read once committed, so a row that breaks
# the schema's rules is not claimed (`pick_sound`) but counted, for a careful write to set aside.
# Sent without reading READY_QUEUES first (`guessed`: the queue the last claim found alone), it
# checks itself that the queue is still the only one with queued jobs and has nothing to count
# (`fits`), and claims nothing if not. Parameters: fitting (true: READY_QUEUES said so), the queue five times,
# wanted + 1, wanted, free_slots, instance_id, ran_on, now, now. One row per claimed job, as the
# general claim's (a true soundness last), after `fits`, how many rows were read and how many of
# those were broken; a single row of NULLs after these three when none was claimed.
_CLAIM_ONE_QUEUE = (
    "WITH ok AS MATERIALIZED (SELECT %s::boolean OR ("
    " NOT EXISTS (SELECT 1 FROM queues q WHERE q.name = %s AND (q.paused <> 0 OR q.concurrency > 0))"
    " AND NOT EXISTS (SELECT 1 FROM queue_rates r WHERE r.queue = %s)"
    " AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.state = 'queued' AND o.queue < %s)"
    " AND NOT EXISTS (SELECT 1 FROM jobs o WHERE o.state = 'queued' AND o.queue > %s)) AS fits),"
    " picked AS MATERIALIZED (SELECT id AS pick_id, priority AS pick_priority, {sound} AS pick_sound FROM jobs"
    " WHERE state = 'queued' AND queue = %s AND (SELECT fits FROM ok)"
    " ORDER BY priority DESC, id LIMIT %s FOR UPDATE SKIP LOCKED),"
    " chosen AS MATERIALIZED (SELECT pick_id, pick_priority FROM picked WHERE pick_sound"
    " ORDER BY pick_priority DESC, pick_id LIMIT %s),"
    " starting AS MATERIALIZED (SELECT pick_id FROM chosen ORDER BY pick_priority DESC, pick_id LIMIT %s),"
    " claimed AS (UPDATE jobs SET " + _CLAIM_SET_OF.format(starting="jobs.id IN (SELECT pick_id FROM starting)")
    + " FROM chosen WHERE jobs.id = chosen.pick_id RETURNING {columns}, {checkpoint}, true),"
    " logged AS (INSERT INTO events (job_id, at, source, old_state, new_state, message)"
    " SELECT id, %s, 'worker', 'queued', 'running', 'attempt ' || attempts FROM claimed ORDER BY priority DESC, id)"
    " SELECT (SELECT fits FROM ok), counts.*, claimed.*"
    " FROM (SELECT count(*), count(*) FILTER (WHERE NOT pick_sound) FROM picked) AS counts"
    " LEFT JOIN claimed ON true"
).format(sound=SOUND, columns=JOB_COLUMNS, checkpoint=_LAST_CHECKPOINT)

# Start marks of jobs claimed ahead, (id, at) rows.
_MARK_STARTED = (
    "UPDATE jobs j SET started_at = m.at FROM " + rowset("m", (("id", "bigint"), ("at", "float8")))
    + " WHERE j.id = m.id AND j.id = ANY(%s::bigint[])"
    " AND coalesce(j.state = 'running' AND j.instance_id = %s AND j.started_at IS NULL, false)"
)


class PostgresWorkerStore:
    """Writes made by a running engine (the Scheduler and its collaborators)."""

    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db
        self._more_claimable = False
        self._next_claim_at: float | None = None
        self._careful = threading.local()  # .on: this thread's write runs in savepoints (see _write)
        self._claimed_checkpoints: dict[JobId, dict[str, Any]] | None = None  # see checkpoints_of_claimed
        self._last_claimed: set[JobId] | None = None
        self._ready: psycopg.Cursor | None = None  # READY_QUEUES sent ahead by complete_and_claim (pipeline mode)
        # A _CLAIM_ONE_QUEUE sent with the COMMIT: (its rows once read, wanted, now); see _take_sent_claim.
        self._sent_claim: tuple[list[Sequence[Any]], int, float] | None = None
        # The queue the last READY_QUEUES found alone and with nothing to count: claims go to it
        # straight away (_CLAIM_ONE_QUEUE checks it still fits), a round trip less.
        self._alone: str | None = None
        self._careful_next = False  # a claim skipped a broken row: the next complete_and_claim is careful

    # -- "anything new?" ---------------------------------------------------------------
    _fold_due = 0.0  # monotonic time of the next fold of ended sessions' counter rows (heartbeat)

    def data_version(self) -> int:
        """Changes when a write transaction commits (a cheap 'anything new?' poll).

        SQLite's PRAGMA data_version has no PostgreSQL counterpart, and the obvious candidates
        are wrong: pg_stat_database.xact_commit counts read-only transactions too (this very
        poll among them) and is published up to a second late; txid_current_snapshot() and
        the WAL position move with every database of the server. So the store counts its own
        commits: a statement trigger on every table adds one per write transaction to a row
        of acacia_commit_counter keyed by the writing session (pg_backend_pid()), and this is
        the sum of the rows. It is transactional (a commit is seen exactly when its changes
        are: never before them, as a sequence's nextval would be), it only grows (the value
        never comes back, even across sessions), and one row per session means concurrent
        writers never wait on each other's counter row.

        Unlike SQLite's it also changes for this process's own commits (a connection of the
        pool is not "this connection"): a poll after our own write says "changed" once, which
        costs the engine one re-read and is all the contract asks ("changes when another
        connection commits")."""
        return int(self.db.fetchone(f"SELECT coalesce(sum(commits), 0) FROM {COMMIT_COUNTER_TABLE}")[0])

    def checkpoint_in_background(self, every: float = 0.05) -> Callable[[], None]:
        """Nothing to do: the server checkpoints its own WAL. Returns the (no-op) stop function."""
        return lambda: None

    def listen_for_wakeups(self, wake: Callable[[], None]) -> Callable[[], None]:
        """LISTEN/NOTIFY on a connection of its own (notify.WakeListener): another instance's
        enqueue, retry, release or resume wakes this one at once, not at its next poll."""
        from .notify import WakeListener

        return WakeListener(self.db.url, wake).start().stop

    # -- instances and recovery ----------------------------------------------------------
    # Instance times are the server's clock (liveness.SERVER_NOW), not the client's: instances on
    # machines whose clocks disagree still agree on a heartbeat's age (liveness.py, the lease).
    def register_instance(self, instance_id: str) -> None:
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO instances (id, pid, hostname, started_at, heartbeat_at)"
                " SELECT %s, %s, %s, t, t FROM (SELECT extract(epoch FROM clock_timestamp())::double precision) AS n(t)"
                " ON CONFLICT (id) DO UPDATE SET heartbeat_at = excluded.heartbeat_at",
                (instance_id, os.getpid(), socket.gethostname()),
            )

    def heartbeat(self, instance_id: str) -> None:
        with self.db.write() as conn:
            conn.execute("UPDATE instances SET heartbeat_at = extract(epoch FROM clock_timestamp()) WHERE id = %s",
                         (instance_id,))  # fmt: skip

    def fold_counters_if_due(self) -> None:
        """Fold ended sessions' commit-counter rows (at most every FOLD_COUNTERS_EVERY seconds;
        the store's heartbeat calls it)."""
        if time.monotonic() >= self._fold_due:
            self._fold_due = time.monotonic() + FOLD_COUNTERS_EVERY
            with self.db.write() as conn:
                conn.execute(_FOLD_ENDED_SESSIONS)

    def unregister_instance(self, instance_id: str) -> None:
        with self.db.write() as conn:
            conn.execute("DELETE FROM instances WHERE id = %s", (instance_id,))

    def owners_of_running_jobs(self) -> list[str]:
        rows = self.db.fetchall("SELECT DISTINCT instance_id FROM jobs WHERE state = 'running' ORDER BY instance_id")
        return [row[0] for row in rows]

    def instances(self) -> list[dict[str, Any]]:
        rows = self.db.fetchall("SELECT id, pid, hostname, started_at, heartbeat_at FROM instances ORDER BY id")
        return [dict(zip(("id", "pid", "hostname", "started_at", "heartbeat_at"), r, strict=True)) for r in rows]

    def recover_instance(self, instance_id: str, policy: RecoveryPolicy | None = None) -> list[tuple[JobId, str]]:
        """Settle the running jobs of a dead instance (see core.recovery). Returns (job id, new state) pairs.

        A run counts as started when its start mark was written or the dead instance's
        start journal (policy.started) lists it: attempts never undercount real runs. The
        rows are locked first: a late completion of the dead instance, or a second instance
        recovering the same one, waits and then finds them settled.
        """
        policy = policy or RecoveryPolicy()
        now = time.time()

        def owned(conn: psycopg.Connection) -> list[JobId]:
            return [row[0] for row in conn.execute(
                "SELECT id FROM jobs WHERE state = 'running' AND instance_id = %s ORDER BY id", (instance_id,))]  # fmt: skip

        def write(conn: psycopg.Connection) -> list[tuple[JobId, str]]:
            changed, broken = self._without_broken_rows(
                conn, lambda c: self._recover_rows(c, instance_id, policy, now), owned, "recovery", now
            )
            conn.execute("DELETE FROM instances WHERE id = %s", (instance_id,))
            return [*changed, *((job_id, "failed") for job_id in broken)]

        recovered = self._write(write)
        self.db.backlog_look_due = 0.0  # a fan-out it was settling goes on in this instance's next write
        return recovered

    def _recover_rows(self, conn: psycopg.Connection, instance_id: str, policy: RecoveryPolicy,
                      now: float) -> list[tuple[JobId, str]]:  # fmt: skip
        changed: list[tuple[JobId, str]] = []
        rows = conn.execute(
            f"SELECT id, type, attempts, started_at, interruptions, {SOUND} FROM jobs WHERE state = 'running'"
            " AND instance_id = %s ORDER BY id FOR UPDATE",
            (instance_id,),
        ).fetchall()
        _refuse_broken(rows)
        rows = [row[:-1] for row in rows]
        started_ids = [r[0] for r in rows if r[3] is not None or (r[0], r[2]) in policy.started]
        updates, events = [], []
        for job_id, job_type, attempts, started_at, interruptions in rows:
            beside = [other for other in started_ids if other != job_id]
            decision = decide(job_id, job_type, attempts, started_at is not None, interruptions, policy, beside)
            new = decision.state.value
            final = decision.state.is_final
            updates.append((new, decision.message if final else None, now if final else None, now,
                            1 if decision.refund_attempt else 0, 1 if decision.interrupted else 0,
                            decision.interrupted, now, job_id))  # fmt: skip
            events.append((job_id, now, "recovery", "running", new, decision.message))
            changed.append((job_id, new))
        if updates:
            with conn.cursor() as cur:
                cur.executemany(
                    "UPDATE jobs SET state = %s, instance_id = NULL, error = %s, finished_at = %s, run_at = %s,"
                    " cancel_requested = 0, attempts = attempts - %s, interruptions = interruptions + %s,"
                    " started_at = CASE WHEN %s THEN coalesce(started_at, %s) ELSE started_at END WHERE id = %s",
                    updates,
                )
            insert_events(conn, events)
        settle(self.db, conn, [job_id for job_id, new in changed if new in FINAL_STATES], "recovery", now)
        return changed

    def promote_due(self, now: float | None = None) -> list[tuple[JobId, str]]:
        """Scheduled jobs whose time has come → queued. Returns (id, queue) pairs."""
        now = time.time() if now is None else now
        if self.db.fetchone("SELECT 1 FROM jobs WHERE state = 'scheduled' AND run_at <= %s LIMIT 1", (now,)) is None:
            return []

        def promote(conn: psycopg.Connection) -> list[tuple[JobId, str]]:
            # SKIP LOCKED: rows another instance is promoting (or a user is changing) are its own.
            rows = conn.execute(
                "UPDATE jobs SET state = 'queued' WHERE id IN (SELECT id FROM jobs WHERE state = 'scheduled'"
                f" AND run_at <= %s FOR UPDATE SKIP LOCKED) AND state = 'scheduled' RETURNING id, queue, {SOUND}", (now,)
            ).fetchall()  # fmt: skip
            _refuse_broken(rows)
            rows = sorted(row[:-1] for row in rows)
            insert_events(conn, [(job_id, now, "worker", "scheduled", "queued", "due") for job_id, _ in rows])
            return rows

        def due(conn: psycopg.Connection) -> list[JobId]:
            return [row[0] for row in conn.execute(
                "SELECT id FROM jobs WHERE state = 'scheduled' AND run_at <= %s ORDER BY id", (now,))]  # fmt: skip

        rows = self._write(lambda conn: self._without_broken_rows(conn, promote, due, "worker", now)[0])
        return [(job_id, queue) for job_id, queue in rows]

    def _write(self, write: Callable[[psycopg.Connection], T], careful: bool = False, single: bool = False,
               pipeline: bool = True) -> T:  # fmt: skip
        """`write(conn)` in one write transaction, run again (from the start) when the server
        broke a deadlock or a serialization conflict by rolling it back, or when a broken row
        spoiled it: then in savepoints, carefully (see _without_broken_rows). The first run is
        pipelined (db.write): fewer round trips; the careful one is not, so that an error is raised
        by the statement that met the row, inside its savepoint. `careful`: so from the start (the
        last claim skipped a broken row, which this run sets aside). `single`: the first run sends
        one statement (db.write's `single`). `pipeline` false: never pipelined (a write that opens
        savepoints)."""
        attempt = 0
        while True:
            self._careful.on = careful
            try:
                with self.db.write(pipeline=pipeline and not careful, single=single and not careful) as conn:
                    return write(conn)
            except _MetBrokenRow:
                careful = True
            except StoreError as exc:
                cause = exc.__cause__
                if not careful and _is_bad_row_error(cause):
                    careful = True  # raised at a later read or at the commit (pipeline mode): see db.write
                    continue
                retry = isinstance(cause, (psycopg.errors.DeadlockDetected, psycopg.errors.SerializationFailure))
                if not retry or attempt == _DEADLOCK_RETRIES:
                    raise
                attempt += 1
            finally:
                self._careful.on = False

    # -- claims and completions -------------------------------------------------------------
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

        held: list[tuple[JobId, str, int, str]] = []  # released by settle, still `waiting`: claimed or queued below
        marks = [(job_id, float(at)) for job_id, at in sorted(starts.items()) if job_id not in finishing]
        careful, self._careful_next = self._careful_next, False
        # Nothing to complete or settle: claim from the queue the last claim found alone, without
        # reading the queue list (the statement checks that the queue still fits).
        guessed = (self._alone if wanted > 0 and not completions and not careful and not type_limits
                   and not (prefetch and set(no_prefetch_types)) and not backlog_look_due(self.db) else None)  # fmt: skip

        def write(conn: psycopg.Connection) -> tuple[list[Completion], list[Job]]:
            self._sent_claim = None
            self._more_claimable = False
            self._next_claim_at = None
            self._claimed_checkpoints = {}
            held.clear()
            # Sent now, read by the claim: in pipeline mode it travels with the first statement
            # whose result is read (a round trip less). Settling makes no row `queued` that the
            # claim would need (released dependents come to it as `held`).
            careful = getattr(self._careful, "on", False)
            guess = guessed if not careful else None
            self._ready = conn.execute(READY_QUEUES) if wanted > 0 and not careful and guess is None else None
            if marks:  # the others are marked by their completion's UPDATE
                conn.execute(_MARK_STARTED, (rows_param(marks), id_array(job_id for job_id, _ in marks), instance_id))
            if guess is not None:  # the claim alone: one statement, one round trip in all
                return [], self._claim_one_queue(conn, guess, instance_id, free_slots, wanted, now, [], guessed=True)
            events: list[tuple[Any, ...]] = []  # written once, at the end, in order
            applied = self._apply_completions(conn, completions, instance_id, now, starts, events)
            ended = {c.job_id: c.state.value for c in applied if c.state.is_final}
            settle(self.db, conn, list(ended), "worker", now, budget=ENGINE_SETTLE_BUDGET, states=ended,
                   hold=held)  # before the claim  # fmt: skip
            claimed = (self._claim(conn, instance_id, free_slots, now, prefetch, no_prefetch_types, type_limits, held,
                                   events) if wanted > 0 or held else [])  # fmt: skip
            insert_events(conn, events)
            if held:
                taken = {job.id for job in claimed}
                rest = [row[0] for row in held if row[0] not in taken]
                if rest:
                    conn.execute("UPDATE jobs SET state = 'queued' WHERE id = ANY(%s::bigint[]) AND state = 'waiting'",
                                 (rest,))  # fmt: skip
            return applied, claimed

        def suspects(conn: psycopg.Connection) -> list[JobId]:
            return [*starts, *finishing, *(row[0] for row in held),
                    *(self._claim_suspects(conn, wanted) if wanted > 0 else [])]  # fmt: skip

        self._last_claimed = None
        applied, claimed = self._write(lambda conn: self._without_broken_rows(conn, write, suspects, "worker", now)[0],
                                       careful, single=guessed is not None and not marks)  # fmt: skip
        sent = self._take_sent_claim()
        if sent is None:  # the queue guessed was not alone: claim as usual
            _, claimed = self.complete_and_claim((), instance_id, free_slots, prefetch, no_prefetch_types,
                                                 type_limits=type_limits)  # fmt: skip
        elif not claimed:
            claimed = sent
        if self._careful_next and len(claimed) < wanted:  # it skipped a broken row: set it aside now, claim the rest
            checkpoints, taken = self._claimed_checkpoints or {}, len(claimed)
            _, more = self.complete_and_claim((), instance_id, max(0, free_slots - taken),
                                              max(0, prefetch - max(0, taken - free_slots)), no_prefetch_types,
                                              type_limits=type_limits)  # fmt: skip
            claimed += more
            self._claimed_checkpoints = {**checkpoints, **(self._claimed_checkpoints or {})}
        self._last_claimed = {job.id for job in claimed}
        return applied, claimed

    # -- broken rows ------------------------------------------------------------------------
    def _without_broken_rows(self, conn: psycopg.Connection, write: Callable[[psycopg.Connection], T],
                             suspects: Callable[[psycopg.Connection], Iterable[JobId]], source: str,
                             now: float) -> tuple[T, list[JobId]]:  # fmt: skip
        """Run `write(conn)` in a savepoint. If a broken row spoils it, roll it back, set aside
        the broken rows among `suspects(conn)` (the rows the write may have met) and run it
        again. Returns its result and the ids set aside. Raises what spoiled it when no
        suspect is broken (then it was not a row's fault).

        Broken rows are rare, and a savepoint costs two round trips: so the first run of a write
        takes none, and what may be a broken row's error ends its transaction (_MetBrokenRow):
        _write runs it again from the start, this time in savepoints."""
        if not getattr(self._careful, "on", False):
            try:
                return write(conn), []
            except Exception as exc:
                if _is_bad_row_error(exc) or (isinstance(exc, StoreError) and _is_bad_row_error(exc.__cause__)):
                    raise _MetBrokenRow from exc
                raise
        set_aside: list[JobId] = []
        while True:
            notes = self.db.notes_mark()
            try:
                with conn.transaction():  # a savepoint inside db.write()'s transaction
                    result = write(conn)
            except Exception as exc:
                if not _is_bad_row_error(exc):
                    raise  # the whole transaction is rolled back by db.write()
                self.db.forget_notes_since(notes)
                broken = {}
                for job_id in dict.fromkeys(suspects(conn)):
                    problems = _problems(conn, job_id)
                    if problems and job_id not in set_aside:
                        broken[job_id] = problems
                if not broken:
                    raise
                self._set_aside(conn, broken, source, now)
                set_aside += sorted(broken)
                continue
            return result, set_aside

    def _set_aside(self, conn: psycopg.Connection, broken: dict[JobId, dict[str, str]], source: str, now: float) -> None:
        """Set these broken rows aside (their problems, as _problems found them), with their events;
        their dependents are settled (they do not wait for them)."""
        for job_id, problems in sorted(broken.items()):
            state = conn.execute("SELECT state FROM jobs WHERE id = %s", (job_id,)).fetchone()[0]
            old_state = None if "state" in problems else state
            message = _set_aside_row(conn, job_id, problems, now)
            self.db.event(conn, job_id, source, old_state, "failed", message[:500], at=now)
        settle(self.db, conn, sorted(broken), source, now)

    def _claim_suspects(self, conn: psycopg.Connection, wanted: int) -> list[JobId]:
        """The rows a claim may read: the first `wanted` queued jobs of every queue (a broken
        queue name is a queue of its own here: PostgreSQL reads any text)."""
        ids: list[JobId] = []
        for name, *_ in conn.execute(READY_QUEUES).fetchall():
            ids.extend(row[0] for row in conn.execute(
                "SELECT id FROM jobs WHERE state = 'queued' AND queue = %s ORDER BY priority DESC, id LIMIT %s",
                (name, wanted)))  # fmt: skip
        return ids

    def _apply_completions(self, conn: psycopg.Connection, completions: Sequence[Completion], instance_id: str,
                           now: float, starts: dict[JobId, float],
                           events: list[tuple[Any, ...]]) -> list[Completion]:  # fmt: skip
        """Write the completions whose run still owns its job: one locking SELECT finds them
        (a recovery of this instance elsewhere waits, or is waited for), one statement writes
        them; their events are added to `events`. A job's first applicable completion wins,
        as if each were applied in turn."""
        if not completions:
            return []
        ids = sorted({c.job_id for c in completions})
        rows = conn.execute(
            f"SELECT id, attempts, {SOUND} FROM jobs WHERE id = ANY(%s::bigint[])"
            " AND coalesce(state = 'running' AND instance_id = %s, false) ORDER BY id FOR UPDATE",
            (id_array(ids), instance_id),
        ).fetchall()
        _refuse_broken(rows)
        owned: set[tuple[int, int]] = {(job_id, attempts) for job_id, attempts, _ in rows}
        applied: list[Completion] = []
        done: set[int] = set()
        for c in completions:
            if (c.job_id, c.attempt) in owned and c.job_id not in done:
                done.add(c.job_id)
                applied.append(c)
        if not applied:
            return applied
        def number(value: float | None) -> float | None:
            return None if value is None else float(value)

        rows = [(c.job_id, c.attempt, c.state.value, c.result, c.error, c.traceback, now if c.state.is_final else None,
                 number(c.run_at), 1 if c.refund_attempt else 0,
                 1.0 if c.state.value == "succeeded" else number(c.progress), c.progress_message,
                 number(starts.get(c.job_id))) for c in applied]  # fmt: skip
        conn.execute(_COMPLETE, (rows_param(rows), id_array(c.job_id for c in applied), instance_id))
        events.extend((c.job_id, now, "worker", "running", c.state.value, c.message or (c.error or "")[:500])
                      for c in applied)  # fmt: skip
        return applied

    def _claim(self, conn: psycopg.Connection, instance_id: str, free_slots: int, now: float,
               prefetch: int = 0, no_prefetch_types: Iterable[str] = (),
               type_limits: TypeLimits | None = None, held: Sequence[tuple[JobId, str, int, str]] = (),
               events: list[tuple[Any, ...]] | None = None) -> list[Job]:  # fmt: skip
        """Claim the best queued jobs; `held` (id, queue, priority, type): `waiting` rows settle just
        released (locked by this transaction), candidates like queued ones. Adds to `events` the
        `waiting → queued` events of all of them and the claims' `queued → running` (the caller
        writes them); those not claimed the caller sets to `queued`."""
        events = [] if events is None else events
        events += [(job_id, now, "worker", "waiting", "queued", RELEASED_MESSAGE) for job_id, _, _, _ in held]
        if free_slots + prefetch > 0:
            return self._claim_rows(conn, instance_id, free_slots, now, prefetch, no_prefetch_types, type_limits,
                                    held, events)  # fmt: skip
        return []

    def _claim_rows(self, conn: psycopg.Connection, instance_id: str, free_slots: int, now: float, prefetch: int,
                    no_prefetch_types: Iterable[str], type_limits: TypeLimits | None,
                    held: Sequence[tuple[JobId, str, int, str]], events: list[tuple[Any, ...]]) -> list[Job]:  # fmt: skip
        wanted = free_slots + prefetch
        self._more_claimable = False
        ready_sent, self._ready = self._ready, None
        ready = (ready_sent if ready_sent is not None else conn.execute(READY_QUEUES)).fetchall()
        indexed = {row[0] for row in ready}  # the queues with queued rows: the others have only held ones
        extra = sorted({queue for _, queue, _, _ in held} - indexed)
        if extra:
            ready += conn.execute(_NAMED_QUEUES, (extra,)).fetchall()
        if len(ready) == 1 and not extra:  # (none: the last one found stays the guess)
            name, limit, paused, rate_count, _ = ready[0]
            self._alone = name if not paused and limit == 0 and rate_count is None else None
        elif ready:
            self._alone = None
        queues = [(name, limit) for name, limit, paused, _, _ in ready if not paused]
        if not queues:
            return []
        limits = type_limits or {}
        rates = {name: Rate(count, seconds) for name, _, paused, count, seconds in ready
                 if count is not None and not paused}  # fmt: skip
        limited = {name: limit for name, limit in queues if limit > 0}
        if (len(queues) == 1 and not held and not limits and not rates and not limited
                and not (prefetch and set(no_prefetch_types)) and not getattr(self._careful, "on", False)):
            return self._claim_one_queue(conn, queues[0][0], instance_id, free_slots, wanted, now, events)
        # What is counted over every instance is counted under a lock per queue or type, taken in
        # one order: another claimer of the same queue or type waits here until this one commits.
        for scope in sorted({*(queue_scope(name) for name, _ in queues if name in limited or name in rates),
                             *(type_scope(job_type) for job_type in limits)}):  # fmt: skip
            lock_scope(conn, scope)
        running: dict[str, int] = {}
        if limited:
            running = dict(conn.execute(
                "SELECT queue, count(*) FROM jobs WHERE state = 'running' AND queue = ANY(%s::text[]) GROUP BY queue",
                (list(limited),),
            ).fetchall())  # fmt: skip
        rooms: dict[str, int] = {}
        for name, limit in queues:
            room = wanted if limit == 0 else min(wanted, limit - running.get(name, 0))
            if room > 0 and name in rates:
                left, next_at = window_room(conn, queue_scope(name), rates[name], now)
                room = min(room, left)
                self._note_next_claim(next_at)
            if room > 0:
                rooms[name] = room
        type_rooms = self._type_rooms(conn, limits, now)
        ordered, self._more_claimable = self._pick(conn, rooms, wanted, type_rooms, held, indexed)
        ids = [job_id for _, job_id, _, _ in ordered[:free_slots]]
        excluded = set(no_prefetch_types) | set(type_rooms)  # a limited job is never claimed ahead
        for _, job_id, job_type, queue in ordered[free_slots:]:
            if job_type in excluded or queue in rates:
                break  # keeps priority order: nothing behind it is claimed ahead of it
            ids.append(job_id)
        if not ids:
            return []
        starting = ids[:free_slots]  # the rest are claimed ahead: started_at stays empty until they start
        # Every row in `ids` is locked by this transaction (_pick's FOR UPDATE, or settle's lock of
        # a held row): a held row is `waiting`, any other is `queued`.
        rows = conn.execute(
            f"UPDATE jobs SET {_CLAIM_SET} WHERE id = ANY(%s::bigint[]) AND {_STILL_CLAIMABLE}"
            f" RETURNING {_CLAIMED_COLUMNS}",
            (instance_id, ran_on_label(), id_array(starting), now, id_array(ids)),
        ).fetchall()
        jobs = self._claimed(rows, now, events)
        if rates or limits:
            self._record_rate_starts(conn, jobs, limits, rates, now)
        return jobs

    def _claim_one_queue(self, conn: psycopg.Connection, queue: str, instance_id: str, free_slots: int, wanted: int,
                         now: float, events: list[tuple[Any, ...]], guessed: bool = False) -> list[Job]:  # fmt: skip
        """_claim_rows for one queue with nothing to count (no limit, rate or type limit, no held
        rows), as the transaction's last statement (_CLAIM_ONE_QUEUE): the events gathered so far
        are written first, and the claimed jobs are read after COMMIT (_take_sent_claim); returns [].
        `guessed`: READY_QUEUES was not read (the statement checks the queue fits)."""
        insert_events(conn, events)
        events.clear()
        cursor = conn.execute(_CLAIM_ONE_QUEUE, (not guessed, queue, queue, queue, queue, queue, wanted + 1, wanted,
                                                 free_slots, instance_id, ran_on_label(), now, now))  # fmt: skip
        rows: list[Sequence[Any]] = []
        self.db.after_commit(lambda: rows.extend(cursor.fetchall()))
        self._sent_claim = (rows, wanted, now)
        return []

    def _take_sent_claim(self) -> list[Job] | None:
        """The jobs of the _CLAIM_ONE_QUEUE the last transaction committed ([] if it sent none);
        None if it was sent to a guessed queue that no longer fits (then claim again, as usual)."""
        sent, self._sent_claim = self._sent_claim, None
        if sent is None:
            return []
        rows, wanted, now = sent
        fits, read, broken = rows[0][:3]
        if not fits:
            self._alone = None  # the next claim reads READY_QUEUES
            return None
        self._more_claimable = read > wanted or broken > 0
        if broken:
            self._careful_next = True  # the next write finds the broken rows and sets them aside
        unreadable: list[JobId] = []
        jobs = self._claimed([row[3:] for row in rows if row[3] is not None], now, [], unreadable)
        if unreadable:
            self._write(lambda conn: self._unclaim_unreadable(conn, unreadable, now), pipeline=False)  # savepoints
        return jobs

    def _unclaim_unreadable(self, conn: psycopg.Connection, job_ids: list[JobId], now: float) -> None:
        """Rows the server found sound but Python cannot read (a payload nested deeper than it
        reads), claimed by a committed _CLAIM_ONE_QUEUE: the claim is undone (the row, its
        event) and they are set aside, as a claim that read them first would have."""
        ids = id_array(sorted(job_ids))
        taken = [row[0] for row in conn.execute(
            "UPDATE jobs SET state = 'queued', instance_id = NULL, attempts = attempts - 1, started_at = NULL"
            " WHERE id = ANY(%s::bigint[]) AND coalesce(state = 'running' AND attempts > 0, false) RETURNING id",
            (ids,))]  # fmt: skip
        conn.execute("DELETE FROM events WHERE job_id = ANY(%s::bigint[]) AND at = %s AND old_state = 'queued'"
                     " AND new_state = 'running'", (id_array(taken), now))  # fmt: skip
        self._set_aside(conn, {job_id: _problems(conn, job_id) or {"payload": "Python cannot read it"}
                               for job_id in taken}, "worker", now)  # fmt: skip

    def _claimed(self, rows: Sequence[Sequence[Any]], now: float, events: list[tuple[Any, ...]],
                 unreadable: list[JobId] | None = None) -> list[Job]:  # fmt: skip
        """The jobs a claim's RETURNING _CLAIMED_COLUMNS gave, best first; their checkpoints kept
        for checkpoints_of_claimed, their `queued → running` events added to `events`. A row
        Python cannot read raises, or with `unreadable` is left out and its id added there."""
        _refuse_broken(rows)
        jobs, checkpoints = [], {}
        for row in rows:
            try:
                job = row_to_job(row[:-2])
                if row[-2] is not None:
                    checkpoints[row[0]] = {"data": json.loads(row[-2][0]), "saved_at": row[-2][1], "attempt": row[-2][2]}
            except Exception as exc:
                if unreadable is None or not _is_bad_row_error(exc):
                    raise
                unreadable.append(row[0])
                continue
            jobs.append(job)
        self._claimed_checkpoints = checkpoints
        jobs.sort(key=lambda j: (-j.priority, j.id))
        events += [(job.id, now, "worker", "queued", "running", f"attempt {job.attempts}") for job in jobs]
        return jobs

    def _pick(self, conn: psycopg.Connection, rooms: dict[str, int], wanted: int, type_rooms: dict[str, int],
              held: Sequence[tuple[JobId, str, int, str]] = (),
              indexed: set[str] | None = None) -> tuple[list[tuple[int, int, str, str]], bool]:  # fmt: skip
        """The best `wanted` queued jobs, at most rooms[queue] of each queue and type_rooms[type]
        of each limited type, as (-priority, id, type, queue); and whether more were claimable.

        The rows read are locked (`FOR UPDATE SKIP LOCKED`): rows another claimer holds are
        skipped, not waited for, and the rows picked here stay this transaction's until it
        commits. One row more than the room is read per queue (to know whether more is
        claimable). When a limited type fills its room, its other rows are skipped and the
        queues read again without that type, so the jobs behind them are still claimed."""
        exclude = {job_type for job_type, room in type_rooms.items() if room <= 0}
        fixed: list[tuple[int, int, str, str]] = []  # rows of excluded types already picked
        picked: list[tuple[int, int, str, str]] = []
        more = False
        for _ in range(len(type_rooms) + 1):
            candidates = list(fixed)
            more = False
            for name, full_room in rooms.items():
                room = full_room - sum(1 for row in fixed if row[3] == name)
                if room <= 0:
                    continue
                rows: list[Any] = []
                if indexed is None or name in indexed:
                    rows = conn.execute(
                        "SELECT id, priority, type FROM jobs WHERE state = 'queued' AND queue = %s"
                        " AND type <> ALL(%s::text[]) ORDER BY priority DESC, id LIMIT %s FOR UPDATE SKIP LOCKED",
                        (name, sorted(exclude), room + 1),
                    ).fetchall()
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

    def _type_rooms(self, conn: psycopg.Connection, limits: TypeLimits, now: float) -> dict[str, int]:
        """How many more jobs of each limited type may start now (max_running, rate), over
        every instance (the caller holds each type's lock); notes when a full rate window
        frees a start."""
        rooms: dict[str, int] = {}
        for job_type, limit in limits.items():
            room = 1 << 30
            if limit.max_running is not None:
                running = conn.execute("SELECT count(*) FROM jobs WHERE state = 'running' AND type = %s",
                                       (job_type,)).fetchone()[0]  # fmt: skip
                room = limit.max_running - running
            if limit.rate is not None and room > 0:
                left, next_at = window_room(conn, type_scope(job_type), limit.rate, now)
                room = min(room, left)
                self._note_next_claim(next_at)
            rooms[job_type] = max(0, room)
        return rooms

    def _record_rate_starts(self, conn: psycopg.Connection, jobs: Sequence[Job], limits: TypeLimits,
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

    def _checkpoints_of_claimed(self, job_ids: Iterable[JobId]) -> dict[JobId, dict[str, Any]] | None:
        """The last checkpoints of the jobs the last complete_and_claim claimed, read by its claim
        (get_checkpoints' answer without a round trip before they start), once; None when these
        are not that claim's jobs. A claimed job's attempt has not started, so nothing can save
        a checkpoint for it between the claim and this answer."""
        found, self._claimed_checkpoints = self._claimed_checkpoints, None
        if found is None or self._last_claimed is None or not set(job_ids) <= self._last_claimed:
            return None
        return {job_id: found[job_id] for job_id in job_ids if job_id in found}

    def _forget_claimed_checkpoints(self) -> None:
        """A checkpoint was saved: _checkpoints_of_claimed answers from the table again."""
        self._claimed_checkpoints = None

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

    # -- what running jobs report ------------------------------------------------------------
    def cancel_requested_among(self, job_ids: Iterable[JobId]) -> list[JobId]:
        """Which of these running jobs someone (another process) asked to cancel."""
        ids = sorted(set(job_ids))
        if not ids:
            return []
        # Filtered here, not in SQL: given `cancel_requested = 1`, a planner with stale statistics
        # (a table just filled) scans the whole table instead of looking these few ids up.
        rows = self.db.fetchall("SELECT id, cancel_requested FROM jobs WHERE id = ANY(%s::bigint[]) ORDER BY id",
                                (id_array(ids),))  # fmt: skip
        return [job_id for job_id, requested in rows if requested == 1]

    def save_progress(self, updates: Sequence[tuple[JobId, float | None, str]]) -> None:
        if not updates:
            return
        with self.db.write() as conn, conn.cursor() as cur:
            cur.executemany(
                "UPDATE jobs SET progress = %s, progress_message = %s WHERE id = %s AND state = 'running'",
                [(progress, message, job_id) for job_id, progress, message in updates],
            )

    def append_logs(self, lines: Sequence[tuple[JobId, float, str, str]]) -> None:
        if not lines:
            return
        with self.db.write() as conn, conn.cursor() as cur:
            cur.executemany("INSERT INTO job_logs (job_id, at, level, message) VALUES (%s, %s, %s, %s)", list(lines))


# -- broken rows (see the module's docstring) ------------------------------------------------
class _MetBrokenRow(Exception):
    """A write without savepoints met what may be a broken row: its transaction is rolled back and
    run again carefully (PostgresWorkerStore._write)."""


def _is_bad_row_error(exc: BaseException) -> bool:
    """Whether `exc` may come from a broken row (a CHECK it breaks, JSON or values Python
    cannot take) rather than from the database itself (unreachable, locked, full)."""
    return isinstance(exc, psycopg.errors.IntegrityError | psycopg.errors.DataError | ValueError | TypeError
                      | KeyError | RecursionError)  # fmt: skip


def _refuse_broken(rows: Sequence[Sequence[Any]]) -> None:
    """Rows read with SOUND last: raise BrokenRowError when one is not (the savepoint is rolled back)."""
    if not all(row[-1] for row in rows):
        raise BrokenRowError("a row breaks the schema's rules")


def _problems(conn: psycopg.Connection, job_id: JobId) -> dict[str, str] | None:
    """What is wrong with job `job_id`'s row, column → why ({}: nothing; None: no such row)."""
    row = conn.execute(f"SELECT {JOB_COLUMNS} FROM jobs WHERE id = %s", (job_id,)).fetchone()
    return None if row is None else row_problems(row)


def _set_aside_row(conn: psycopg.Connection, job_id: JobId, problems: dict[str, str], now: float) -> str:
    """Set a broken row aside (inside the caller's transaction) and return what happened, for its
    event (the port of rows.set_aside_row): its values copied verbatim into `jobs_quarantine`; in
    `jobs` the job becomes `failed`, unowned, each broken column reset (COLUMN_RULES), with an
    error naming them. Should the reset row still break a CHECK, the job is deleted."""
    reason = "; ".join(problems.values())
    conn.execute(
        f"INSERT INTO jobs_quarantine (quarantined_at, reason, {JOB_COLUMNS})"
        f" SELECT %s, %s, {JOB_COLUMNS} FROM jobs WHERE id = %s",
        (now, reason, job_id),
    )
    error = (f"set aside: its row in the database was broken ({reason}). The broken values were reset"
             f"{' (the payload to null)' if 'payload' in problems else ''} and the original row is in the table"
             " jobs_quarantine. Fix and retry it, or delete it.")  # fmt: skip
    resets = [(column, COLUMN_RULES[column][2]) for column in problems if column in COLUMN_RULES]
    resets = [(c, v) for c, v in resets if c not in ("state", "error", "instance_id", "cancel_requested", "finished_at")]
    assignments = "".join(f"{column} = %s, " for column, _ in resets)
    try:
        with conn.transaction():
            conn.execute(
                f"UPDATE jobs SET {assignments}state = 'failed', instance_id = NULL, cancel_requested = 0,"
                " finished_at = %s, error = %s WHERE id = %s",
                [*(now if value is _NOW else value for _, value in resets), now, error, job_id],
            )
    except psycopg.errors.IntegrityError:
        conn.execute("DELETE FROM jobs WHERE id = %s", (job_id,))
        return f"deleted: its row in the database was broken beyond repair ({reason}); it is in the table jobs_quarantine"
    return error
