"""Rough edges left from issue 11: every Quit asks while jobs run, `--workers` wins for its run,
and a status-count filter selects a row so the details pane and the actions agree."""

from __future__ import annotations

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QMessageBox

from acacia_gui.gui.main_window import MainWindow
from acacia_gui.gui.preferences import CONFIRM_QUIT_KEY

from .helpers import answer


def _running_gate(harness, qtbot) -> int:
    job_id = harness.enqueue("test.gate", {})
    qtbot.waitUntil(lambda: harness.job(job_id).state == "running", timeout=10_000)
    return job_id


def test_ctrl_q_asks_while_jobs_run_like_closing_does(window, harness, qtbot, quit_calls):
    _running_gate(harness, qtbot)
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    answer(qtbot, "closeQuestion", "cancel")
    assert quit_calls == [] and window.isVisible()
    window.quit_action.trigger()  # File ▸ Quit
    answer(qtbot, "closeQuestion", "stop")
    assert quit_calls == [1]


def test_the_tray_quit_asks_and_dont_ask_again_is_remembered(window, harness, settings, qtbot, quit_calls):
    _running_gate(harness, qtbot)
    window.tray.quit_requested.emit()
    answer(qtbot, "closeQuestion", "cancel")
    assert quit_calls == []
    window.tray.quit_requested.emit()
    qtbot.waitUntil(lambda: _question(window) is not None, timeout=5000)
    _question(window).checkBox().setChecked(True)
    answer(qtbot, "closeQuestion", "stop")
    assert quit_calls == [1]
    assert str(settings.value(CONFIRM_QUIT_KEY)).lower() == "false"  # the Settings' "ask before quitting"


def test_quit_without_running_jobs_does_not_ask(window, quit_calls):
    window.quit_action.trigger()
    assert quit_calls == [1]


def _question(window) -> QMessageBox | None:
    boxes = [b for b in window.findChildren(QMessageBox, "closeQuestion") if b.isVisible()]
    return boxes[0] if boxes else None


def test_the_workers_flag_wins_over_the_remembered_value_for_its_run(window, harness, settings, qtbot):
    window.queues_panel.workers_spin.setValue(3)  # remembered
    window.dispose()
    harness.worker.set_concurrency(5)  # the next run was started with `--workers 5`
    flagged = MainWindow(harness.services, on_quit=lambda: None, settings=settings, workers_flag=5)
    qtbot.addWidget(flagged)
    try:
        assert flagged.queues_panel.workers_spin.value() == 5 and harness.worker.concurrency == 5
        flagged.settings_controller.open_dialog().accept()  # OK in Settings without touching Workers
    finally:
        flagged.dispose()
    assert int(settings.value("queues/workers")) == 3  # the flag did not overwrite the remembered value
    harness.worker.set_concurrency(2)  # a run without the flag: the remembered value again
    plain = MainWindow(harness.services, on_quit=lambda: None, settings=settings)
    qtbot.addWidget(plain)
    try:
        assert plain.queues_panel.workers_spin.value() == 3 and harness.worker.concurrency == 3
    finally:
        plain.dispose()


def test_a_workers_change_in_the_window_is_remembered_even_in_a_flagged_run(harness, settings, qtbot):
    settings.setValue("queues/workers", 3)
    flagged = MainWindow(harness.services, on_quit=lambda: None, settings=settings, workers_flag=2)
    qtbot.addWidget(flagged)
    try:
        flagged.queues_panel.workers_spin.setValue(4)
    finally:
        flagged.dispose()
    assert int(settings.value("queues/workers")) == 4


def test_a_status_count_filter_selects_the_first_row_for_the_pane_and_the_actions(window, harness, qtbot):
    harness.queue.pause("default")
    queued = [harness.enqueue("test.steps", {"steps": 1}) for _ in range(3)]
    qtbot.waitUntil(lambda: all(window.model.row_of(i) >= 0 for i in queued), timeout=5000)
    window.stats.request()
    button = window.summary.labels["queued"]
    qtbot.waitUntil(lambda: button.text() == "3", timeout=5000)
    window.table.clearSelection()
    qtbot.mouseClick(button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: window.model.rowCount() == 3, timeout=5000)
    first = window.model.job_at(0).id
    assert window.table.selected_job_ids() == [first]
    assert window.table.shown_job_id() == first and window.details.job_id == first
    assert window.job_actions.cancel.isEnabled() and window.job_actions.edit.isEnabled()
