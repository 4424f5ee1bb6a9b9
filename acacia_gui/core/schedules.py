"""Recurring schedules: what one is, when its slots fall, and what a late start enqueues.

Pure and standard library only (plus `cronsim`, a small pure-Python cron parser, and
`zoneinfo`): the store, the ticker, the socket, the CLI and the window all read a schedule
through this module, so they agree on every rule.

Slots. An `every` schedule's slots are anchored at its `created_at` (created_at + k·every),
so a restart never shifts them. A `cron` schedule's slots are the times cronsim yields for
aware datetimes in the schedule's zone (its IANA `timezone`, or the machine's zone), so DST
follows Debian cron's rules: on the spring-forward day a time in the skipped hour fires once,
right after the jump ("30 2 * * *" fires at 03:00); on the fall-back day an hourly rule fires
in both 02:00 hours (each is a real hour) while a rule naming an hour fires once (the first).
Slot times are epoch seconds: no slot is ever enqueued twice, because (schedule, slot) is
the store's unique key.

Catch-up. When the app starts (or the machine wakes), the slots due since the schedule's
next_at may be many. Only the latest of them can be on time (fired within `on_time_window`
of its slot); the others were missed, and `catch_up` says what happens to them:
`once` folds them all into one job (for the latest due slot), `all` enqueues the most recent
`max_backlog` of them (and the on-time one), `skip` none of them (the on-time one still
fires). Planning is bounded: an `every` schedule's slots are counted arithmetically (two
weeks of `every 1s` costs nothing), a cron walk stops after CRON_COUNT_LIMIT slots and then
reports the count as a lower bound (`Plan.exact` is False).
"""

from __future__ import annotations

import math
import os
import re
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, fields
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any, NamedTuple
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from cronsim import CronSim, CronSimError

from .definitions import MAX_DELAY
from .durations import format_duration, parse_duration
from .errors import InvalidJobError, InvalidOptionError
from .job import JOB_TYPE_PATTERN, encode_payload, validate_priority, validate_queue_name

CATCH_UP_MODES = ("once", "all", "skip")
DEFAULT_MAX_BACKLOG = 100
MAX_BACKLOG_LIMIT = 10_000
MAX_SCHEDULES = 1_000  # schedules in one database: each is read by every tick, so they stay few
SCHEDULE_NAME_PATTERN = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.\-]{0,63}$")
ON_TIME = 60.0  # a slot fired within this many seconds of its time is on time, not "missed"
MIN_EVERY = 1.0  # seconds
MAX_EVERY = MAX_DELAY  # ten years
CRON_COUNT_LIMIT = MAX_BACKLOG_LIMIT + 1_000  # cron slots counted in one catch-up; past it the count is "at least"

STORE_FILLED = ("next_at", "last_slot", "last_job_id", "last_state", "last_dropped", "created_at")


@dataclass
class Schedule:
    """One recurring rule: enqueue a job of `type` with `payload` at each slot.

    Exactly one of `every` (seconds, >= 1) and `cron` (5 fields) is set. The fields after
    `paused` are filled in by the store; `to_dict` is the wire shape (socket, CLI --json)."""

    name: str
    type: str
    payload: Any = None
    every: float | None = None
    cron: str | None = None
    timezone: str | None = None  # an IANA name; None: the machine's local zone
    catch_up: str = "once"
    max_backlog: int = DEFAULT_MAX_BACKLOG
    queue: str | None = None  # None: the handler's queue, else "default"
    priority: int = 0
    paused: bool = False
    next_at: float | None = None  # the next slot (store-filled)
    last_slot: float | None = None  # the last slot enqueued (store-filled)
    last_job_id: int | None = None  # its job (store-filled; may have been deleted since)
    last_state: str | None = None  # that job's state now (store-filled; None once it is deleted)
    last_dropped: int = 0  # slots the last catch-up did not enqueue
    created_at: float | None = None

    def validate(self) -> None:
        """Raise InvalidOptionError (one line, naming the field) unless every field is acceptable."""
        if not isinstance(self.name, str) or not SCHEDULE_NAME_PATTERN.fullmatch(self.name):
            raise InvalidOptionError(
                f"name: invalid schedule name {self.name!r}: use letters, digits and . _ - (at most 64 characters)"
            )
        if not isinstance(self.type, str) or not JOB_TYPE_PATTERN.fullmatch(self.type):
            raise InvalidOptionError(
                f"type: invalid job type {self.type!r}: use letters, digits and . _ - : / (at most 200 characters)"
            )
        if (self.every is None) == (self.cron is None):
            raise InvalidOptionError("every/cron: give exactly one of every (seconds) and cron (an expression)")
        if self.every is not None:
            self.every = validate_every(self.every)
        else:
            validate_cron(self.cron, self.timezone)
        zone_of(self.timezone)
        if self.catch_up not in CATCH_UP_MODES:
            raise InvalidOptionError(f"catch_up: must be one of {', '.join(CATCH_UP_MODES)}, got {self.catch_up!r}")
        backlog = self.max_backlog
        if isinstance(backlog, bool) or not isinstance(backlog, int) or not 1 <= backlog <= MAX_BACKLOG_LIMIT:
            raise InvalidOptionError(f"max_backlog: must be a whole number from 1 to {MAX_BACKLOG_LIMIT}, got {backlog!r}")
        try:
            if self.queue is not None:
                validate_queue_name(self.queue)
            validate_priority(self.priority)
            encode_payload(self.payload)
        except InvalidJobError as exc:
            field_name = "queue" if "queue" in str(exc) else "priority" if "priority" in str(exc) else "payload"
            raise InvalidOptionError(f"{field_name}: {exc}") from None
        if not isinstance(self.paused, bool):
            raise InvalidOptionError(f"paused: must be true or false, got {self.paused!r}")

    def describe(self) -> str:
        """The rule in a few words: "every 10m", "cron 0 3 * * * (Europe/Paris)"."""
        if self.every is not None:
            return f"every {format_duration(self.every)}"
        return f"cron {self.cron} ({self.timezone or 'local time'})"

    def to_dict(self) -> dict[str, Any]:
        return {f.name: getattr(self, f.name) for f in fields(self)}

    @classmethod
    def from_dict(cls, data: Any) -> Schedule:
        """A Schedule from its wire shape; refuses unknown keys and wrong types (InvalidOptionError).
        `every` may be seconds or a duration ("10m"). Validates the rule too."""
        if not isinstance(data, dict):
            raise InvalidOptionError(f"a schedule must be an object, got {type(data).__name__}")
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InvalidOptionError(f"{unknown[0]}: not a schedule field (known: {', '.join(sorted(known))})")
        for name in ("name", "type"):
            if name not in data:
                raise InvalidOptionError(f"{name}: a schedule needs one")
        values = dict(data)
        if isinstance(values.get("every"), str):
            values["every"] = parse_duration(values["every"])
        check_field_types(values)
        schedule = cls(**values)
        schedule.validate()
        return schedule


_FIELD_TYPES: dict[str, tuple[type, ...]] = {
    "name": (str,), "type": (str,), "every": (int, float), "cron": (str,), "timezone": (str,), "catch_up": (str,),
    "max_backlog": (int,), "queue": (str,), "priority": (int,), "paused": (bool,), "next_at": (int, float),
    "last_slot": (int, float), "last_job_id": (int,), "last_state": (str,), "last_dropped": (int,),
    "created_at": (int, float),
}  # fmt: skip
_NOT_NULL = {"name", "type", "catch_up", "max_backlog", "priority", "paused", "last_dropped"}


def check_field_types(values: dict[str, Any]) -> None:
    """Refuse a value of the wrong JSON type (a bool is not a number here) with InvalidOptionError."""
    for name, value in values.items():
        if name == "payload":
            continue
        if value is None and name not in _NOT_NULL:
            continue
        kinds = _FIELD_TYPES[name]
        if (isinstance(value, bool) and bool not in kinds) or not isinstance(value, kinds):
            wanted = {str: "text", int: "a whole number", float: "a number", bool: "true or false"}[kinds[-1]]
            raise InvalidOptionError(f"{name}: must be {wanted}, got {value!r}")


def validate_every(every: object) -> float:
    if isinstance(every, bool) or not isinstance(every, int | float) or math.isnan(every):
        raise InvalidOptionError(f"every: must be a number of seconds, got {every!r}")
    if not MIN_EVERY <= every <= MAX_EVERY:
        raise InvalidOptionError(f"every: must be from {MIN_EVERY:g} s to {MAX_EVERY:g} s (ten years), got {every!r}")
    return float(every)


def validate_cron(expression: object, timezone: str | None = None) -> None:
    if not isinstance(expression, str) or not expression.strip():
        raise InvalidOptionError(f"cron: must be a cron expression such as '0 3 * * *', got {expression!r}")
    if len(expression) > 200:
        raise InvalidOptionError("cron: an expression of at most 200 characters")
    try:
        CronSim(expression, datetime.now(zone_of(timezone)))
    except CronSimError as exc:
        raise InvalidOptionError(f"cron: {exc} in {expression!r} (five fields: minute hour day month weekday)") from None


# -- time zones ---------------------------------------------------------------------


def zone_of(name: str | None) -> tzinfo:
    """The zone of a schedule: ZoneInfo(name), or the machine's zone for None (InvalidOptionError if unknown)."""
    if name is None:
        return local_zone()
    if not isinstance(name, str):
        raise InvalidOptionError(f"timezone: must be an IANA name such as 'Europe/Paris', got {name!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, OSError):
        raise InvalidOptionError(f"timezone: unknown time zone {name!r}; use an IANA name such as 'Europe/Paris'") from None


def local_zone() -> tzinfo:
    """The machine's zone with its DST rules (not today's fixed offset): $TZ, else /etc/localtime, else UTC."""
    name = os.environ.get("TZ", "").lstrip(":")
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError, OSError):
            pass
    localtime = Path("/etc/localtime")
    try:
        with localtime.open("rb") as file:
            return ZoneInfo.from_file(file, key="localtime")
    except (OSError, ValueError):
        return ZoneInfo("UTC")


# -- slots --------------------------------------------------------------------------


def next_slot(schedule: Schedule, after: float) -> float:
    """The first slot strictly after `after` (epoch seconds)."""
    if schedule.every is not None:
        anchor = schedule.created_at if schedule.created_at is not None else after
        k = math.floor((after - anchor) / schedule.every) + 1
        slot = anchor + k * schedule.every
        while slot <= after:  # floating point at a boundary
            k += 1
            slot = anchor + k * schedule.every
        return slot
    return next(_cron_slots(schedule, after))


def _cron_slots(schedule: Schedule, after: float) -> Iterator[float]:
    """The cron slots strictly after `after`, increasing."""
    zone = zone_of(schedule.timezone)
    last = after
    for moment in CronSim(str(schedule.cron), datetime.fromtimestamp(after, zone)):
        slot = moment.timestamp()
        if slot > last:
            last = slot
            yield slot


def on_time_window(schedule: Schedule) -> float:
    """How late a slot may fire and still be on time: ON_TIME, or half the period of a faster
    `every` schedule (a cron rule's period is at least a minute), so that a stop of a few
    seconds still counts as missing the slots of an every-1s schedule."""
    period = schedule.every if schedule.every is not None else 60.0
    return min(ON_TIME, period / 2)


@dataclass(frozen=True)
class Plan:
    """What to enqueue for the slots due at `now` (plan_catch_up)."""

    slots: list[float]  # slots to enqueue now, oldest first (one job each; scheduled_for = the slot)
    dropped: int  # missed slots not enqueued (all: past max_backlog; once: those folded into one; skip: all)
    next_at: float  # the next slot after now
    missed: int  # slots missed in all (0 when the app was on time)
    exact: bool = field(default=True)  # False: a cron walk stopped counting; missed and dropped are lower bounds


def plan_catch_up(schedule: Schedule, now: float) -> Plan:
    """The slots due at `now` (from schedule.next_at), under schedule.catch_up. Bounded work."""
    start = schedule.next_at
    if start is None or start > now:
        return Plan([], 0, start if start is not None else next_slot(schedule, now), 0)
    if schedule.every is not None:
        every, exact = schedule.every, True
        due = math.floor((now - start) / every) + 1  # slots in [start, now]: arithmetic, never a walk
        while start + due * every <= now:  # floating point at a boundary
            due += 1
        while due > 1 and start + (due - 1) * every > now:
            due -= 1
        recent = [start + index * every for index in range(max(0, due - schedule.max_backlog - 1), due)]
        next_at = start + due * every
    else:
        due, recent, exact, next_at = _walk_cron(schedule, start, now)
    latest = recent[-1]
    on_time = now - latest <= on_time_window(schedule)
    missed = due - 1 if on_time else due
    missed_recent = recent[:-1] if on_time else recent
    if schedule.catch_up == "once":
        slots = [latest]
        dropped = due - 1
    elif schedule.catch_up == "all":
        kept = missed_recent[-schedule.max_backlog :]
        slots = kept + ([latest] if on_time else [])
        dropped = missed - len(kept)
    else:
        slots = [latest] if on_time else []
        dropped = missed
    return Plan(slots, dropped, next_at, missed, exact)


def _walk_cron(schedule: Schedule, start: float, now: float) -> tuple[int, list[float], bool, float]:
    """(slots due in [start, now], the most recent max_backlog + 1 of them, counted exactly, the next slot).

    Walks forward from `start` at most CRON_COUNT_LIMIT slots; past that, the count is a lower
    bound and the most recent slots are found walking back from `now` (cronsim's reverse)."""
    keep = schedule.max_backlog + 1
    recent: deque[float] = deque([start], maxlen=keep)
    due = 1
    slots = _cron_slots(schedule, start)
    for slot in slots:
        if slot > now:
            return due, list(recent), True, slot
        due += 1
        recent.append(slot)
        if due >= CRON_COUNT_LIMIT:
            break
    zone = zone_of(schedule.timezone)
    back: list[float] = []
    for moment in CronSim(str(schedule.cron), datetime.fromtimestamp(now + 1e-6, zone), reverse=True):
        slot = moment.timestamp()
        if slot <= recent[-1] or len(back) >= keep:
            break
        if slot <= now and (not back or slot < back[-1]):
            back.append(slot)
    merged = sorted({*recent, *back})[-keep:]
    return due, merged, False, next_slot(schedule, now)


class Fired(NamedTuple):
    """What one schedule's firing did (JobStore.fire_due_schedules, JobQueue.fire_due_schedules)."""

    name: str
    job_ids: list[int]  # jobs enqueued now (a slot already enqueued, by this or another process, adds none)
    dropped: int  # due slots not enqueued (Plan.dropped)
    missed: int  # due slots missed in all (Plan.missed)
    queue: str = "default"  # the queue of its jobs
    error: str | None = None  # why nothing was enqueued (a payload its handler's schema now refuses)


# Prepares a schedule's job (JobQueue's checks and the handler's defaults) and returns it with its
# payload's JSON text; the store builds each slot's job from it.
JobPreparer = Callable[[Schedule], tuple[Any, str]]


def slot_label(slot: float, schedule: Schedule) -> str:
    """A slot as an ISO time in the schedule's zone, for events and logs: 2026-03-29T03:00:00+02:00."""
    return datetime.fromtimestamp(slot, zone_of(schedule.timezone)).isoformat(timespec="seconds")
