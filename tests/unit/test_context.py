"""Context: Go's context semantics — cancel, deadlines, parents cancel children, callbacks."""

from __future__ import annotations

import threading
import time

import pytest

from acacia_gui.core.context import Context
from acacia_gui.core.errors import Cancelled, DeadlineExceeded


def test_background_is_never_cancelled():
    ctx = Context.background()
    assert not ctx.cancelled and ctx.deadline is None and ctx.remaining is None
    ctx.check()
    assert ctx.wait(0.01) is False


def test_cancel_wakes_wait_and_check_raises():
    ctx = Context.background().with_cancel()
    threading.Timer(0.05, ctx.cancel).start()
    started = time.monotonic()
    assert ctx.wait(5) is True
    assert time.monotonic() - started < 2
    with pytest.raises(Cancelled):
        ctx.check()


def test_parent_cancels_children_but_not_the_reverse():
    parent = Context.background().with_cancel()
    child = parent.with_cancel()
    grandchild = child.with_timeout(100)
    sibling = parent.with_cancel()
    sibling.cancel()
    assert not parent.cancelled and not child.cancelled
    parent.cancel()
    assert child.cancelled and grandchild.cancelled


def test_child_of_cancelled_parent_starts_cancelled():
    parent = Context.background().with_cancel()
    parent.cancel()
    assert parent.with_cancel().cancelled


def test_timeout_raises_deadline_exceeded_and_fires_callbacks():
    ctx = Context.background().with_timeout(0.05)
    fired = threading.Event()
    ctx.on_cancel(fired.set)
    assert fired.wait(2)
    assert ctx.cancelled and isinstance(ctx.cause, DeadlineExceeded)
    with pytest.raises(DeadlineExceeded):
        ctx.check()


def test_child_deadline_is_capped_by_parent():
    parent = Context.background().with_timeout(0.1)
    child = parent.with_timeout(100)
    assert child.deadline == parent.deadline
    assert child.wait(5) is True


def test_first_cause_wins_and_callbacks_after_cancel_run_at_once():
    ctx = Context.background().with_cancel()
    ctx.cancel(DeadlineExceeded("first"))
    ctx.cancel(Cancelled("second"))
    assert str(ctx.cause) == "first"
    called = []
    ctx.on_cancel(lambda: called.append(1))
    assert called == [1]


def test_a_failing_callback_does_not_stop_the_others():
    ctx = Context.background().with_cancel()
    seen = []
    ctx.on_cancel(lambda: 1 / 0)
    ctx.on_cancel(lambda: seen.append("ok"))
    ctx.cancel()
    assert seen == ["ok"]


def test_zero_timeout_is_already_expired():
    assert Context.background().with_timeout(0).cancelled


def test_timed_contexts_start_no_thread_until_a_callback_needs_the_deadline():
    import time

    before = threading.active_count()
    root = Context.background().with_timeout(3600)
    children = [root.with_timeout(3600) for _ in range(50)]
    grandchildren = [child.with_cancel() for child in children]
    assert threading.active_count() == before
    assert grandchildren[0].remaining > 3500 and not grandchildren[0].cancelled
    fired = threading.Event()
    children[0].on_cancel(fired.set)
    assert threading.active_count() == before + 1
    root.release()  # releases the children's timers too
    deadline = time.monotonic() + 5
    while threading.active_count() > before and time.monotonic() < deadline:
        time.sleep(0.01)
    assert threading.active_count() == before
    assert not fired.is_set()


def test_a_deadline_fires_callbacks_registered_on_a_child():
    parent = Context.background().with_timeout(0.05)
    child = parent.with_cancel()
    fired = threading.Event()
    child.on_cancel(fired.set)
    assert fired.wait(5)
    assert child.cancelled and parent.cancelled
