"""The main window driven like a user: actions on the selection, live progress, filters, details, queues."""

from __future__ import annotations

from PySide6.QtCore import QPoint, Qt
from PySide6.QtWidgets import QAbstractButton, QAbstractSpinBox, QComboBox, QLineEdit, QSpinBox

from acacia_gui.gui.delegates.cancel_delegate import CancelButtonDelegate
from acacia_gui.gui.dialogs.new_job_dialog import NewJobDialog
from acacia_gui.gui.models.columns import JobColumn, JobRole

from .helpers import answer, state_in_table


def wait_state(qtbot, harness, job_id: int, *states: str, timeout: int = 10_000) -> None:
    qtbot.waitUntil(lambda: harness.job(job_id).state in states, timeout=timeout)


def test_progress_advances_live_in_the_table(window, harness, qtbot):
    job_id = harness.enqueue("test.steps", {"steps": 30, "delay": 0.03})
    seen: set[float] = set()

    def advancing() -> bool:
        row = window.model.row_of(job_id)
        value = window.model.index(row, JobColumn.PROGRESS).data(JobRole.PROGRESS) if row >= 0 else None
        if value is not None and state_in_table(window, job_id) == "running":
            seen.add(value)
        return len(seen) >= 3

    qtbot.waitUntil(advancing, timeout=10_000)
    qtbot.waitUntil(lambda: state_in_table(window, job_id) == "succeeded", timeout=10_000)
    assert window.model.index(window.model.row_of(job_id), JobColumn.PROGRESS).data() == "100 %"


def test_cancel_a_running_job_from_the_toolbar(window, harness, qtbot):
    job_id = harness.enqueue("test.gate", {})
    qtbot.waitUntil(lambda: state_in_table(window, job_id) == "running", timeout=5000)
    assert window.table.select_job(job_id)
    assert window.job_actions.cancel.isEnabled()
    assert not window.job_actions.retry.isEnabled()
    window.job_actions.cancel.trigger()
    qtbot.waitUntil(lambda: state_in_table(window, job_id) == "cancelled", timeout=5000)
    assert harness.job(job_id).state == "cancelled"
    assert window.job_actions.retry.isEnabled()  # the selection was kept and follows the new state


def test_cancel_with_the_button_painted_in_the_row(window, harness, qtbot):
    job_id = harness.enqueue("test.gate", {})
    qtbot.waitUntil(lambda: state_in_table(window, job_id) == "running", timeout=5000)
    table = window.table
    index = window.model.index(window.model.row_of(job_id), JobColumn.CANCEL)
    table.scrollTo(index)
    center = CancelButtonDelegate.button_rect(table.visualRect(index)).center()
    qtbot.mouseClick(table.viewport(), Qt.MouseButton.LeftButton, pos=center)
    qtbot.waitUntil(lambda: harness.job(job_id).state == "cancelled", timeout=5000)
    events = harness.store.get_events(job_id)
    assert events[-1]["new_state"] == "cancelled"


def test_retry_a_failed_job(window, harness, qtbot, tmp_path):
    marker = tmp_path / "fail-while-here"
    marker.write_text("x")
    job_id = harness.enqueue("test.flaky", {"marker": str(marker)})
    qtbot.waitUntil(lambda: state_in_table(window, job_id) == "failed", timeout=5000)
    window.table.select_job(job_id)
    assert "marker file present" in window.details.error.toPlainText()
    assert "Traceback" in window.details.error.toPlainText()
    marker.unlink()
    assert window.job_actions.retry.isEnabled()
    window.job_actions.retry.trigger()
    qtbot.waitUntil(lambda: state_in_table(window, job_id) == "succeeded", timeout=5000)
    sources = [(e["source"], e["new_state"]) for e in harness.store.get_events(job_id)]
    assert ("gui", "queued") in sources
    qtbot.waitUntil(lambda: window.details.result.toPlainText() == '"ok"', timeout=5000)


def test_filters_and_search_from_the_filter_bar(window, harness, qtbot):
    harness.queue.pause("default")
    harness.queue.pause("other")
    a = harness.enqueue("test.steps", {"steps": 1, "label": "alpha"})
    b = harness.enqueue("test.steps", {"steps": 1, "label": "beta"}, queue="other")
    c = harness.enqueue("test.gate", {"note": "alpha too"})
    bar = window.filter_bar

    def shown() -> list[int]:
        return sorted(window.model.index(r, 0).data(JobRole.JOB_ID) for r in range(window.model.rowCount()))

    qtbot.waitUntil(lambda: shown() == [a, b, c], timeout=5000)
    qtbot.waitUntil(lambda: bar.queue_box.findData("other") >= 0, timeout=5000)
    bar.queue_box.setCurrentIndex(bar.queue_box.findData("other"))
    assert shown() == [b]
    bar.queue_box.setCurrentIndex(0)
    bar.type_box.setCurrentIndex(bar.type_box.findData("test.gate"))
    assert shown() == [c]
    bar.type_box.setCurrentIndex(0)
    bar.state_box.setCurrentIndex(bar.state_box.findData("failed"))
    assert shown() == []
    bar.state_box.setCurrentIndex(bar.state_box.findData("active"))
    assert shown() == [a, b, c]
    qtbot.keyClicks(bar.search, "alpha")
    qtbot.waitUntil(lambda: shown() == [a, c], timeout=5000)  # debounced
    qtbot.waitUntil(lambda: bar.count_label.text() == "2 jobs", timeout=5000)
    bar.search.clear()
    qtbot.waitUntil(lambda: shown() == [a, b, c], timeout=5000)


def test_selection_and_scroll_survive_live_updates(window, harness, qtbot):
    harness.queue.pause("default")
    ids = [harness.enqueue("test.steps", {"steps": 1}) for _ in range(150)]
    qtbot.waitUntil(lambda: window.model.row_of(ids[0]) >= 0 or window.model.canFetchMore(), timeout=5000)
    table = window.table
    chosen = ids[60]
    assert table.select_job(chosen)
    table.verticalScrollBar().setValue(table.verticalScrollBar().value() + 5)
    top_before = window.model.job_at(table.rowAt(0)).id
    resets = []
    window.model.modelReset.connect(lambda: resets.append(1))
    new = [harness.enqueue("test.steps", {"steps": 1}) for _ in range(25)]  # all land above the viewport
    harness.queue.cancel(ids[100])
    qtbot.waitUntil(lambda: all(window.model.row_of(i) >= 0 for i in new), timeout=5000)
    qtbot.waitUntil(lambda: state_in_table(window, ids[100]) == "cancelled", timeout=5000)
    assert resets == []
    assert table.selected_job_ids() == [chosen]
    assert table.current_job_id() == chosen
    assert window.model.job_at(table.rowAt(0)).id == top_before  # the view did not jump


def test_details_show_payload_log_and_history_live(window, harness, qtbot):
    job_id = harness.enqueue("test.gate", {"who": "details"})
    qtbot.waitUntil(lambda: state_in_table(window, job_id) == "running", timeout=5000)
    window.table.select_job(job_id)
    details = window.details
    assert details.job_id == job_id
    assert '"who": "details"' in details.payload.toPlainText()
    qtbot.waitUntil(lambda: "gate opened" in details.log.toPlainText(), timeout=5000)  # live log
    assert "Wait for cancel" in details.title.text()
    harness.queue.cancel(job_id)
    qtbot.waitUntil(lambda: "Cancelled" in details.title.text(), timeout=5000)
    rows = [details.history.topLevelItem(i).text(2) for i in range(details.history.topLevelItemCount())]
    assert rows[0].endswith("queued") and "running" in rows[1] and rows[-1].endswith("cancelled")
    sources = {details.history.topLevelItem(i).text(1) for i in range(details.history.topLevelItemCount())}
    assert {"api", "worker"} <= sources


def test_delete_and_clear_finished_ask_first(window, harness, qtbot):
    done = [harness.enqueue("test.steps", {"steps": 1}) for _ in range(3)]
    for job_id in done:
        wait_state(qtbot, harness, job_id, "succeeded")
    qtbot.waitUntil(lambda: all(state_in_table(window, i) == "succeeded" for i in done), timeout=5000)
    window.table.select_job(done[0])
    window.table.setFocus()
    qtbot.keyClick(window.table, Qt.Key.Key_Delete)  # the shortcut, with the table focused
    answer(qtbot, "deleteQuestion", "no")
    assert harness.store.get_job(done[0]) is not None
    window.job_actions.delete.trigger()
    answer(qtbot, "deleteQuestion", "yes")
    qtbot.waitUntil(lambda: window.model.row_of(done[0]) == -1, timeout=5000)
    assert harness.store.get_job(done[0]) is None
    qtbot.waitUntil(lambda: window._finished_count() == 2, timeout=5000)
    window.job_actions.clear_finished.trigger()
    answer(qtbot, "clearQuestion", "yes")
    qtbot.waitUntil(lambda: window.model.rowCount() == 0, timeout=5000)
    assert harness.store.count_jobs() == 0


def test_duplicate_opens_the_dialog_prefilled(window, harness, qtbot):
    harness.queue.pause("default")
    job_id = harness.enqueue("test.steps", {"steps": 2, "label": "original"}, priority=3)
    qtbot.waitUntil(lambda: window.model.row_of(job_id) >= 0, timeout=5000)
    window.table.select_job(job_id)
    window.job_actions.duplicate.trigger()
    dialog = window.findChild(NewJobDialog, "newJobDialog")
    assert dialog.windowTitle() == f"Duplicate job {job_id}"
    assert dialog.form.fields["label"].editor.text() == "original"
    assert dialog.priority.value() == 3
    dialog.form.fields["label"].editor.setText("edited copy")
    dialog.accept()
    copy = harness.job(dialog.job_id)
    assert copy.payload["label"] == "edited copy" and copy.payload["steps"] == 2 and copy.priority == 3
    qtbot.waitUntil(lambda: window.model.row_of(dialog.job_id) >= 0, timeout=5000)


def test_multi_selection_cancels_every_selected_job(window, harness, qtbot):
    harness.queue.pause("default")
    ids = [harness.enqueue("test.steps", {"steps": 1}) for _ in range(4)]
    qtbot.waitUntil(lambda: all(window.model.row_of(i) >= 0 for i in ids), timeout=5000)
    window.table.selectAll()
    window.job_actions.cancel.trigger()
    qtbot.waitUntil(lambda: all(state_in_table(window, i) == "cancelled" for i in ids), timeout=5000)
    assert window.job_actions.retry.isEnabled() and not window.job_actions.cancel.isEnabled()
    window.job_actions.retry.trigger()
    qtbot.waitUntil(lambda: all(harness.job(i).state == "queued" for i in ids), timeout=5000)


def test_queue_panel_pauses_and_limits(window, harness, qtbot):
    qtbot.waitUntil(lambda: "default" in window.queues_panel.cards, timeout=5000)
    card = window.queues_panel.cards["default"]
    qtbot.mouseClick(card.pause_button, Qt.MouseButton.LeftButton)
    qtbot.waitUntil(lambda: harness.store.get_queue("default").paused, timeout=5000)
    qtbot.waitUntil(lambda: card.pause_button.text() == "Resume", timeout=5000)
    job_id = harness.enqueue("test.steps", {"steps": 1})
    qtbot.waitUntil(lambda: "1 queued" in card.counts.text(), timeout=5000)
    card.spin.setValue(3)
    card.spin.editingFinished.emit()
    qtbot.waitUntil(lambda: harness.store.get_queue("default").concurrency == 3, timeout=5000)
    qtbot.mouseClick(card.pause_button, Qt.MouseButton.LeftButton)
    wait_state(qtbot, harness, job_id, "succeeded")
    window.queues_panel.workers_spin.setValue(3)
    assert harness.worker.concurrency == 3


def test_workers_spin_follows_the_worker_and_allows_what_the_server_does(window, harness, qtbot):
    spin = window.queues_panel.workers_spin
    assert spin.maximum() == 1024
    harness.worker.set_concurrency(700)  # as `acacia concurrency --workers 700` does through the socket
    window.stats.request()
    qtbot.waitUntil(lambda: spin.value() == 700, timeout=5000)
    assert harness.worker.concurrency == 700  # showing it did not write anything back


def test_status_bar_counts_by_state(window, harness, qtbot):
    ids = [harness.enqueue("test.steps", {"steps": 1}) for _ in range(3)]
    for job_id in ids:
        wait_state(qtbot, harness, job_id, "succeeded")
    qtbot.waitUntil(lambda: window.summary.labels["succeeded"].text() == "3", timeout=5000)
    qtbot.waitUntil(lambda: window.summary.rate.text() == "3 finished/min", timeout=5000)


def test_keyboard_shortcuts_and_accessible_names(window, qtbot):
    qtbot.keyClick(window, Qt.Key.Key_F, Qt.KeyboardModifier.ControlModifier)
    assert window.filter_bar.search.hasFocus()
    qtbot.keyClick(window, Qt.Key.Key_2, Qt.KeyboardModifier.ControlModifier)
    assert window.queues_panel.workers_spin.hasFocus()
    qtbot.keyClick(window, Qt.Key.Key_1, Qt.KeyboardModifier.ControlModifier)
    assert window.table.hasFocus()
    qtbot.keyClick(window, Qt.Key.Key_N, Qt.KeyboardModifier.ControlModifier)
    dialog = window.findChild(NewJobDialog, "newJobDialog")
    assert dialog is not None and dialog.isVisible()
    dialog.reject()
    for action in window.job_actions.all_actions():
        assert not action.shortcut().isEmpty(), action.text()
    unnamed = []
    for widget in window.findChildren(QAbstractButton) + window.findChildren(QComboBox) + \
            window.findChildren(QSpinBox) + window.findChildren(QLineEdit):  # fmt: skip
        inner = isinstance(widget.parent(), QComboBox | QAbstractSpinBox)  # Qt's own line edit inside
        if not widget.isVisibleTo(window) or inner or widget.focusPolicy() == Qt.FocusPolicy.NoFocus:
            continue
        if not (widget.accessibleName() or (isinstance(widget, QAbstractButton) and widget.text())):
            unnamed.append(f"{type(widget).__name__} {widget.objectName()}")
    assert unnamed == [], unnamed


def test_context_menu_holds_the_job_actions(window):
    menu = window.job_actions.context_menu()
    texts = [a.text() for a in menu.actions() if not a.isSeparator()]
    assert texts == ["&Cancel", "&Kill", "E&xtend", "&Retry", "Retry with &dependents", "&Edit…", "&Move to front", "D&uplicate…",
                     "&Delete", "&New job…", "New job &after this one…", "C&lear finished"]  # fmt: skip
    window.table.customContextMenuRequested.emit(QPoint(10, 10))  # pops up without blocking


def test_a_live_table_keeps_a_bounded_number_of_rows(window, harness, qtbot, monkeypatch):
    from acacia_gui.core.context import Context
    from acacia_gui.core.job import Job
    from acacia_gui.gui import main_window

    monkeypatch.setattr(main_window, "MAX_HELD_ROWS", 60)
    harness.queue.pause("default")
    last = 0
    for _ in range(10):  # arrivals in several batches, as a live stream would come
        last = harness.queue.enqueue_many(Context.background(), [Job("test.steps", {"steps": 1}) for _ in range(100)])[-1]
        qtbot.waitUntil(lambda last=last: window.model.row_of(last) == 0, timeout=5000)
    held = window.model.rowCount()
    assert held <= 60 + 3 * window.model.page_size < 1000  # the tail far below the view was dropped
    assert window.table.verticalScrollBar().value() == 0  # still at the top, watching new jobs arrive
    window.table.scrollToBottom()  # scrolling down reads the dropped rows again
    qtbot.waitUntil(lambda: window.model.rowCount() > held, timeout=5000)


def test_jobs_another_process_writes_appear_without_refresh(window, harness, qtbot):
    from acacia_gui.core.context import Context
    from acacia_gui.core.job import Job
    from acacia_gui.core.queue import JobQueue
    from acacia_gui.store.sqlite import SqliteJobStore

    shown = harness.enqueue("test.gate", {})
    qtbot.waitUntil(lambda: state_in_table(window, shown) == "running", timeout=5000)
    other = SqliteJobStore(harness.config.database)  # a second connection, as the CLI's no-app fallback uses
    try:
        other.set_queue_paused("elsewhere", True)
        (new_id,) = JobQueue(other, harness.registry).enqueue_many(
            Context.background(), [Job("test.steps", {"steps": 1}, queue="elsewhere")], source="cli")
        qtbot.waitUntil(lambda: state_in_table(window, new_id) == "queued", timeout=5000)
        other.cancel_job(shown, "cli")  # a cancel request from the other process reaches the running job
        qtbot.waitUntil(lambda: state_in_table(window, shown) == "cancelled", timeout=5000)
    finally:
        other.close()


def test_history_follows_the_selected_job(window, harness, qtbot):
    harness.queue.pause("default")
    first, second = harness.enqueue("test.steps", {"steps": 1}), harness.enqueue("test.steps", {"steps": 1})
    harness.queue.cancel(first, source="gui")
    harness.queue.cancel(second, source="cli")  # same number of events as the first
    qtbot.waitUntil(lambda: state_in_table(window, second) == "cancelled", timeout=5000)

    def sources() -> list[str]:
        tree = window.details.history
        return [tree.topLevelItem(i).text(1) for i in range(tree.topLevelItemCount())]

    window.table.select_job(first)
    qtbot.waitUntil(lambda: sources()[-1:] == ["gui"], timeout=5000)
    window.table.select_job(second)
    qtbot.waitUntil(lambda: sources()[-1:] == ["cli"], timeout=5000)
    harness.queue.resume("default")
