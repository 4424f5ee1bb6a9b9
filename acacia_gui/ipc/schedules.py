"""The socket's side of recurring schedules: the `schedule_*` ops (protocol 1.5).

Why a module: eight ops share one way of reading a schedule's fields off the wire, and
the Dispatcher stays about jobs. `ScheduleOps` is mixed into the Dispatcher, so its
`_op_schedule_*` methods are the op table's handlers like any other (and
tests/unit/test_op_table.py reads them the same way). Each op calls the app's JobQueue,
which validates, writes and announces; replies carry `Schedule.to_dict()`.

Wrong JSON types and unknown fields are `invalid_params` (read here, naming the field);
a value of the right type that the schedule refuses (a bad cron line, an unknown time
zone, a malformed name) is `invalid_option` from `Schedule.validate`; an unknown name is
the store's not-found error.
"""

from __future__ import annotations

from typing import Any

from ..core.definitions import MAX_PRIORITY
from ..core.durations import parse_duration
from ..core.errors import InvalidOptionError, UnknownJobTypeError
from ..core.queue import JobQueue
from ..core.schedules import CATCH_UP_MODES, DEFAULT_MAX_BACKLOG, MAX_BACKLOG_LIMIT, Schedule
from .params import Params

MAX_NAME = 64  # SCHEDULE_NAME_PATTERN's length; the pattern itself is Schedule.validate's
MAX_TYPE = 200
MAX_CRON = 200
MAX_TIMEZONE = 100
_RULE_HINT = 'give "every" (seconds, or a duration like "10m") or "cron" (5 fields, like "0 3 * * *")'


class ScheduleOps:
    """The `_op_schedule_*` handlers; the Dispatcher provides `queue` and `source`."""

    queue: JobQueue
    source: str

    def _op_schedule_add(self, p: Params) -> dict[str, Any]:
        schedule = Schedule(
            name=self._schedule_name(p),
            type=p.string("type", max_length=MAX_TYPE),
            payload=p.raw("payload", {}),
            every=self._every(p),
            cron=p.string("cron", None, max_length=MAX_CRON),
            timezone=p.string("timezone", None, max_length=MAX_TIMEZONE),
            catch_up=self._catch_up(p),
            max_backlog=p.integer("max_backlog", DEFAULT_MAX_BACKLOG, low=1, high=MAX_BACKLOG_LIMIT),
            queue=p.string("queue", None, max_length=MAX_NAME),
            priority=p.integer("priority", 0, low=-MAX_PRIORITY, high=MAX_PRIORITY),
            paused=p.boolean("paused", False),
        )
        allow_unknown = p.boolean("allow_unknown", False)
        p.done()
        if schedule.every is not None and schedule.cron is not None:
            raise p.error(f'both "every" and "cron" given; {_RULE_HINT}, not both')
        if schedule.every is None and schedule.cron is None:
            raise p.error(f"no rule: {_RULE_HINT}")
        schedule.validate()
        self._check_type(schedule.type, allow_unknown)
        return self.queue.add_schedule(schedule, source=self.source).to_dict()

    def _op_schedule_edit(self, p: Params) -> dict[str, Any]:
        """Only the fields given change; "every" replaces a cron rule and "cron" an every rule."""
        name = self._schedule_name(p)
        changes: dict[str, Any] = {}
        if "type" in p:
            changes["type"] = p.string("type", max_length=MAX_TYPE)
        if "payload" in p:
            changes["payload"] = p.raw("payload")
        if "every" in p:
            changes.update(every=self._every(p, required=True), cron=None)
        if "cron" in p:
            changes.update(cron=p.string("cron", max_length=MAX_CRON), every=None)
        if "timezone" in p:
            changes["timezone"] = p.string("timezone", None, max_length=MAX_TIMEZONE)
        if "catch_up" in p:
            changes["catch_up"] = self._catch_up(p)
        if "max_backlog" in p:
            changes["max_backlog"] = p.integer("max_backlog", low=1, high=MAX_BACKLOG_LIMIT)
        if "queue" in p:
            changes["queue"] = p.string("queue", None, max_length=MAX_NAME)
        if "priority" in p:
            changes["priority"] = p.integer("priority", low=-MAX_PRIORITY, high=MAX_PRIORITY)
        allow_unknown = p.boolean("allow_unknown", False)
        p.done()
        if "every" in p and "cron" in p:
            raise p.error(f'both "every" and "cron" given; {_RULE_HINT}, not both')
        if not changes:
            raise p.error('give at least one field to change: "type", "payload", "every", "cron", "timezone", '
                          '"catch_up", "max_backlog", "queue" or "priority"')  # fmt: skip
        if "type" in changes:
            self._check_type(changes["type"], allow_unknown)
        return self.queue.edit_schedule(name, changes, source=self.source).to_dict()

    def _op_schedule_list(self, p: Params) -> dict[str, Any]:
        p.done()
        return {"schedules": [schedule.to_dict() for schedule in self.queue.list_schedules()]}

    def _op_schedule_get(self, p: Params) -> dict[str, Any]:
        name = self._schedule_name(p)
        p.done()
        return self.queue.get_schedule(name).to_dict()

    def _op_schedule_remove(self, p: Params) -> dict[str, Any]:
        name = self._schedule_name(p)
        p.done()
        self.queue.remove_schedule(name, source=self.source)
        return {"removed": name}

    def _op_schedule_pause(self, p: Params) -> dict[str, Any]:
        name = self._schedule_name(p)
        p.done()
        return self.queue.pause_schedule(name, source=self.source).to_dict()

    def _op_schedule_resume(self, p: Params) -> dict[str, Any]:
        """Resuming plans the next slot from now: the paused time is not caught up."""
        name = self._schedule_name(p)
        p.done()
        return self.queue.resume_schedule(name, source=self.source).to_dict()

    def _op_schedule_run_now(self, p: Params) -> dict[str, Any]:
        """One job now (its scheduled_for is now); the schedule's next slot stays as it was."""
        name = self._schedule_name(p)
        p.done()
        return {"job_id": self.queue.run_schedule_now(name, source=self.source)}

    def _check_type(self, job_type: str, allow_unknown: bool) -> None:
        """Refuse a type no loaded handler has, unless `allow_unknown` (as `enqueue` does): a typo
        would otherwise only show as a job nobody runs, at every slot. (The payload is JobQueue's.)"""
        registry = self.queue.registry
        if not allow_unknown and registry.get_handler(job_type) is None:
            known = ", ".join(registry.job_types()) or "none (no plugin is loaded)"
            raise UnknownJobTypeError(f"unknown job type {job_type!r}; known types: {known}")

    # -- fields ------------------------------------------------------------------------
    def _schedule_name(self, p: Params) -> str:
        return p.string("name", max_length=MAX_NAME)

    def _every(self, p: Params, *, required: bool = False) -> float | None:
        """Seconds between slots: a number, or a duration string ("10m", "1h", "30s")."""
        value = p.raw("every") if required else p.raw("every", None)
        if value is None and not required:
            return None
        if isinstance(value, str):
            try:
                return parse_duration(value)
            except InvalidOptionError as exc:
                raise p.error(f'"every": {exc}') from None
        if isinstance(value, bool) or not isinstance(value, int | float):
            raise p.error(f'"every" must be a number of seconds (at least 1) or a duration like "10m", got {value!r:.60}')
        return float(value)  # its range is Schedule.validate's (invalid_option, naming "every")

    def _catch_up(self, p: Params) -> str:
        mode = p.string("catch_up", "once", max_length=20)
        if mode not in CATCH_UP_MODES:
            raise p.error(f'"catch_up" must be one of {", ".join(CATCH_UP_MODES)}, got {mode!r:.40}')
        return mode
