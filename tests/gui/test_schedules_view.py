"""The Schedules tab (issue 13): the live table, Enable/Disable/Run now/Remove, and the add/edit dialog.

Real window, real SQLite store, real JobQueue and worker (tests/gui/conftest.py). Schedules
here repeat every 10 minutes or less often, so none fires during a test: jobs come from
Run now, and every outcome is checked in the store.
"""

from __future__ import annotations

import time

import pytest
from PySide6.QtCore import QPoint, QRect, Qt
from PySide6.QtWidgets import QApplication

from acacia_gui.core.schedules import Schedule
from acacia_gui.gui.main_window import JOBS_TAB, SCHEDULES_TAB
from acacia_gui.gui.schedules.cells import ScheduleColumn, relative_text
from acacia_gui.gui.schedules.dialog import ScheduleDialog, route
from acacia_gui.gui.schedules.model import STATE_ROLE

from .helpers import answer


def add(harness, name: str, **fields) -> Schedule:
    fields.setdefault("every", 600.0)
    return harness.queue.add_schedule(Schedule(name, fields.pop("type", "test.steps"), fields.pop("payload", {"steps": 1}),
                                               **fields))  # fmt: skip


def cell(window, name: str, column: ScheduleColumn, role=Qt.ItemDataRole.DisplayRole):
    model = window.schedules_view.model
    row = model.row_of(name)
    return model.index(row, column).data(role) if row >= 0 else None


def show_schedules(window, qtbot) -> None:
    window.tabs.setCurrentIndex(SCHEDULES_TAB)
    qtbot.waitUntil(window.schedules_view.isVisible, timeout=2000)


def select(window, qtbot, name: str) -> None:
    view = window.schedules_view
    qtbot.waitUntil(lambda: view.model.row_of(name) >= 0, timeout=5000)
    view.table.clearSelection()
    view.table.selectRow(view.model.row_of(name))
    view.actions.update_enabled()


def open_dialog(window, qtbot, action) -> ScheduleDialog:
    opened: list[ScheduleDialog] = []
    window.schedules_view.actions.dialog_opened.connect(opened.append)
    action.trigger()
    assert opened, "no dialog opened"
    qtbot.waitUntil(opened[-1].isVisible, timeout=5000)
    return opened[-1]


def test_relative_times_read_naturally():
    assert [relative_text(s) for s in (0, 45, 60, 61, 239.5, 3599, 3600, 3 * 3600 + 300, 2 * 86400 + 4 * 3600)] == [
        "due now", "in 45 s", "in 1 min", "in 2 min", "in 4 min", "in 1 h 00 min", "in 1 h 00 min", "in 3 h 05 min",
        "in 2 d 4 h"]  # fmt: skip


def test_the_table_shows_each_schedule_and_follows_add_pause_and_remove(window, harness, qtbot):
    show_schedules(window, qtbot)
    view = window.schedules_view
    assert view.empty_label.isVisible()  # says what to do when there is nothing yet
    add(harness, "backup", every=600.0)
    add(harness, "report", type="test.gate", payload={}, every=None, cron="0 3 * * *", timezone="Europe/Paris")
    qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=5000)
    assert not view.empty_label.isVisible()
    assert [view.model.schedule_at(r).name for r in range(2)] == ["backup", "report"]
    assert cell(window, "backup", ScheduleColumn.TYPE) == "Count steps"  # the handler's title
    assert cell(window, "backup", ScheduleColumn.RULE) == "every 10m"
    assert cell(window, "report", ScheduleColumn.RULE) == "cron 0 3 * * * (Europe/Paris)"
    next_run = cell(window, "backup", ScheduleColumn.NEXT)
    assert next_run.endswith(("in 10 min", "in 9 min")) and " · " in next_run, next_run
    assert cell(window, "backup", ScheduleColumn.LAST) == "never"
    assert cell(window, "backup", ScheduleColumn.RESULT) == ""
    assert cell(window, "backup", ScheduleColumn.STATUS) == "Enabled"
    assert view.count_label.text() == "2 schedules"
    harness.queue.pause_schedule("backup")  # from elsewhere (the socket, the CLI): the event updates the row
    qtbot.waitUntil(lambda: cell(window, "backup", ScheduleColumn.STATUS) == "Paused", timeout=5000)
    assert cell(window, "backup", ScheduleColumn.NEXT) == "paused"
    assert view.count_label.text() == "2 schedules, 1 paused"
    harness.queue.remove_schedule("report")
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=5000)
    assert view.model.row_of("report") == -1


def test_run_now_creates_a_job_whose_state_is_the_last_result(window, harness, qtbot):
    show_schedules(window, qtbot)
    add(harness, "failing", payload={"steps": 1, "fail": True, "delay": 0})
    select(window, qtbot, "failing")
    [job_id] = window.schedules_view.actions.run_selected_now()
    assert window.statusBar().currentMessage() == f"Enqueued job {job_id}."
    job = harness.job(job_id)
    assert (job.type, job.payload["fail"]) == ("test.steps", True)
    assert job.scheduled_for is not None and abs(job.scheduled_for - time.time()) < 30
    qtbot.waitUntil(lambda: harness.job(job_id).state == "failed", timeout=10_000)
    qtbot.waitUntil(lambda: cell(window, "failing", ScheduleColumn.RESULT) == "Failed", timeout=5000)
    assert cell(window, "failing", ScheduleColumn.RESULT, STATE_ROLE) == "failed"  # painted with the state icon
    assert cell(window, "failing", ScheduleColumn.LAST) != "never"
    # double-clicking the result shows that job in the Jobs tab
    view = window.schedules_view
    index = view.model.index(view.model.row_of("failing"), ScheduleColumn.RESULT)
    view.table.doubleClicked.emit(index)
    assert window.tabs.currentIndex() == JOBS_TAB
    assert window.table.shown_job_id() == job_id


def test_enable_and_disable_change_the_stored_schedule(window, harness, qtbot):
    show_schedules(window, qtbot)
    add(harness, "sync")
    actions = window.schedules_view.actions
    select(window, qtbot, "sync")
    assert actions.disable.isEnabled() and not actions.enable.isEnabled()
    actions.disable.trigger()
    assert harness.queue.get_schedule("sync").paused
    qtbot.waitUntil(lambda: actions.enable.isEnabled() and not actions.disable.isEnabled(), timeout=5000)
    window.schedules_view.buttons["schedule-enable"].click()  # the page's button drives the same action
    assert not harness.queue.get_schedule("sync").paused
    qtbot.waitUntil(lambda: cell(window, "sync", ScheduleColumn.STATUS) == "Enabled", timeout=5000)
    assert window.statusBar().currentMessage() == "Enabled 1 schedule."


def test_remove_asks_first(window, harness, qtbot):
    show_schedules(window, qtbot)
    add(harness, "old")
    select(window, qtbot, "old")
    window.schedules_view.actions.remove.trigger()
    answer(qtbot, "removeScheduleQuestion", "no")
    assert harness.queue.get_schedule("old").name == "old"
    window.schedules_view.table.setFocus()
    qtbot.waitUntil(window.schedules_view.table.hasFocus, timeout=2000)
    qtbot.keyClick(window.schedules_view.table, Qt.Key.Key_Delete)  # Delete in the table: the same question
    answer(qtbot, "removeScheduleQuestion", "yes")
    assert [s.name for s in harness.queue.list_schedules()] == []
    qtbot.waitUntil(lambda: window.schedules_view.model.rowCount() == 0, timeout=5000)


def _fill(dialog: ScheduleDialog, name: str = "nightly", every: str = "10m", cron: str | None = None,
          timezone: str = "") -> None:  # fmt: skip
    dialog.name_edit.setText(name)
    dialog.type_box.setCurrentText("test.steps")
    if cron is None:
        dialog.rule.every_radio.setChecked(True)
        dialog.rule.every_edit.setText(every)
    else:
        dialog.rule.cron_radio.setChecked(True)
        dialog.rule.cron_edit.setText(cron)
    dialog.timezone_box.setCurrentText(timezone)


@pytest.mark.parametrize(("fields", "error", "says"), [
    ({"name": ""}, "nameError", "Name: enter a name"),
    ({"name": "has space"}, "nameError", "is not a schedule name"),
    ({"every": "10 parsecs"}, "ruleError", "Every: not a duration"),
    ({"every": ""}, "ruleError", "Every: enter how often"),  # neither rule
    ({"cron": ""}, "ruleError", "Cron: enter five fields"),
    ({"cron": "61 * * * *"}, "ruleError", "Cron:"),
    ({"cron": "0 3 * *"}, "ruleError", "Cron:"),
    ({"cron": "0 3 * * *", "timezone": "Mars/Olympus"}, "timezoneError", "Time zone: unknown time zone 'Mars/Olympus'"),
])  # fmt: skip
def test_the_dialog_refuses_bad_input_and_says_why_at_the_field(window, harness, qtbot, fields, error, says):
    dialog = open_dialog(window, qtbot, window.schedules_view.actions.add)
    _fill(dialog, **fields)
    label = dialog.findChild(type(dialog.problem_label), error)
    assert label is not None and label.isVisible(), error
    assert says in label.text(), label.text()
    assert not dialog.save_button.isEnabled()
    dialog.accept()  # Enter on a disabled button does nothing either
    assert dialog.isVisible() and harness.queue.list_schedules() == []
    _fill(dialog)  # fixed: the error goes, Add works
    assert not label.isVisible() and dialog.save_button.isEnabled(), dialog.problem
    dialog.reject()


def test_the_payload_is_checked_by_the_handlers_schema_form(window, harness, qtbot):
    dialog = open_dialog(window, qtbot, window.schedules_view.actions.add)
    _fill(dialog)
    assert dialog.payload.form is not None  # the New-job dialog's schema form
    dialog.payload.form.fields["steps"].line.setText("0")
    assert not dialog.save_button.isEnabled()
    assert "minimum" in dialog.problem or "less than" in dialog.problem, dialog.problem
    dialog.payload.form.fields["steps"].line.setText("4")
    assert dialog.save_button.isEnabled(), dialog.problem
    dialog.reject()


def test_the_dialog_adds_a_schedule(window, harness, qtbot):
    dialog = open_dialog(window, qtbot, window.schedules_view.actions.add)
    _fill(dialog, name="hourly-report", every="1h")
    assert dialog.rule.preview.text().startswith("Next runs: "), dialog.rule.preview.text()
    dialog.payload.form.fields["steps"].line.setText("3")
    dialog.catch_up_box.setCurrentIndex(dialog.catch_up_box.findData("all"))
    assert dialog.backlog_spin.isEnabled() and "one job per missed run" in dialog.catch_up_help.text()
    dialog.backlog_spin.setValue(5)
    dialog.queue_box.setCurrentText("nightly")
    dialog.priority.setValue(2)
    dialog.save_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    stored = harness.queue.get_schedule("hourly-report")
    assert (stored.type, stored.payload["steps"], stored.every, stored.cron, stored.catch_up, stored.max_backlog,
            stored.queue, stored.priority, stored.timezone) == (
        "test.steps", 3, 3600.0, None, "all", 5, "nightly", 2, None)  # fmt: skip
    qtbot.waitUntil(lambda: window.schedules_view.model.row_of("hourly-report") >= 0, timeout=5000)


def test_a_taken_name_is_refused_at_the_name(window, harness, qtbot):
    add(harness, "taken")
    dialog = open_dialog(window, qtbot, window.schedules_view.actions.add)
    _fill(dialog, name="taken")
    dialog.save_button.click()
    assert dialog.isVisible()
    assert dialog.name_error.isVisible() and "already exists" in dialog.name_error.text()
    dialog.reject()


def test_edit_changes_the_rule_and_keeps_the_rest(window, harness, qtbot):
    show_schedules(window, qtbot)
    add(harness, "cleanup", payload={"steps": 2, "label": "x"}, priority=3)
    select(window, qtbot, "cleanup")
    opened: list[ScheduleDialog] = []
    window.schedules_view.actions.dialog_opened.connect(opened.append)
    qtbot.keyClick(window.schedules_view.table, Qt.Key.Key_Return)  # Enter edits, as a double-click does
    assert opened and opened[-1].original.name == "cleanup"
    opened[-1].reject()
    dialog = open_dialog(window, qtbot, window.schedules_view.actions.edit)
    assert dialog.name_edit.isReadOnly() and dialog.name_edit.text() == "cleanup"
    assert dialog.rule.every_edit.text() == "10m" and dialog.payload.form.fields["label"].line.text() == "x"
    dialog.rule.cron_edit.setText("30 2 * * 1-5")
    dialog.rule.cron_radio.setChecked(True)
    dialog.timezone_box.setCurrentText("Europe/Paris")
    assert set(dialog.changes()) == {"every", "cron", "timezone"}
    dialog.save_button.click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    stored = harness.queue.get_schedule("cleanup")
    assert (stored.every, stored.cron, stored.timezone, stored.priority, stored.payload) == (
        None, "30 2 * * 1-5", "Europe/Paris", 3, {"steps": 2, "label": "x"})  # fmt: skip
    qtbot.waitUntil(lambda: cell(window, "cleanup", ScheduleColumn.RULE) == "cron 30 2 * * 1-5 (Europe/Paris)",
                    timeout=5000)  # fmt: skip


def test_validate_messages_are_routed_to_their_fields():
    assert route("cron: bad minute in '61 * * * *'")[0] == "rule"
    assert route("timezone: unknown time zone 'X'")[0] == "timezone"
    assert route("schedule 'x' already exists") == ("name", "Name: schedule 'x' already exists.")
    assert route("something else") == ("other", "something else")


def test_view_menu_reaches_the_schedules_tab(window, qtbot):
    view_menu = next(a.menu() for a in window.menuBar().actions() if a.text() == "&View")
    action = next(a for a in view_menu.actions() if a.text() == "S&chedules")
    assert action.shortcut().toString() == "Ctrl+4"
    action.trigger()
    assert window.tabs.currentIndex() == SCHEDULES_TAB
    assert window.schedules_view.table.hasFocus() or QApplication.focusWidget() is window.schedules_view.table


def fill_for_screenshot(harness, qtbot) -> str:
    """Four schedules: one paused, one whose last job failed, one that succeeded."""
    add(harness, "nightly-backup", every=None, cron="0 3 * * *", payload={"steps": 1, "delay": 0})
    add(harness, "hourly-sync", every=3600.0, payload={"steps": 1, "delay": 0})
    add(harness, "weekly-report", every=None, cron="30 7 * * 1", timezone="Europe/Paris", payload={"steps": 2})
    add(harness, "poll-feeds", every=300.0, payload={"steps": 1, "fail": True, "delay": 0}, catch_up="skip")
    harness.queue.pause_schedule("weekly-report")
    ok = harness.queue.run_schedule_now("nightly-backup")
    bad = harness.queue.run_schedule_now("poll-feeds")
    qtbot.waitUntil(lambda: harness.job(ok).state == "succeeded" and harness.job(bad).state == "failed", timeout=10_000)
    return "poll-feeds"


def test_the_view_fits_at_800_by_500(window, harness, qtbot, tmp_path):
    failing = fill_for_screenshot(harness, qtbot)
    window.resize(800, 500)
    qtbot.waitUntil(lambda: window.width() == 800 and window.height() == 500, timeout=2000)
    show_schedules(window, qtbot)
    view = window.schedules_view
    qtbot.waitUntil(lambda: view.model.rowCount() == 4 and cell(window, failing, ScheduleColumn.RESULT) == "Failed",
                    timeout=5000)  # fmt: skip
    QApplication.sendPostedEvents()
    table = view.table
    qtbot.waitUntil(lambda: table.horizontalHeader().length() <= table.viewport().width(), timeout=2000)
    assert table.horizontalScrollBar().maximum() == 0  # every column in view, no sideways scrolling
    assert table.columnWidth(ScheduleColumn.RULE) >= 120
    for button in view.buttons.values():  # every action button whole, inside the page
        top_left = button.mapTo(view, QPoint(0, 0))
        assert view.rect().contains(QRect(top_left, button.size())), button.objectName()
    metrics = table.fontMetrics()
    for column in (ScheduleColumn.NEXT, ScheduleColumn.RESULT, ScheduleColumn.STATUS):
        for row in range(4):
            text = view.model.index(row, column).data()
            room = table.columnWidth(column) - (24 if column != ScheduleColumn.NEXT else 8)  # an icon, margins
            assert metrics.horizontalAdvance(text) <= room, (column.name, text)
    select(window, qtbot, "nightly-backup")
    qtbot.waitUntil(lambda: window.grab().save(str(tmp_path / "schedules.png")), timeout=2000)  # it paints
    # (the README's docs/screenshots/schedules.png comes from bench/screenshots.py, with the example plugins)
