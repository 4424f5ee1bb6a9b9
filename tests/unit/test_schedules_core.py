"""Recurring schedules' rules (core/schedules.py): slots, DST days, catch-up, bounds, validation."""

from __future__ import annotations

import itertools
import time
from datetime import datetime
from zoneinfo import ZoneInfo

import pytest

from acacia_gui.core.errors import InvalidOptionError
from acacia_gui.core.schedules import (
    CRON_COUNT_LIMIT,
    MAX_BACKLOG_LIMIT,
    ON_TIME,
    Schedule,
    local_zone,
    next_slot,
    on_time_window,
    plan_catch_up,
    slot_label,
)

HOUR = 3600.0


def at(zone: str, *parts: int, fold: int = 0) -> float:
    return datetime(*parts, tzinfo=ZoneInfo(zone), fold=fold).timestamp()


def slots(schedule: Schedule, after: float, count: int) -> list[float]:
    found = []
    for _ in range(count):
        after = next_slot(schedule, after)
        found.append(after)
    return found


def local(zone: str, slot: float) -> str:
    return datetime.fromtimestamp(slot, ZoneInfo(zone)).strftime("%m-%d %H:%M%z")


# -- every ---------------------------------------------------------------------------


def test_every_slots_are_anchored_at_created_at():
    schedule = Schedule("s", "demo.x", every=600, created_at=1000.0)
    assert next_slot(schedule, 1000.0) == 1600.0
    assert next_slot(schedule, 1599.999) == 1600.0
    assert next_slot(schedule, 1600.0) == 2200.0  # strictly after
    assert next_slot(schedule, 100_000.5) == 1000.0 + 600 * 166


@pytest.mark.parametrize(
    ("mode", "expected_slots", "dropped"),
    [("once", [10.0], 9), ("all", [7.0, 8.0, 9.0, 10.0], 6), ("skip", [10.0], 9)],
)
def test_a_late_start_with_an_on_time_slot(mode, expected_slots, dropped):
    """Ten slots due (1..10 s), the app looks at 10.3 s: slot 10 is on time, 1..9 were missed."""
    schedule = Schedule("s", "demo.x", every=1, created_at=0.0, next_at=1.0, catch_up=mode, max_backlog=3)
    plan = plan_catch_up(schedule, 10.3)
    assert (plan.slots, plan.dropped, plan.missed, plan.next_at, plan.exact) == (expected_slots, dropped, 9, 11.0, True)


@pytest.mark.parametrize(
    ("mode", "count", "dropped"),
    [("once", 1, 9), ("all", 10, 0), ("skip", 0, 10)],
)
def test_ten_missed_hours_give_once_one_all_ten_skip_none(mode, count, dropped):
    schedule = Schedule("s", "demo.x", every=HOUR, created_at=0.0, next_at=HOUR, catch_up=mode)
    plan = plan_catch_up(schedule, 10.5 * HOUR)
    assert len(plan.slots) == count and plan.dropped == dropped and plan.missed == 10
    assert plan.next_at == 11 * HOUR
    if mode == "once":
        assert plan.slots == [10 * HOUR]  # the latest missed slot
    if mode == "all":
        assert plan.slots == [k * HOUR for k in range(1, 11)]


def test_all_keeps_the_most_recent_max_backlog_and_counts_the_rest_dropped():
    schedule = Schedule("s", "demo.x", every=60, created_at=0.0, next_at=60.0, catch_up="all", max_backlog=5)
    plan = plan_catch_up(schedule, 60 * 100 + 45)  # 100 slots, the last one 45 s late (its half period: 30 s)
    assert plan.slots == [60.0 * k for k in range(96, 101)] and plan.dropped == 95 and plan.missed == 100


def test_an_on_time_app_misses_nothing():
    schedule = Schedule("s", "demo.x", every=10, created_at=0.0, next_at=10.0, catch_up="skip")
    assert plan_catch_up(schedule, 9.99).slots == []
    plan = plan_catch_up(schedule, 10.02)
    assert (plan.slots, plan.dropped, plan.missed, plan.next_at) == ([10.0], 0, 0, 20.0)


def test_the_on_time_window_is_a_minute_or_half_a_fast_period():
    assert on_time_window(Schedule("s", "t", every=3600)) == ON_TIME
    assert on_time_window(Schedule("s", "t", every=1)) == 0.5
    assert on_time_window(Schedule("s", "t", cron="* * * * *")) == 30.0


def test_two_weeks_of_every_second_are_counted_not_walked():
    schedule = Schedule("s", "demo.x", every=1, created_at=0.0, next_at=1.0, catch_up="all", max_backlog=MAX_BACKLOG_LIMIT)
    began = time.perf_counter()
    plan = plan_catch_up(schedule, 14 * 86400 + 0.9)
    assert time.perf_counter() - began < 0.5
    assert plan.missed == 14 * 86400 and len(plan.slots) == MAX_BACKLOG_LIMIT
    assert plan.dropped == 14 * 86400 - MAX_BACKLOG_LIMIT and plan.slots[-1] == 14 * 86400.0


def test_a_long_cron_backlog_stops_counting_and_says_at_least():
    schedule = Schedule("s", "demo.x", cron="* * * * *", timezone="UTC", catch_up="all", max_backlog=10)
    now = at("UTC", 2026, 6, 15, 12, 0) + 40.0
    schedule.next_at = now - 40.0 - 14 * 86400
    began = time.perf_counter()
    plan = plan_catch_up(schedule, now)
    assert time.perf_counter() - began < 5
    assert not plan.exact and plan.missed >= CRON_COUNT_LIMIT - 1
    assert plan.slots == [now - 40.0 - 60 * k for k in range(9, -1, -1)]  # the most recent ten, oldest first
    assert plan.next_at == now + 20.0


def test_a_short_cron_backlog_is_exact():
    schedule = Schedule("s", "demo.x", cron="0 * * * *", timezone="UTC", catch_up="all")
    start = at("UTC", 2026, 6, 15, 0, 0)
    schedule.next_at = start
    plan = plan_catch_up(schedule, start + 5 * HOUR + 120)
    assert plan.exact and plan.missed == 6 and plan.slots == [start + k * HOUR for k in range(6)]


# -- cron and DST ------------------------------------------------------------------------


@pytest.mark.parametrize(("zone", "day"), [("Europe/Paris", (2026, 3, 29)), ("America/New_York", (2026, 3, 8))])
def test_spring_forward_a_time_in_the_missing_hour_fires_once_right_after_the_jump(zone, day):
    schedule = Schedule("s", "demo.x", cron="30 2 * * *", timezone=zone)
    found = slots(schedule, at(zone, *day) - 86400, 3)
    month, date = day[1], day[2]
    assert [local(zone, s)[:11] for s in found] == [f"{month:02d}-{date - 1:02d} 02:30", f"{month:02d}-{date:02d} 03:00",
                                                     f"{month:02d}-{date + 1:02d} 02:30"]  # fmt: skip


@pytest.mark.parametrize(("zone", "day"), [("Europe/Paris", (2026, 3, 29)), ("America/New_York", (2026, 3, 8))])
def test_spring_forward_an_hourly_rule_skips_only_the_hour_that_does_not_exist(zone, day):
    schedule = Schedule("s", "demo.x", cron="0 * * * *", timezone=zone)
    found = slots(schedule, at(zone, *day, 0, 30), 4)
    assert [local(zone, s)[6:11] for s in found] == ["01:00", "03:00", "04:00", "05:00"]
    assert [b - a for a, b in itertools.pairwise(found)] == [HOUR] * 3  # 01:00 → 03:00 is one real hour


@pytest.mark.parametrize(("zone", "day"), [("Europe/Paris", (2026, 10, 25)), ("America/New_York", (2026, 11, 1))])
def test_fall_back_an_hourly_rule_fires_every_real_hour_never_twice(zone, day):
    schedule = Schedule("s", "demo.x", cron="0 * * * *", timezone=zone)
    found = slots(schedule, at(zone, *day, 0, 30), 5)
    assert [b - a for a, b in itertools.pairwise(found)] == [HOUR] * 4
    assert len(set(found)) == 5
    repeated = "02:00" if zone == "Europe/Paris" else "01:00"
    assert [local(zone, s)[6:11] for s in found].count(repeated) == 2  # both of that hour's occurrences: two real hours


@pytest.mark.parametrize(("zone", "day", "rule"), [("Europe/Paris", (2026, 10, 25), "30 2 * * *"),
                                                   ("America/New_York", (2026, 11, 1), "30 1 * * *")])  # fmt: skip
def test_fall_back_a_rule_naming_the_repeated_hour_fires_once_that_day(zone, day, rule):
    schedule = Schedule("s", "demo.x", cron=rule, timezone=zone)
    found = slots(schedule, at(zone, *day), 2)
    assert found[1] - found[0] == 25 * HOUR  # once that day (the first occurrence), then the next day
    # Planned from inside the repeated hour's second occurrence: not again that day.
    hour = int(rule.split()[1])
    second = at(zone, *day, hour, 45, fold=1)
    assert next_slot(schedule, second) == found[1]


def test_a_dst_day_catch_up_counts_real_slots():
    """An hourly rule over the Paris fall-back night: 26 slots in 25 real hours, none twice."""
    zone = "Europe/Paris"
    schedule = Schedule("s", "demo.x", cron="0 * * * *", timezone=zone, catch_up="all", max_backlog=100)
    schedule.next_at = at(zone, 2026, 10, 25, 0, 0)
    plan = plan_catch_up(schedule, at(zone, 2026, 10, 26, 0, 0) + 10)
    assert plan.exact and len(plan.slots) == 26 and len(set(plan.slots)) == 26


def test_no_time_zone_means_the_machine_s_zone_with_its_dst_rules(monkeypatch):
    monkeypatch.setenv("TZ", "America/New_York")
    assert local_zone().utcoffset(datetime(2026, 1, 1)).total_seconds() == -5 * HOUR
    assert local_zone().utcoffset(datetime(2026, 7, 1)).total_seconds() == -4 * HOUR
    schedule = Schedule("s", "demo.x", cron="30 2 * * *")
    assert local("America/New_York", next_slot(schedule, at("America/New_York", 2026, 3, 8))) == "03-08 03:00-0400"


def test_slot_labels_are_iso_times_in_the_schedule_s_zone():
    schedule = Schedule("s", "demo.x", cron="0 3 * * *", timezone="Europe/Paris")
    assert slot_label(at("Europe/Paris", 2026, 3, 29, 3, 0), schedule) == "2026-03-29T03:00:00+02:00"


# -- the schedule itself -----------------------------------------------------------------


def test_describe():
    assert Schedule("s", "t", every=600).describe() == "every 10m"
    assert Schedule("s", "t", every=90).describe() == "every 90s"
    assert Schedule("s", "t", cron="0 3 * * *", timezone="Europe/Paris").describe() == "cron 0 3 * * * (Europe/Paris)"
    assert Schedule("s", "t", cron="0 3 * * *").describe() == "cron 0 3 * * * (local time)"


def test_to_dict_and_back():
    schedule = Schedule("nightly", "demo.x", {"a": [1, 2]}, cron="0 3 * * *", timezone="Europe/Paris", catch_up="all",
                        max_backlog=7, queue="q", priority=5, next_at=10.0, last_job_id=3, created_at=1.0)  # fmt: skip
    wire = schedule.to_dict()
    assert wire["cron"] == "0 3 * * *" and wire["last_job_id"] == 3 and wire["paused"] is False
    assert Schedule.from_dict(wire) == schedule
    assert Schedule.from_dict({"name": "x", "type": "t", "every": "10m"}).every == 600.0


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"name": "x", "type": "t", "every": 1, "colour": "red"}, "colour: not a schedule field"),
        ({"type": "t", "every": 1}, "name: a schedule needs one"),
        ({"name": "x", "type": "t", "every": True}, "every: must be a number"),
        ({"name": "x", "type": "t", "every": 1, "max_backlog": 2.5}, "max_backlog: must be a whole number"),
        ({"name": "x", "type": "t", "every": 1, "paused": 1}, "paused: must be true or false"),
        ({"name": 5, "type": "t", "every": 1}, "name: must be text"),
        ([], "a schedule must be an object"),
    ],
)
def test_from_dict_refuses_unknown_keys_and_wrong_types(data, message):
    with pytest.raises(InvalidOptionError, match=message):
        Schedule.from_dict(data)


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"name": "has space"}, "name: invalid schedule name"),
        ({"name": "x" * 65}, "name: invalid schedule name"),
        ({"type": "bad type"}, "type: invalid job type"),
        ({"every": None}, "every/cron: give exactly one"),
        ({"cron": "0 3 * * *"}, "every/cron: give exactly one"),
        ({"every": 0.5}, "every: must be from 1 s"),
        ({"every": float("nan")}, "every: must be a number"),
        ({"every": None, "cron": "61 * * * *"}, "cron: Bad minute"),
        ({"every": None, "cron": "0 3 * *"}, "cron: Wrong number of fields"),
        ({"timezone": "Mars/Olympus"}, "timezone: unknown time zone 'Mars/Olympus'"),
        ({"timezone": "../../etc/passwd"}, "timezone: unknown time zone"),
        ({"catch_up": "sometimes"}, "catch_up: must be one of once, all, skip"),
        ({"max_backlog": 0}, "max_backlog: must be a whole number from 1 to 10000"),
        ({"max_backlog": MAX_BACKLOG_LIMIT + 1}, "max_backlog"),
        ({"queue": "a/b"}, "queue: invalid queue name"),
        ({"priority": 10**7}, "priority: priority must be between"),
        ({"payload": {1, 2}}, "payload: payload is not JSON-serialisable"),
        ({"payload": float("nan")}, "payload: payload is not valid JSON"),
    ],
)
def test_validation_names_the_field(changes, message):
    schedule = Schedule("ok", "demo.x", every=60)
    for key, value in changes.items():
        setattr(schedule, key, value)
    with pytest.raises(InvalidOptionError, match=message):
        schedule.validate()


def test_a_valid_schedule_validates():
    Schedule("nightly-1.a", "image.resize", {"w": 1}, cron="0 3 * * 1-5", timezone="Europe/Paris").validate()
    Schedule("n", "demo.x", every=1).validate()


def test_the_schedules_module_imports_no_qt():
    import subprocess
    import sys

    code = "import sys, acacia_gui.core.schedules; print([m for m in sys.modules if m.startswith('PySide6')])"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "[]"
