"""Which Acacia instances sharing a PostgreSQL database are alive: an advisory lock and a lease.

The PostgreSQL counterpart of store/instances.py (an OS file lock, which instances on other
machines cannot see). Each instance:

- holds a **session-level advisory lock** keyed by its instance id, on a dedicated connection
  (not a pooled one) for its whole life. PostgreSQL releases it when that connection ends,
  and a killed process's connection ends at once (the kernel closes its socket; SIGKILL
  included), so a survivor's `pg_try_advisory_xact_lock` probe on that key succeeds: the
  instance is dead, and its running jobs are recovered at once;
- writes a **heartbeat** (`instances.heartbeat_at`, in the *server's* clock, so machines whose
  clocks disagree still agree on ages) every lease / 3 seconds at most. An instance whose
  heartbeat is older than the **lease** (default 30 s, `--lease` / $ACACIA_LEASE) counts as
  dead even while its lock is held: that is a silent network partition or a frozen process
  (SIGSTOP, a suspended laptop), where the connection hangs without closing. Client-side TCP
  keepalives (KEEPALIVES, on the lock connection and, through store/open.with_keepalives, on
  the pool's) make the cut-off instance's own statements fail after about KEEPALIVE_BOUND
  seconds instead of hanging for minutes; the server drops the vanished client's session (and
  so its lock) by its own tcp_keepalives_* settings, which the lease does not depend on.

What a partition costs, and the bound: a cut-off instance's running jobs are recovered by a
survivor once its heartbeat is older than the lease (so within lease + the survivors' check
interval); the cut-off instance may still be running them, so such a job can run twice
(at-least-once), but it is *completed* once: the store applies a completion only while the
run still owns its row (same instance, same attempt — worker._COMPLETE), so the late
completion of the cut-off instance is ignored. When it comes back, its next heartbeat
re-registers it (its instances row was removed by the recovery).

Lock keys: (LIVENESS_LOCK_CLASS, hashtext(instance id)), the two-int4 key space, computed by
the server so every client agrees. Two live ids hashing alike would make one look alive
while dead until its heartbeat passes the lease: the lease still bounds it.
"""

from __future__ import annotations

import logging
import os
import socket
import threading
from collections.abc import Iterable
from typing import Any

import psycopg

from ...core.errors import StoreError
from ...core.job import JobId
from .db import PostgresDatabase, without_secret

log = logging.getLogger(__name__)

LIVENESS_LOCK_CLASS = 0x496E7374  # "Inst": the first key of every instance's liveness lock
DEFAULT_LEASE = 30.0
# TCP keepalives on the lock connection: a peer that vanished is dropped after ~idle + interval * count.
KEEPALIVES = {"keepalives": 1, "keepalives_idle": 10, "keepalives_interval": 5, "keepalives_count": 3}
KEEPALIVE_BOUND = 10 + 5 * 3
SERVER_NOW = "extract(epoch FROM clock_timestamp())"

# The ids among %(ids)s that are alive: registered, heartbeat within the lease, lock held.
# A probe that gets the lock (a dead owner) lets it go at the end of the statement (autocommit).
_LIVE = (
    "SELECT o.id FROM unnest(%(ids)s::text[]) AS o(id) JOIN instances i ON i.id = o.id"
    f" WHERE {SERVER_NOW} - i.heartbeat_at <= %(lease)s"
    " AND NOT pg_try_advisory_xact_lock(%(cls)s, hashtext(o.id))"
)
_LISTING = (
    f"SELECT i.id, i.pid, i.hostname, i.started_at, i.heartbeat_at, {SERVER_NOW} - i.heartbeat_at,"
    " NOT pg_try_advisory_xact_lock(%(cls)s, hashtext(i.id)),"
    " coalesce((SELECT array_agg(j.id ORDER BY j.id) FROM jobs j WHERE j.state = 'running' AND j.instance_id = i.id),"
    " '{}'::bigint[])"
    " FROM instances i ORDER BY i.hostname, i.pid, i.id"
)


class PostgresLiveness:
    """This process's lock connection (one, whatever the number of instance ids it holds: tests
    run several in one process), and the probes of the others. Thread-safe."""

    def __init__(self, db: PostgresDatabase, lease: float = DEFAULT_LEASE) -> None:
        self.db = db
        self.lease = float(lease)
        self._lock = threading.Lock()
        self._conn: psycopg.Connection | None = None
        self._held: set[str] = set()

    # -- this instance ---------------------------------------------------------------
    def holds(self, instance_id: str) -> bool:
        return instance_id in self._held

    def hold(self, instance_id: str) -> None:
        """Take `instance_id`'s lock on the lock connection (kept until release() or death)."""
        with self._lock:
            if instance_id in self._held:
                return
            if self._conn is None or self._conn.closed:
                self._conn = self._connect()
            self._lock_id(self._conn, instance_id)
            self._held.add(instance_id)

    def _connect(self) -> psycopg.Connection:
        try:
            return psycopg.connect(self.db.url, autocommit=True, application_name="acacia liveness",
                                   connect_timeout=max(1, round(self.db.connect_timeout)), **KEEPALIVES)  # fmt: skip
        except psycopg.Error as exc:
            raise StoreError(f"cannot reach {self.db.target}: {without_secret(str(exc).strip(), self.db.url)}") from None

    def _lock_id(self, conn: psycopg.Connection, instance_id: str) -> None:
        got = conn.execute("SELECT pg_try_advisory_lock(%s, hashtext(%s))", (LIVENESS_LOCK_CLASS, instance_id)).fetchone()
        if not got or not got[0]:
            raise StoreError(f"instance {instance_id}: its liveness lock is held by another session")

    def ensure_held(self) -> bool:
        """With each heartbeat: True if the lock connection is sound; else connect and lock again,
        and return False (meanwhile survivors may have recovered this process's jobs)."""
        with self._lock:
            if not self._held:
                return True
            conn = self._conn
            if conn is not None and not conn.closed:
                try:
                    conn.execute("SELECT 1")
                    return True
                except psycopg.Error:
                    conn.close()
            self._conn = None
            try:
                self._conn = self._connect()
                for instance_id in sorted(self._held):
                    self._lock_id(self._conn, instance_id)
                log.warning("the liveness connection to %s was lost; connected and locked again", self.db.target)
            except (StoreError, psycopg.Error) as exc:
                log.warning("the liveness connection is lost and cannot be made again: %s",
                            without_secret(str(exc), self.db.url))  # fmt: skip
            return False

    def beat(self, instance_id: str) -> bool:
        """Write `instance_id`'s heartbeat (server clock); False when it has no row any more."""
        with self.db.write() as conn:
            cur = conn.execute(f"UPDATE instances SET heartbeat_at = {SERVER_NOW} WHERE id = %s", (instance_id,))
            return cur.rowcount > 0

    def release(self, instance_id: str | None = None) -> None:
        """Let `instance_id`'s lock go (None: all of them, and close the lock connection)."""
        with self._lock:
            conn = self._conn
            if instance_id is not None and instance_id in self._held and len(self._held) > 1:
                self._held.discard(instance_id)
                try:
                    if conn is not None and not conn.closed:
                        conn.execute("SELECT pg_advisory_unlock(%s, hashtext(%s))", (LIVENESS_LOCK_CLASS, instance_id))
                except psycopg.Error:
                    pass
                return
            if instance_id is not None and instance_id not in self._held:
                return
            self._held.clear()
            self._conn = None
            if conn is not None:
                conn.close()  # the server lets the session's locks go

    # -- the others -----------------------------------------------------------------------
    def live_among(self, instance_ids: Iterable[str]) -> set[str]:
        """The ids that are alive: registered, a heartbeat within the lease, their lock held."""
        ids = sorted(set(instance_ids))
        if not ids:
            return set()
        rows = self.db.fetchall(_LIVE, {"ids": ids, "lease": self.lease, "cls": LIVENESS_LOCK_CLASS})
        return {row[0] for row in rows}

    def running_runs(self, instance_id: str) -> frozenset[tuple[JobId, int]]:
        """(job id, attempt) of every job `instance_id` holds running: what recovery counts as
        started when that instance's start journal (a file on its own machine) is out of reach."""
        rows = self.db.fetchall("SELECT id, attempts FROM jobs WHERE state = 'running' AND instance_id = %s",
                                (instance_id,))  # fmt: skip
        return frozenset((int(job_id), int(attempts)) for job_id, attempts in rows)

    def listing(self) -> list[dict[str, Any]]:
        """Every registered instance: host, pid, heartbeat (and its age, by the server's clock),
        whether it is alive (lock held, heartbeat within the lease) and the jobs it runs."""
        rows = self.db.fetchall(_LISTING, {"cls": LIVENESS_LOCK_CLASS})
        me = (socket.gethostname(), os.getpid())
        out = []
        for iid, pid, host, started_at, heartbeat_at, age, locked, running in rows:
            out.append({
                "id": iid, "host": host, "pid": int(pid), "started_at": started_at, "heartbeat_at": heartbeat_at,
                "heartbeat_age": max(0.0, float(age)), "alive": bool(locked) and float(age) <= self.lease,
                "running": [int(j) for j in running], "this_process": (host, int(pid)) == me,
            })  # fmt: skip
        return out
