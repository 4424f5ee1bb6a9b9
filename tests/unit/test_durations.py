"""The duration parser behind --keep-finished, --keep-failed, --older-than and the socket's older_than."""

from __future__ import annotations

import pytest

from acacia_gui.core.durations import RetentionPolicy, format_duration, parse_duration, parse_keep
from acacia_gui.core.errors import InvalidOptionError


@pytest.mark.parametrize(("text", "seconds"), [("30d", 30 * 86400), ("12h", 43200), ("90m", 5400), ("45s", 45),
                                               ("2w", 14 * 86400), ("1.5h", 5400), (" 7D ", 7 * 86400)])  # fmt: skip
def test_units(text, seconds):
    assert parse_duration(text) == seconds


@pytest.mark.parametrize("text", ["", "30", "d", "30x", "-1d", "0s", "1 day", "30d2h", "forever", "1e3s", "999999w"])
def test_bad_durations_say_what_is_expected(text):
    with pytest.raises(InvalidOptionError) as info:
        parse_duration(text)
    assert "duration" in str(info.value) and "\n" not in str(info.value)


def test_keep_takes_forever():
    assert parse_keep("forever") is None and parse_keep("Forever") is None
    assert parse_keep("2s") == 2
    with pytest.raises(InvalidOptionError):
        parse_keep("never")


def test_format_round_trips():
    for text in ("30d", "12h", "90m", "45s", "2w", "forever"):
        assert format_duration(parse_keep(text)) == text


def test_policy_is_active_only_when_something_expires():
    assert not RetentionPolicy().active
    assert RetentionPolicy(keep_finished=60).active and RetentionPolicy(keep_failed=60).active
    assert RetentionPolicy(keep_finished=86400).describe() == "finished jobs kept 1d, failed ones forever"
