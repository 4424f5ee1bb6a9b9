"""SqliteRates: rate limits and per-type caps in SQLite (schema 8), a part of SqliteJobStore.

Why in the database and not in memory: several app instances may share one database,
so the claim counts the starts of every instance inside its own `BEGIN IMMEDIATE`
transaction (rate_starts, written by the claim that starts a job). Only jobs whose type
or queue has a rate write a row there, so claims without limits pay nothing for it.
"""

from __future__ import annotations

import sqlite3
import time

from ..core.job import validate_queue_name
from ..core.rates import Rate, parse_rate
from ..core.rates import queue_scope as queue_scope
from ..core.rates import type_scope as type_scope
from .sqlite_db import SqliteDatabase


def window_room(conn: sqlite3.Connection, scope: str, rate: Rate, now: float, *,
                prune: bool = True) -> tuple[int, float | None]:  # fmt: skip
    """(starts left in the window now, the next possible start when none is left).

    `prune` (inside a write) drops the starts already out of the window first."""
    since = now - rate.seconds
    if prune:
        conn.execute("DELETE FROM rate_starts WHERE scope = ? AND at <= ?", (scope, since))
    recent = conn.execute("SELECT count(*) FROM rate_starts WHERE scope = ? AND at > ?", (scope, since)).fetchone()[0]
    if recent < rate.count:
        return rate.count - recent, None
    # The window frees a start when the (recent - count + 1)-th oldest start in it leaves it.
    oldest = conn.execute(
        "SELECT at FROM rate_starts WHERE scope = ? AND at > ? ORDER BY at LIMIT 1 OFFSET ?",
        (scope, since, recent - rate.count),
    ).fetchone()[0]
    return 0, oldest + rate.seconds


def record_starts(conn: sqlite3.Connection, scope: str, count: int, now: float) -> None:
    if count:
        conn.executemany("INSERT INTO rate_starts (scope, at) VALUES (?, ?)", [(scope, now)] * count)


def queue_rates(conn: sqlite3.Connection) -> dict[str, Rate]:
    return {name: Rate(count, seconds) for name, count, seconds in
            conn.execute("SELECT queue, count, per_seconds FROM queue_rates")}  # fmt: skip


class SqliteRates:
    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db

    def set_queue_rate(self, name: str, rate: Rate | str | None) -> None:
        validate_queue_name(name)
        parsed = None if rate is None else parse_rate(rate)
        with self.db.write() as conn:
            conn.execute(
                "INSERT INTO queues (name, concurrency, paused, created_at) VALUES (?, 0, 0, ?) ON CONFLICT (name) DO NOTHING",
                (name, time.time()),
            )
            if parsed is None:
                conn.execute("DELETE FROM queue_rates WHERE queue = ?", (name,))
            else:
                conn.execute(
                    "INSERT INTO queue_rates (queue, count, per_seconds) VALUES (?, ?, ?)"
                    " ON CONFLICT (queue) DO UPDATE SET count = excluded.count, per_seconds = excluded.per_seconds",
                    (name, parsed.count, parsed.seconds),
                )

    def queue_rates(self) -> dict[str, Rate]:
        return queue_rates(self.db.conn)

    def rate_window(self, scope: str, rate: Rate, now: float | None = None) -> tuple[int, float | None]:
        return window_room(self.db.conn, scope, rate, time.time() if now is None else now, prune=False)

    def running_of_type(self, job_type: str) -> int:
        return self.db.conn.execute(
            "SELECT count(*) FROM jobs WHERE state = 'running' AND type = ?", (job_type,)
        ).fetchone()[0]
