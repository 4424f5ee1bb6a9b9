"""Rates ("10/min", "3/2s"), the handler options rate_limit/max_running, and why's reasons for them."""

from __future__ import annotations

import pytest

from acacia_gui.core.errors import InvalidOptionError
from acacia_gui.core.job import Job, JobState
from acacia_gui.core.rates import Rate, TypeLimit, format_rate, parse_rate
from acacia_gui.core.registry import Registry
from acacia_gui.core.why import Facts, why_not_running


@pytest.mark.parametrize(("text", "rate", "short"), [
    ("10/min", Rate(10, 60.0), "10/min"),
    ("3/2s", Rate(3, 2.0), "3/2s"),
    ("30/h", Rate(30, 3600.0), "30/h"),
    (" 5 / s ", Rate(5, 1.0), "5/s"),
    ("100/15min", Rate(100, 900.0), "100/15min"),
    ("1/d", Rate(1, 86400.0), "1/d"),
    ("2/0.5s", Rate(2, 0.5), "2/0.5s"),
    ("4/120s", Rate(4, 120.0), "4/2min"),
])  # fmt: skip
def test_rates_parse_and_print_back(text, rate, short):
    assert parse_rate(text) == rate
    assert str(parse_rate(text)) == short == format_rate(rate.count, rate.seconds)


@pytest.mark.parametrize("bad", ["", "10", "10/", "/min", "0/min", "-1/min", "3/0s", "10/fortnight", "ten/min",
                                 "10/8d", 10, None, 2.5])  # fmt: skip
def test_bad_rates_say_what_is_expected(bad):
    with pytest.raises(InvalidOptionError, match="rate"):
        parse_rate(bad)


def test_handlers_declare_a_rate_and_a_cap():
    registry = Registry()
    entry = registry.register_handler("api", lambda ctx, job: None, rate_limit="10/min", max_running=1)
    registry.register_handler("plain", lambda ctx, job: None)
    assert (entry.rate_limit, entry.max_running) == (Rate(10, 60.0), 1)
    assert entry.describe()["rate_limit"] == "10/min" and entry.describe()["max_running"] == 1
    assert registry.type_limits() == {"api": TypeLimit(1, Rate(10, 60.0))}
    registry.unregister_handler("api")
    assert registry.type_limits() == {}  # the cache follows the handlers


@pytest.mark.parametrize(("options", "message"), [
    ({"rate_limit": "10/fortnight"}, "bad rate"),
    ({"max_running": 0}, "max_running"),
    ({"max_running": True}, "max_running"),
    ({"max_running": "1"}, "max_running"),
])  # fmt: skip
def test_bad_limit_options_are_refused(options, message):
    with pytest.raises(InvalidOptionError, match=message):
        Registry().register_handler("api", lambda ctx, job: None, **options)


def _queued(**fields) -> Job:
    job = Job("api", {}, queue="q")
    job.state = JobState.QUEUED
    for name, value in fields.items():
        setattr(job, name, value)
    return job


def test_why_names_the_type_cap_then_the_rates():
    now = 1_000.0
    job = _queued()
    assert why_not_running(job, Facts(workers=4, type_max_running=1, type_running=1), now) == (
        "type `api` is at its limit (1 of 1 running)")
    assert why_not_running(job, Facts(workers=4, type_rate="10/min", type_rate_next_at=now + 4.2), now) == (
        "rate limit 10/min reached; next start in 4 s")
    assert why_not_running(job, Facts(workers=4, queue_rate="30/h", queue_rate_next_at=now + 600), now) == (
        "queue `q` rate 30/h reached; next start in 10 min")
    # a cap with room, and no full rate: the usual reasons
    assert why_not_running(job, Facts(workers=4, type_max_running=2, type_running=1), now) == (
        "it is next; a worker is about to start it")
    # a paused queue says so first; the rate comes before "no app is running"
    assert why_not_running(job, Facts(queue_paused=True, type_rate="1/s"), now) == "queue `q` is paused"
    assert why_not_running(job, Facts(workers=None, type_rate="1/s", type_rate_next_at=now + 1), now).startswith("rate")
