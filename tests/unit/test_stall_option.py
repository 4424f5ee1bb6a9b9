"""The handler option stall_after: checked when the plugin loads, shown by `handlers`."""

from __future__ import annotations

import pytest

from acacia_gui.core.errors import InvalidOptionError
from acacia_gui.core.registry import make_registered_handler


def noop(ctx, job):
    return None


@pytest.mark.parametrize("value", [0, -1, 0.05, True, "60", float("nan"), float("inf"), 10**12])
def test_a_bad_stall_after_is_refused_naming_the_option(value):
    with pytest.raises(InvalidOptionError, match="stall_after must be a number of seconds"):
        make_registered_handler("t.x", noop, stall_after=value)


def test_stall_after_is_seconds_or_none_and_described():
    assert make_registered_handler("t.x", noop).stall_after is None
    handler = make_registered_handler("t.x", noop, stall_after=60)
    assert handler.stall_after == 60.0 and isinstance(handler.stall_after, float)
    assert handler.describe()["stall_after"] == 60.0
