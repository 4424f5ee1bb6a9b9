"""PostgresRates: rate limits and per-type caps, a part of PostgresJobStore (the port of sqlite_rates).

Why in the database and not in memory: several app instances share one database, so the
claim counts the starts of every instance (rate_starts, written by the claim that starts a
job). Only jobs whose type or queue has a rate write a row there, so claims without limits
pay nothing for it. The claim (worker.py) uses window_room and record_starts below inside
its own transaction; it must serialise the claims that count one scope (e.g. with
lock_scope), which SQLite's one writer at a time did for free.
"""

from __future__ import annotations

import time
import zlib

import psycopg

from ...core.job import validate_queue_name
from ...core.rates import Rate, parse_rate
from ...core.rates import queue_scope as queue_scope
from ...core.rates import type_scope as type_scope
from .db import PostgresDatabase

RATE_LOCK_CLASS = 0x52617465  # "Rate": the first key of the advisory locks lock_scope takes


def lock_scope(conn: psycopg.Connection, scope: str) -> None:
    """Inside a write: wait until no other transaction counts or records starts of `scope`
    (a transaction-level advisory lock, released at commit or rollback)."""
    key = zlib.crc32(scope.encode()) - 2**31  # an int4, as the two-key form of the lock takes
    conn.execute("SELECT pg_advisory_xact_lock(%s, %s)", (RATE_LOCK_CLASS, key))


def window_room(conn: psycopg.Connection, scope: str, rate: Rate, now: float, *,
                prune: bool = True) -> tuple[int, float | None]:  # fmt: skip
    """(starts left in the window now, the next possible start when none is left).

    `prune` (inside a write) drops the starts already out of the window first."""
    since = now - rate.seconds
    if prune:
        conn.execute("DELETE FROM rate_starts WHERE scope = %s AND at <= %s", (scope, since))
    recent = conn.execute("SELECT count(*) FROM rate_starts WHERE scope = %s AND at > %s", (scope, since)).fetchone()[0]
    if recent < rate.count:
        return rate.count - recent, None
    # The window frees a start when the (recent - count + 1)-th oldest start in it leaves it.
    oldest = conn.execute(
        "SELECT at FROM rate_starts WHERE scope = %s AND at > %s ORDER BY at LIMIT 1 OFFSET %s",
        (scope, since, recent - rate.count),
    ).fetchone()[0]
    return 0, oldest + rate.seconds


def record_starts(conn: psycopg.Connection, scope: str, count: int, now: float) -> None:
    if count:
        conn.execute(
            "INSERT INTO rate_starts (scope, at) SELECT %s, %s FROM generate_series(1, %s)", (scope, now, count)
        )


def queue_rates(conn: psycopg.Connection) -> dict[str, Rate]:
    return {name: Rate(count, seconds) for name, count, seconds in
            conn.execute("SELECT queue, count, per_seconds FROM queue_rates")}  # fmt: skip


class PostgresRates:
    def __init__(self, db: PostgresDatabase) -> None:
        self.db = db

    def set_queue_rate(self, name: str, rate: Rate | str | None) -> None:
        validate_queue_name(name)
        parsed = None if rate is None else parse_rate(rate)
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO queues (name, concurrency, paused, created_at) VALUES (%s, 0, 0, %s) ON CONFLICT (name) DO NOTHING",
                (name, time.time()),
            )
            if parsed is None:
                conn.execute("DELETE FROM queue_rates WHERE queue = %s", (name,))
            else:
                conn.execute(
                    "INSERT INTO queue_rates (queue, count, per_seconds) VALUES (%s, %s, %s)"
                    " ON CONFLICT (queue) DO UPDATE SET count = excluded.count, per_seconds = excluded.per_seconds",
                    (name, parsed.count, parsed.seconds),
                )

    def queue_rates(self) -> dict[str, Rate]:
        with self.db.read() as conn:
            return queue_rates(conn)

    def rate_window(self, scope: str, rate: Rate, now: float | None = None) -> tuple[int, float | None]:
        with self.db.read() as conn:
            return window_room(conn, scope, rate, time.time() if now is None else now, prune=False)

    def running_of_type(self, job_type: str) -> int:
        return self.db.fetchone("SELECT count(*) FROM jobs WHERE state = 'running' AND type = %s", (job_type,))[0]
