"""SqliteSchedules: recurring schedules in SQLite (schema 9), a part of SqliteJobStore.

Why the slot table: several app instances (or the CLI with no app running) may share one
database, and each slot must be enqueued exactly once. `fire_due_schedules` runs in one
`BEGIN IMMEDIATE` transaction and writes a slot's job only when its INSERT OR IGNORE into
`schedule_slots` (primary key (schedule, slot)) inserted a row: the database, not a check in
Python, refuses the second. The last SLOTS_KEPT slots of each schedule are kept; older ones
can never come due again.

The rules (when slots fall, what a catch-up enqueues) are core/schedules.py's; this module
only stores and applies them. A schedule's jobs get the same defaults as a job enqueued by
hand: JobQueue passes a `prepare` function (its own checks and the handler's defaults).
"""

from __future__ import annotations

import socket
import sqlite3
import time
from typing import Any

from ..core.durations import parse_duration
from ..core.errors import AcaciaError, InvalidJobError, InvalidOptionError, ScheduleNotFoundError
from ..core.job import Job, JobId, encode_payload
from ..core.schedules import (
    MAX_SCHEDULES,
    STORE_FILLED,
    Fired,
    JobPreparer,
    Schedule,
    check_field_types,
    next_slot,
    plan_catch_up,
    slot_label,
)
from .schedule_rows import COLUMNS as _COLUMNS
from .schedule_rows import EDITABLE, RECORD_CLOCK_STEP, RETRY_BROKEN_AFTER, SLOTS_KEPT, default_prepare, job_queue
from .schedule_rows import RULE as _RULE
from .schedule_rows import SELECT as _SELECT
from .schedule_rows import catch_up_note as _catch_up_note
from .schedule_rows import row_to_schedule as _row_to_schedule
from .sqlite_db import SqliteDatabase

_RECORD_CLOCK_STEP = RECORD_CLOCK_STEP.format(p="?")


class SqliteSchedules:
    def __init__(self, db: SqliteDatabase) -> None:
        self.db = db

    # -- reading ---------------------------------------------------------------------
    def list_schedules(self) -> list[Schedule]:
        return [_row_to_schedule(row) for row in self.db.conn.execute(f"{_SELECT} ORDER BY s.name")]

    def get_schedule(self, name: str) -> Schedule:
        return self._get(self.db.conn, name)

    def next_schedule_at(self) -> float | None:
        return self.db.conn.execute("SELECT min(next_at) FROM schedules WHERE paused = 0").fetchone()[0]

    @staticmethod
    def _get(conn: sqlite3.Connection, name: str) -> Schedule:
        row = conn.execute(f"{_SELECT} WHERE s.name = ?", (name,)).fetchone()
        if row is None:
            raise ScheduleNotFoundError(f"there is no schedule {name!r}")
        return _row_to_schedule(row)

    # -- changing --------------------------------------------------------------------
    def add_schedule(self, schedule: Schedule) -> Schedule:
        schedule.validate()
        now = time.time()
        created_at = schedule.created_at if schedule.created_at is not None else now
        with self.db.write() as conn:
            if conn.execute("SELECT 1 FROM schedules WHERE name = ?", (schedule.name,)).fetchone():
                raise InvalidOptionError(f"schedule {schedule.name!r} already exists")
            if conn.execute("SELECT count(*) FROM schedules").fetchone()[0] >= MAX_SCHEDULES:
                raise InvalidOptionError(f"there are already {MAX_SCHEDULES:,} schedules, the most one database holds")
            schedule.created_at = float(created_at)
            if schedule.paused:
                schedule.next_at = None
            elif schedule.next_at is None:  # given: a schedule imported (or a test's, "off" since then)
                schedule.next_at = next_slot(schedule, now)
            conn.execute(
                f"INSERT INTO schedules ({_COLUMNS}) VALUES ({', '.join('?' * 16)})",
                (schedule.name, schedule.type, encode_payload(schedule.payload), schedule.every, schedule.cron,
                 schedule.timezone, schedule.catch_up, schedule.max_backlog, schedule.queue, schedule.priority,
                 int(schedule.paused), schedule.next_at, None, None, 0, schedule.created_at),
            )  # fmt: skip
            return self._get(conn, schedule.name)

    def edit_schedule(self, name: str, changes: dict[str, Any]) -> Schedule:
        if not isinstance(changes, dict):
            raise InvalidOptionError("changes must be an object of schedule fields")
        refused = sorted(set(changes) - EDITABLE)
        if refused:
            why = "is set by Acacia" if refused[0] in STORE_FILLED else "cannot be changed" if refused[0] == "name" else (
                "is not a schedule field")  # fmt: skip
            raise InvalidOptionError(f"{refused[0]}: {why}")
        changes = dict(changes)
        if isinstance(changes.get("every"), str):
            changes["every"] = parse_duration(changes["every"])
        check_field_types(changes)
        if changes.get("every") is not None and "cron" not in changes:
            changes["cron"] = None  # an every rule replaces a cron rule
        if changes.get("cron") is not None and "every" not in changes:
            changes["every"] = None
        now = time.time()
        with self.db.write() as conn:
            before = self._get(conn, name)
            schedule = self._get(conn, name)
            for key, value in changes.items():
                setattr(schedule, key, value)
            schedule.validate()
            if any(getattr(before, key) != getattr(schedule, key) for key in _RULE):
                schedule.next_at = None if schedule.paused else next_slot(schedule, now)
            conn.execute(
                "UPDATE schedules SET type = ?, payload = ?, every = ?, cron = ?, timezone = ?, catch_up = ?,"
                " max_backlog = ?, queue = ?, priority = ?, paused = ?, next_at = ? WHERE name = ?",
                (schedule.type, encode_payload(schedule.payload), schedule.every, schedule.cron, schedule.timezone,
                 schedule.catch_up, schedule.max_backlog, schedule.queue, schedule.priority, int(schedule.paused),
                 schedule.next_at, name),
            )  # fmt: skip
            return self._get(conn, name)

    def remove_schedule(self, name: str) -> None:
        with self.db.write() as conn:
            if conn.execute("DELETE FROM schedules WHERE name = ?", (name,)).rowcount == 0:
                raise ScheduleNotFoundError(f"there is no schedule {name!r}")
            conn.execute("DELETE FROM schedule_slots WHERE schedule = ?", (name,))

    def set_schedule_paused(self, name: str, paused: bool) -> Schedule:
        now = time.time()
        with self.db.write() as conn:
            schedule = self._get(conn, name)
            if schedule.paused != bool(paused):
                schedule.paused = bool(paused)
                next_at = None if paused else next_slot(schedule, now)  # no catch-up for the paused time
                conn.execute("UPDATE schedules SET paused = ?, next_at = ? WHERE name = ?", (int(paused), next_at, name))
            return self._get(conn, name)

    # -- firing ----------------------------------------------------------------------
    def run_schedule_now(self, name: str, source: str, prepare: JobPreparer | None = None) -> JobId:
        now = time.time()
        with self.db.write() as conn:
            schedule = self._get(conn, name)
            job, text = (prepare or default_prepare)(schedule)
            job_id = self._insert_job(conn, job, text, now, now, source, f"enqueued by schedule {name!r} (run now)")
            conn.execute("UPDATE schedules SET last_slot = ?, last_job_id = ? WHERE name = ?", (now, job_id, name))
            return job_id

    def fire_due_schedules(self, now: float, source: str, prepare: JobPreparer | None = None) -> list[Fired]:
        prepare = prepare or default_prepare
        fired = []
        with self.db.write() as conn:
            rows = conn.execute(f"{_SELECT} WHERE s.paused = 0 AND s.next_at <= ? ORDER BY s.next_at", (now,)).fetchall()
            for schedule in map(_row_to_schedule, rows):
                fired.append(self._fire(conn, schedule, now, source, prepare))
        return fired

    def _fire(self, conn: sqlite3.Connection, schedule: Schedule, now: float, source: str,
              prepare: JobPreparer) -> Fired:  # fmt: skip
        """One schedule's due slots, inside fire_due_schedules's transaction."""
        try:
            plan = plan_catch_up(schedule, now)
        except AcaciaError as exc:  # e.g. its time zone left the system's tz database: the others still fire
            conn.execute("UPDATE schedules SET next_at = ? WHERE name = ?", (now + RETRY_BROKEN_AFTER, schedule.name))
            return Fired(schedule.name, [], 0, 0, job_queue(schedule), str(exc))
        try:
            job, text = prepare(schedule)
        except InvalidJobError as exc:  # e.g. its handler's schema now refuses the payload: skip, say why
            conn.execute("UPDATE schedules SET next_at = ?, last_dropped = ? WHERE name = ?",
                         (plan.next_at, len(plan.slots) + plan.dropped, schedule.name))  # fmt: skip
            return Fired(schedule.name, [], len(plan.slots) + plan.dropped, plan.missed, job_queue(schedule), str(exc))
        ids: list[JobId] = []
        last_slot = None
        for slot in plan.slots:
            inserted = conn.execute(
                "INSERT OR IGNORE INTO schedule_slots (schedule, slot, job_id) VALUES (?, ?, 0)", (schedule.name, slot)
            ).rowcount
            if not inserted:  # this slot is enqueued already (by another process): nothing more for it
                continue
            note = _catch_up_note(schedule, plan, slot, now)
            message = f"enqueued by schedule {schedule.name!r} for {slot_label(slot, schedule)}{note}"
            job_id = self._insert_job(conn, job, text, now, slot, source, message)
            conn.execute("UPDATE schedule_slots SET job_id = ? WHERE schedule = ? AND slot = ?", (job_id, schedule.name, slot))
            ids.append(job_id)
            last_slot = slot
        if ids:
            conn.execute(
                "DELETE FROM schedule_slots WHERE schedule = ? AND slot < (SELECT slot FROM schedule_slots"
                " WHERE schedule = ? ORDER BY slot DESC LIMIT 1 OFFSET ?)",
                (schedule.name, schedule.name, SLOTS_KEPT - 1),
            )
            conn.execute(
                "UPDATE schedules SET next_at = ?, last_slot = ?, last_job_id = ?, last_dropped = ? WHERE name = ?",
                (plan.next_at, last_slot, ids[-1], plan.dropped, schedule.name),
            )
        else:
            conn.execute("UPDATE schedules SET next_at = ?, last_dropped = ? WHERE name = ?",
                         (plan.next_at, plan.dropped, schedule.name))  # fmt: skip
        return Fired(schedule.name, ids, plan.dropped, plan.missed, job.queue or "default")

    @staticmethod
    def _insert_job(conn: sqlite3.Connection, job: Job, payload_text: str, now: float, slot: float, source: str,
                    message: str) -> JobId:  # fmt: skip
        """One queued job for a slot (the template `job` is not changed), with its enqueue event."""
        queue = job.queue or "default"
        conn.execute(
            "INSERT INTO queues (name, concurrency, paused, created_at) VALUES (?, 0, 0, ?) ON CONFLICT (name) DO NOTHING",
            (queue, now),
        )
        job_id = conn.execute(
            "INSERT INTO jobs (type, queue, priority, state, payload, max_attempts, run_at, timeout, created_at,"
            " cancel_grace, memory_limit, cpu_time_limit, nice, scheduled_for)"
            " VALUES (?, ?, ?, 'queued', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            (job.type, queue, job.priority, payload_text, job.max_attempts or 1, now, job.timeout, now, job.cancel_grace,
             job.memory_limit, job.cpu_time_limit, job.nice, float(slot)),
        ).lastrowid  # fmt: skip
        SqliteDatabase.event(conn, job_id, source, None, "queued", message, at=now)
        return job_id

    # -- the wall clock stepped back -------------------------------------------------
    def rebase_after_clock_step(self, step: float, now: float) -> int:
        """The wall clock went back `step` seconds and it is now `now`: what was timed by the
        clock before the step comes back by as much, never before `now`. Scheduled jobs (delays,
        retry backoffs), every-schedules (their anchor too, so their grid stays whole) and the
        rate windows' future starts; cron schedules are planned again from now (a slot they
        already enqueued is refused by schedule_slots). Returns the number of jobs moved.

        Once per machine: another instance of this machine that saw the same step already moved
        them (clock_steps, schedule_rows.RECORD_CLOCK_STEP); then nothing moves and this is 0."""
        if step <= 0:
            return 0
        with self.db.write() as conn:
            if conn.execute(_RECORD_CLOCK_STEP, (socket.gethostname(), step, now)).fetchone() is None:
                return 0
            moved = conn.execute(
                "UPDATE jobs SET run_at = max(?, run_at - ?) WHERE state = 'scheduled' AND run_at > ?", (now, step, now)
            ).rowcount
            conn.execute(
                "UPDATE schedules SET next_at = max(?, next_at - ?), created_at = created_at - ?"
                " WHERE every IS NOT NULL AND paused = 0 AND next_at > ?",
                (now, step, step, now),
            )
            conn.execute("UPDATE rate_starts SET at = at - ? WHERE at > ?", (step, now))
            crons = conn.execute(f"{_SELECT} WHERE s.cron IS NOT NULL AND s.paused = 0").fetchall()
            for schedule in map(_row_to_schedule, crons):
                conn.execute("UPDATE schedules SET next_at = ? WHERE name = ?", (next_slot(schedule, now), schedule.name))
        return moved
