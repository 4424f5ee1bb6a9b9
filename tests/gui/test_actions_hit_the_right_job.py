"""Actions hit the job the user means: the row cancel button under churn, the details pane and the selection."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtTest import QTest

from acacia_gui.gui.delegates.cancel_delegate import CancelButtonDelegate
from acacia_gui.gui.models.columns import JobColumn

from .helpers import state_in_table


def _button_center(window, job_id: int) -> QPoint:
    index = window.model.index(window.model.row_of(job_id), JobColumn.CANCEL)
    return CancelButtonDelegate.button_rect(window.table.visualRect(index)).center()


def _queued_jobs(window, harness, qtbot, count: int) -> list[int]:
    harness.queue.pause("default")
    ids = [harness.enqueue("test.steps", {"steps": 1}) for _ in range(count)]
    qtbot.waitUntil(lambda: all(window.model.row_of(i) >= 0 for i in ids), timeout=5000)
    return ids


def _insert_above(window, harness, count: int) -> list[int]:
    """New jobs land at the top (newest first), pushing every row down; applied at once, like a live batch."""
    new = [harness.enqueue("test.steps", {"steps": 1}) for _ in range(count)]
    window.table.preserving_scroll(lambda: window.model.refresh_rows(new))
    return new


def test_cancel_button_ignores_a_release_over_a_row_that_moved_in(window, harness, qtbot):
    ids = _queued_jobs(window, harness, qtbot, 5)
    cancelled: list[int] = []
    window.table.cancel_delegate.cancel_clicked.disconnect()
    window.table.cancel_delegate.cancel_clicked.connect(cancelled.append)
    viewport = window.table.viewport()
    pressed = ids[2]
    where = _button_center(window, pressed)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, where)
    new = _insert_above(window, harness, 2)
    assert window.model.row_of(new[0]) >= 0
    under_cursor = window.model.job_at(window.table.rowAt(where.y())).id
    assert under_cursor != pressed  # another job slid under the cursor
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, where)
    assert cancelled == []
    # Pressed and released on the same job: that job, and only it.
    where = _button_center(window, pressed)
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, where)
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, where)
    assert cancelled == [pressed]


def test_cancel_button_does_nothing_when_the_pressed_row_moved_under_the_release(window, harness, qtbot):
    ids = _queued_jobs(window, harness, qtbot, 5)
    cancelled: list[int] = []
    window.table.cancel_delegate.cancel_clicked.disconnect()
    window.table.cancel_delegate.cancel_clicked.connect(cancelled.append)
    viewport = window.table.viewport()
    pressed = ids[2]
    QTest.mousePress(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier, _button_center(window, pressed))
    _insert_above(window, harness, 1)
    # The pressed job moved one row down; the release lands on it at its new place — it moved, so nothing.
    QTest.mouseRelease(viewport, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier,
                       _button_center(window, pressed))  # fmt: skip
    assert cancelled == []


def _pane_and_actions(window) -> tuple[int | None, list[int]]:
    return window.details.job_id, window.table.selected_job_ids()


def test_at_start_up_the_pane_shows_the_job_the_actions_apply_to(harness, settings, qtbot):
    from acacia_gui.gui.main_window import MainWindow

    harness.queue.pause("default")
    ids = [harness.enqueue("test.steps", {"steps": 1}) for _ in range(3)]
    win = MainWindow(harness.services, on_quit=lambda: None, settings=settings)
    qtbot.addWidget(win)
    win.show()
    qtbot.waitExposed(win)
    try:
        qtbot.waitUntil(lambda: _pane_and_actions(win)[0] is not None)
        shown, selected = _pane_and_actions(win)
        assert shown is not None and shown in ids
        assert selected == [shown]
        assert win.job_actions.cancel.isEnabled()  # a queued job: Cancel and Delete apply to it
        assert win.job_actions.delete.isEnabled()
        assert not win.job_actions.retry.isEnabled()
    finally:
        win.dispose()


def test_after_a_retry_the_pane_and_the_actions_stay_on_one_job(window, harness, qtbot, tmp_path):
    marker = tmp_path / "fail-while-here"
    marker.write_text("x")
    failed = [harness.enqueue("test.flaky", {"marker": str(marker)}) for _ in range(3)]
    qtbot.waitUntil(lambda: all(harness.job(i).state == "failed" for i in failed), timeout=5000)
    bar = window.filter_bar
    bar.state_box.setCurrentIndex(bar.state_box.findData("failed"))
    qtbot.waitUntil(lambda: all(window.model.row_of(i) >= 0 for i in failed), timeout=5000)
    harness.queue.pause("default")  # the retried job waits, queued, out of the "failed" filter
    assert window.table.select_job(failed[1])
    window.job_actions.retry.trigger()
    qtbot.waitUntil(lambda: window.model.row_of(failed[1]) < 0, timeout=5000)
    shown, selected = _pane_and_actions(window)
    assert shown is not None and shown != failed[1]
    assert selected == [shown]
    assert window.job_actions.retry.isEnabled()


def test_an_action_with_nothing_selected_says_so(window, harness, qtbot):
    window.table.clearSelection()
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    assert "select" in window.statusBar().currentMessage().lower()
    actions = window.job_actions
    for act in (actions.cancel_selected, actions.retry_selected, actions.delete_selected, actions.duplicate_selected):
        window.statusBar().clearMessage()
        act()  # reached another way (a stale menu, the tray): still said
        assert "no job selected" in window.statusBar().currentMessage().lower()


def test_the_shortcut_of_an_enabled_action_still_acts(window, harness, qtbot, tmp_path):
    marker = tmp_path / "fail-while-here"
    marker.write_text("x")
    job_id = harness.enqueue("test.flaky", {"marker": str(marker)})
    qtbot.waitUntil(lambda: state_in_table(window, job_id) == "failed", timeout=5000)
    assert window.table.select_job(job_id)
    harness.queue.pause("default")
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_R, Qt.KeyboardModifier.ControlModifier)
    qtbot.waitUntil(lambda: harness.job(job_id).state == "queued", timeout=5000)
    assert window.statusBar().currentMessage() == "Retrying 1 job."
