"""What both stores' schedule parts share (sqlite_schedules, postgres/schedules): the columns a
schedule is read with, a row → Schedule, a job for a slot without a registry, the note a
catch-up job's enqueue event carries. Backend-neutral: no SQL dialect, no driver."""

from __future__ import annotations

import json

from ..core.job import Job, encode_payload
from ..core.schedules import Plan, Schedule, on_time_window

SLOTS_KEPT = 100  # per schedule: the most recent enqueued slots (older ones are never due again)
RETRY_BROKEN_AFTER = 3600.0  # seconds before a schedule whose rule cannot be planned is tried again

COLUMNS = ("name, type, payload, every, cron, timezone, catch_up, max_backlog, queue, priority, paused, next_at,"
            " last_slot, last_job_id, last_dropped, created_at")  # fmt: skip
SELECT = (
    "SELECT " + ", ".join(f"s.{c.strip()}" for c in COLUMNS.split(",")) + ", j.state"
    " FROM schedules s LEFT JOIN jobs j ON j.id = s.last_job_id"
)
EDITABLE = frozenset({"type", "payload", "every", "cron", "timezone", "catch_up", "max_backlog", "queue", "priority", "paused"})
RULE = frozenset({"every", "cron", "timezone", "paused"})  # a change of one of these re-plans next_at


def row_to_schedule(row: tuple) -> Schedule:
    (name, type_, payload, every, cron, timezone, catch_up, max_backlog, queue, priority, paused, next_at, last_slot,
     last_job_id, last_dropped, created_at, last_state) = row  # fmt: skip
    return Schedule(name=name, type=type_, payload=json.loads(payload), every=every, cron=cron, timezone=timezone,
                    catch_up=catch_up, max_backlog=max_backlog, queue=queue, priority=priority, paused=bool(paused),
                    next_at=next_at, last_slot=last_slot, last_job_id=last_job_id, last_state=last_state,
                    last_dropped=last_dropped, created_at=created_at)  # fmt: skip


def default_prepare(schedule: Schedule) -> tuple[Job, str]:
    """A schedule's job without a registry (tests, a store used alone): its queue or "default"."""
    job = Job(schedule.type, schedule.payload, queue=schedule.queue or "default", priority=schedule.priority)
    job.max_attempts = 1
    return job, encode_payload(schedule.payload)


def job_queue(schedule: Schedule) -> str:
    return schedule.queue or "default"


def catch_up_note(schedule: Schedule, plan: Plan, slot: float, now: float) -> str:
    """What a slot's job stands for when the app was off or asleep, for its enqueue event (the
    job's history and `acacia show`): one job for every missed slot (once), or a missed slot
    caught up (all). An on-time slot's job says nothing more."""
    if schedule.catch_up == "once" and plan.missed:
        return f" (catch-up: one job for {plan.missed}{'' if plan.exact else '+'} missed slot(s))"
    if schedule.catch_up == "all" and now - slot > on_time_window(schedule):
        return " (catch-up of a missed slot)"
    return ""


# A backward clock step is applied once per machine (clock_steps, SQLite schema 11 and PostgreSQL
# schema 5): each instance on the machine sees it and asks; the first one's row goes in, and for
# the others the row is already there, with a step of about the same size (within STEP_TOLERANCE
# seconds, the ticker's own threshold) recorded less than SAME_STEP_WITHIN seconds ago, so the
# upsert changes nothing and returns no row: they move nothing. `{p}`: the driver's placeholder.
STEP_TOLERANCE = 2.0
SAME_STEP_WITHIN = 60.0
RECORD_CLOCK_STEP = (
    "INSERT INTO clock_steps AS c (host, step, at) VALUES ({p}, {p}, {p})"
    " ON CONFLICT (host) DO UPDATE SET step = excluded.step, at = excluded.at"
    f" WHERE abs(c.step - excluded.step) > {STEP_TOLERANCE} OR abs(c.at - excluded.at) > {SAME_STEP_WITHIN}"
    " RETURNING host"
)
