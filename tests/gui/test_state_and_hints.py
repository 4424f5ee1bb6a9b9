"""Issue 11, defect 8: state that was lost or confusing (workers, running counts, queue wording,
filter hints, the Error tab, number and date formatting)."""

from __future__ import annotations

import json
import time

from PySide6.QtCore import Qt

from acacia_gui.gui.formatting import format_full_time, format_table_time
from acacia_gui.gui.main_window import MainWindow
from acacia_gui.gui.models.columns import JobColumn
from acacia_gui.gui.models.job_filter import JobFilter
from acacia_gui.gui.stats import Stats
from acacia_gui.gui.widgets.queues_panel import counts_text

from .helpers import state_in_table


def test_workers_value_survives_a_restart(window, harness, settings, qtbot):
    window.queues_panel.workers_spin.setValue(3)
    assert harness.worker.concurrency == 3
    window.dispose()  # saves the settings, as closing the app does
    harness.worker.set_concurrency(2)  # a new app starts with its default
    second = MainWindow(harness.services, on_quit=lambda: None, settings=settings)
    qtbot.addWidget(second)
    try:
        assert second.queues_panel.workers_spin.value() == 3
        assert harness.worker.concurrency == 3
    finally:
        second.dispose()


def test_claimed_ahead_jobs_are_starting_not_running(window, harness, qtbot):
    harness.queue.pause("default")
    ids = [harness.enqueue("test.steps", {"steps": 1}) for _ in range(5)]
    with harness.store.db.write() as conn:  # what a claim-ahead leaves: `running`, handler not started
        conn.execute(f"UPDATE jobs SET state = 'running', instance_id = ?, started_at = NULL"
                     f" WHERE id IN ({','.join('?' * 5)})", (harness.worker.instance_id, *ids))  # fmt: skip
        conn.execute("UPDATE jobs SET started_at = ? WHERE id IN (?, ?, ?, ?)", (time.time(), *ids[:4]))
    assert harness.store.starting_by_queue() == {"default": 1}
    assert counts_text({"running": 5, "queued": 2}, starting=1) == "4 running · 1 starting · 2 queued"
    assert counts_text({"running": 1}, starting=1) == "1 starting"
    window.stats.request()
    card = window.queues_panel.cards["default"]
    qtbot.waitUntil(lambda: card.counts.text().startswith("4 running · 1 starting"), timeout=5000)
    with harness.store.db.write() as conn:  # let the worker forget them: they are not really claimed
        conn.execute("DELETE FROM jobs")


def test_an_idle_queue_is_active_like_the_cli_says(window, harness, qtbot):
    harness.enqueue("test.steps", {"steps": 1})
    window.stats.refresh_now()
    card = window.queues_panel.cards["default"]
    assert card.status.text() == "Active"
    harness.queue.pause("default")
    qtbot.waitUntil(lambda: card.status.text() == "Paused", timeout=5000)


def test_a_remembered_filter_that_hides_every_job_says_so(harness, settings, qtbot):
    harness.enqueue("test.steps", {"steps": 1, "label": "alpha"})
    settings.setValue("jobs/filter", json.dumps(JobFilter(search="no-such-job").to_settings()))
    window = MainWindow(harness.services, on_quit=lambda: None, settings=settings)
    qtbot.addWidget(window)
    window.show()
    qtbot.waitExposed(window)
    try:
        assert window.model.rowCount() == 0
        hint = window.filter_hint
        assert hint.isVisible() and "clear the filter" in hint.text()
        assert window.table.viewport().rect().contains(hint.geometry())
        hint.linkActivated.emit("clear")
        assert window.filter_bar.current_filter().is_empty
        qtbot.waitUntil(lambda: window.model.rowCount() == 1, timeout=5000)
        assert not hint.isVisible()
    finally:
        window.dispose()


def test_a_new_job_hidden_by_the_search_is_announced(window, harness, qtbot):
    harness.queue.pause("default")
    window.filter_bar.set_filter(JobFilter(search="alpha"))
    shown = harness.enqueue("test.steps", {"steps": 1, "label": "alpha"})
    qtbot.waitUntil(lambda: window.model.row_of(shown) >= 0, timeout=5000)
    assert "hidden" not in window.statusBar().currentMessage()
    hidden = harness.enqueue("test.steps", {"steps": 1, "label": "beta"})
    qtbot.waitUntil(lambda: f"Job {hidden} was enqueued but is hidden by the filter" in
                    window.statusBar().currentMessage(), timeout=5000)  # fmt: skip


def test_a_failed_job_opens_on_its_error(window, harness, qtbot, tmp_path):
    marker = tmp_path / "marker"
    marker.write_text("x")
    ok = harness.enqueue("test.steps", {"steps": 1})
    failed = harness.enqueue("test.flaky", {"marker": str(marker)})
    qtbot.waitUntil(lambda: state_in_table(window, failed) == "failed" and state_in_table(window, ok) == "succeeded",
                    timeout=5000)  # fmt: skip
    window.table.select_job(ok)
    assert window.details.tabs.currentIndex() == 0
    window.table.select_job(failed)
    assert window.details.tabs.currentWidget() is window.details.error
    window.table.select_job(ok)
    assert window.details.tabs.currentIndex() == 0  # an empty Error tab is not kept


def test_the_tray_groups_digits_like_the_rest(window):
    window.tray.update_stats(Stats(counts={"queued": 17206, "running": 4}))
    tooltip = window.tray.tray.toolTip()
    assert "17,206 queued" in tooltip and "17206" not in tooltip


def test_created_shows_the_date_unless_today_and_the_full_time_in_its_tooltip(window, harness, qtbot):
    now = time.time()
    yesterday = now - 86400
    assert format_table_time(now, now) == time.strftime("%H:%M", time.localtime(now))
    assert time.strftime("%b", time.localtime(yesterday)) in format_table_time(yesterday, now)
    assert format_table_time(now - 400 * 86400, now).startswith(time.strftime("%Y-", time.localtime(now - 400 * 86400)))
    harness.queue.pause("default")
    job_id = harness.enqueue("test.steps", {"steps": 1})
    with harness.store.db.write() as conn:
        conn.execute("UPDATE jobs SET created_at = ? WHERE id = ?", (yesterday, job_id))
    window.refresh()
    qtbot.waitUntil(lambda: window.model.row_of(job_id) >= 0, timeout=5000)
    index = window.model.index(window.model.row_of(job_id), JobColumn.CREATED)
    assert index.data() == format_table_time(yesterday)
    assert time.strftime("%b", time.localtime(yesterday)) in index.data()
    assert index.data(Qt.ItemDataRole.ToolTipRole) == format_full_time(yesterday)
