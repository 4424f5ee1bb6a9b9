"""Closing, quitting, raising, remembering settings, dropping files, tray notifications."""

from __future__ import annotations

import time

from PySide6.QtCore import QMimeData, QPoint, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from acacia_gui.core.events import JobEvent
from acacia_gui.gui.live import ChangeBatch
from acacia_gui.gui.main_window import MainWindow
from acacia_gui.gui.models.columns import JobColumn
from acacia_gui.gui.models.job_filter import JobFilter
from acacia_gui.gui.stats import Stats
from acacia_gui.gui.tray.tray_icon import TrayIcon
from acacia_gui.store.sqlite import QueueInfo

from .helpers import answer, state_in_table


def test_close_with_running_jobs_asks_and_stop_quits(window, harness, qtbot, quit_calls):
    job_id = harness.enqueue("test.gate", {})
    qtbot.waitUntil(lambda: harness.job(job_id).state == "running", timeout=5000)
    window.close()
    answer(qtbot, "closeQuestion", "cancel")
    assert window.isVisible() and quit_calls == []
    window.close()
    answer(qtbot, "closeQuestion", "stop")
    assert quit_calls == [1]


def test_close_with_nothing_running_quits(window, quit_calls):
    window.close()
    assert quit_calls == [1]
    window.quit()  # Quit twice: on_quit still runs once
    assert quit_calls == [1]


def test_quit_action_calls_on_quit(window, qtbot, quit_calls):
    qtbot.keyClick(window, Qt.Key.Key_Q, Qt.KeyboardModifier.ControlModifier)
    assert quit_calls == [1]


def test_raise_requested_shows_the_window(window, harness, qtbot):
    window.hide()
    harness.services.raise_window()
    qtbot.waitUntil(window.isVisible, timeout=5000)


def test_settings_restore_filter_columns_and_splitters(harness, settings, qtbot):
    first = MainWindow(harness.services, on_quit=lambda: None, settings=settings)
    qtbot.addWidget(first)
    first.resize(760, 560)  # inside the offscreen screen (800x600), so restoreGeometry keeps it as is
    first.show()
    first.filter_bar.set_filter(JobFilter(states=("failed",), search="needle"))
    first.table.setColumnWidth(JobColumn.TYPE, 333)
    first.table.sortByColumn(JobColumn.QUEUE, Qt.SortOrder.AscendingOrder)
    first.main_splitter.setSizes([170, 580])
    first_sizes = first.main_splitter.sizes()
    first.tabs.setCurrentIndex(1)
    first.dispose()  # saves
    second = MainWindow(harness.services, on_quit=lambda: None, settings=settings)
    qtbot.addWidget(second)
    second.show()
    try:
        assert second.filter_bar.current_filter() == JobFilter(states=("failed",), search="needle")
        assert second.model.job_filter == JobFilter(states=("failed",), search="needle")
        assert second.table.columnWidth(JobColumn.TYPE) == 333
        assert second.model.sort_column == JobColumn.QUEUE
        assert second.main_splitter.sizes() == first_sizes, (second.main_splitter.sizes(), first_sizes)
        assert second.tabs.currentIndex() == 1
    finally:
        second.dispose()


def test_corrupt_settings_do_not_stop_the_window(harness, settings, qtbot):
    settings.setValue("jobs/filter", "{not json")
    settings.setValue("window/geometry", "garbage")
    settings.setValue("window/tab", "seven")
    win = MainWindow(harness.services, on_quit=lambda: None, settings=settings)
    qtbot.addWidget(win)
    try:
        assert win.model.job_filter == JobFilter()
    finally:
        win.dispose()


def test_dropped_files_become_one_job_each(window, harness, qtbot, tmp_path):
    files = [tmp_path / "a.txt", tmp_path / "b.txt"]
    for path in files:
        path.write_text("data")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in files])
    where, action, no_button, no_key = QPoint(200, 200), Qt.DropAction.CopyAction, Qt.MouseButton.NoButton, \
        Qt.KeyboardModifier.NoModifier  # fmt: skip
    enter = QDragEnterEvent(where, action, mime, no_button, no_key)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()  # offered, since a handler takes a path
    QApplication.sendEvent(window, QDropEvent(where, action, mime, no_button, no_key))
    dialog = window.drop_dialog
    assert dialog.isVisible()
    assert [h.job_type for h, _prop in dialog.choices] == ["test.file"]  # only handlers taking a path
    dialog.accept()
    assert len(dialog.job_ids) == 2
    payloads = sorted(harness.job(i).payload["path"] for i in dialog.job_ids)
    assert payloads == sorted(str(p) for p in files)
    for job_id in dialog.job_ids:
        qtbot.waitUntil(lambda job_id=job_id: state_in_table(window, job_id) == "succeeded", timeout=5000)


def test_tray_notifies_failures_once_per_burst_and_drained_queues(qtbot):
    tray = TrayIcon(QApplication.windowIcon())
    notes: list[tuple[str, str]] = []
    tray.notified.connect(lambda title, text: notes.append((title, text)))
    tray.on_batch(ChangeBatch(failed=[JobEvent("state", 7, "default", "failed", {"error": "boom\ntrace"})]))
    assert notes == [("Job 7 failed", "boom")]
    burst = [JobEvent("state", i, "default", "failed", {"error": "x"}) for i in range(10, 15)]
    tray.on_batch(ChangeBatch(failed=burst))
    qtbot.waitUntil(lambda: len(notes) == 2, timeout=5000)  # held back, then one message for the burst
    assert notes[1][0] == "5 jobs failed"

    def stats(active: int) -> Stats:
        counts = {"queued": active, "succeeded": 4}
        return Stats(counts, 0, [QueueInfo("default", 0, False, counts)], time.time())

    tray.update_stats(stats(3))  # the first numbers only set the baseline
    tray.update_stats(stats(1))
    assert len(notes) == 2
    tray.update_stats(stats(0))
    assert notes[-1][0] == "Queue “default” is done"
    assert "1 queued" not in tray.tray.toolTip() and tray.tray.toolTip().startswith("Acacia")
    tray.hide()


def test_notifications_reach_the_status_bar_without_a_tray(window, harness, qtbot, tmp_path):
    marker = tmp_path / "m"
    marker.write_text("x")
    job_id = harness.enqueue("test.flaky", {"marker": str(marker)})
    qtbot.waitUntil(lambda: f"Job {job_id} failed" in window.statusBar().currentMessage(), timeout=5000)
