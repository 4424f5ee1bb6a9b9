"""The Instances tab (Ctrl+5) and the Settings dialog's Database field.

Real widgets over real stores: the GUI harness's SQLite store with its running PoolWorker, and a
fresh PostgreSQL database (tests/support/postgres_server.py, as the contract suite makes one)
where two PostgresJobStore objects register an instance each through register_instance, as two
`acacia serve` processes would: the advisory lock, then the row. Waits poll conditions.
"""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator

import pytest
from PySide6.QtCore import QSettings
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QDialogButtonBox

from acacia_gui.gui.background import BackgroundReader
from acacia_gui.gui.dialogs.settings_database import DATABASE_KEY, stored_database
from acacia_gui.gui.instances.model import InstanceColumn, heartbeat_text
from acacia_gui.gui.instances.view import InstancesView
from acacia_gui.gui.main_window import INSTANCES_TAB, JOBS_TAB
from tests.contract.helpers import add, claim
from tests.support.postgres_server import server_or_skip


def cell(view: InstancesView, row: int, column: InstanceColumn) -> str:
    return view.model.index(row, column).data()


def test_heartbeat_text():
    assert [heartbeat_text(a) for a in (None, 0.2, 2.4, 59.9, 61, 7300)] == [
        "?", "now", "2 s ago", "59 s ago", "1 min ago", "2 h ago"]  # fmt: skip


def test_sqlite_shows_this_app_and_its_running_job(window, harness, qtbot):
    assert window.tabs.tabText(INSTANCES_TAB) == "Instances"
    focus = next(a for a in window.findChildren(QAction) if a.shortcut().toString() == "Ctrl+5")  # View ▸ Instances
    focus.trigger()
    assert window.tabs.currentIndex() == INSTANCES_TAB
    view = window.instances_view
    qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=5000)
    me = f"{socket.gethostname()}:{os.getpid()}"
    assert cell(view, 0, InstanceColumn.INSTANCE) == f"{me}  (this app)"
    assert cell(view, 0, InstanceColumn.HEARTBEAT).endswith(("now", "s ago"))
    assert cell(view, 0, InstanceColumn.JOBS) == "—"
    job_id = harness.enqueue("test.gate")
    qtbot.waitUntil(lambda: cell(view, 0, InstanceColumn.JOBS) == str(job_id), timeout=8000)  # the 2 s timer
    assert cell(view, 0, InstanceColumn.RUNNING) == "1"
    assert "1 live instance on " in view.summary.text() and "1 job running" in view.summary.text()
    view.table.clicked.emit(view.model.index(0, InstanceColumn.JOBS))  # a click on the job id shows it
    assert window.tabs.currentIndex() == JOBS_TAB
    qtbot.waitUntil(lambda: window.details.job_id == job_id, timeout=5000)
    assert f"on {me}" in window.details.header.text()  # the details pane names the instance running it
    assert "ran on" not in window.details.header.text()
    harness.queue.cancel(job_id, source="gui")
    qtbot.waitUntil(lambda: harness.store.get_job(job_id).state == "cancelled", timeout=8000)
    assert harness.store.get_job(job_id).ran_on == me
    qtbot.waitUntil(lambda: f"ran on {me}" in window.details.header.text(), timeout=8000)  # and once it ended


@pytest.fixture
def postgres_url() -> Iterator[str]:
    server = server_or_skip()
    with server.database() as url:
        yield url


def test_postgres_shows_both_instances_and_drops_one_that_stops(postgres_url, tmp_path, qtbot):
    from acacia_gui.store.postgres.store import PostgresJobStore

    first = PostgresJobStore(postgres_url, min_size=1, max_size=4)
    second = PostgresJobStore(postgres_url, min_size=1, max_size=4)
    reader = BackgroundReader()
    try:
        first.register_instance("machine-a")
        second.register_instance("machine-b")
        add(first, 3)
        running_a = [job.id for job in claim(first, 2, instance="machine-a")]
        running_b = [job.id for job in claim(second, 1, instance="machine-b")]
        view = InstancesView(first, tmp_path / "instances", reader, "postgresql://test/db")
        qtbot.addWidget(view)
        view.resize(900, 300)
        view.show()
        qtbot.waitUntil(lambda: view.model.rowCount() == 2, timeout=5000)
        ids = {view.model.entry(row)["id"]: row for row in range(2)}
        assert set(ids) == {"machine-a", "machine-b"}
        assert cell(view, ids["machine-a"], InstanceColumn.JOBS) == ", ".join(map(str, sorted(running_a)))
        assert cell(view, ids["machine-b"], InstanceColumn.JOBS) == str(running_b[0])
        assert view.summary.text().startswith("2 live instances on postgresql://test/db · 3 jobs running")
        activated: list[int] = []
        view.job_activated.connect(activated.append)
        view.table.clicked.emit(view.model.index(ids["machine-a"], InstanceColumn.JOBS))  # two jobs: a menu
        menu = view.jobs_menu
        assert [a.text() for a in menu.actions()] == [f"Show job {j}" for j in sorted(running_a)]
        menu.actions()[1].trigger()
        assert activated == [sorted(running_a)[1]]
        menu.close()
        second.close()  # machine-b's process goes: its advisory lock is released with its connection
        qtbot.waitUntil(lambda: view.model.rowCount() == 1, timeout=8000)
        assert view.model.entry(0)["id"] == "machine-a"
        assert view.summary.text().startswith("1 live instance on ")
    finally:
        reader.stop()
        second.close()
        first.close()


# -- the Settings dialog's Database field ------------------------------------------------------
def open_settings(window, qtbot):
    window.settings_action.trigger()
    dialog = window.settings_controller.dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    return dialog


def ok_button(dialog):
    return dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok)


def test_database_field_refuses_a_bad_url_and_saves_a_good_one(window, settings, qtbot):
    dialog = open_settings(window, qtbot)
    field = dialog.database
    assert field.edit.text() == "" and ok_button(dialog).isEnabled()  # empty: the SQLite file
    assert "next start" in field.note.text()
    for bad in ("postgresql://u@db.lan/acacia?nosuchoption=1", "postgresql://[::1/acacia", "postgresq://db.lan/acacia",
                "host=db.lan dbname=acacia"):  # fmt: skip
        field.edit.setText(bad)
        assert not field.valid and field.problem.isVisibleTo(dialog) and field.problem.text(), bad
        assert not ok_button(dialog).isEnabled()
    dialog.accept()  # Enter in the dialog: refused too
    assert dialog.isVisible() and QSettings(settings.fileName(), QSettings.Format.IniFormat).value(DATABASE_KEY) is None
    url = "postgresql://acacia:s3cret@db.lan:5433/acacia?sslmode=verify-full"
    field.edit.setText(url)
    assert field.valid and not field.problem.isVisibleTo(dialog) and ok_button(dialog).isEnabled()
    assert "saved in clear" in field.note.text() and "pgpass" in field.note.text()
    ok_button(dialog).click()
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
    fresh = QSettings(settings.fileName(), QSettings.Format.IniFormat)
    assert fresh.value(DATABASE_KEY) == url and stored_database(fresh) == url  # as typed: the app connects with it

    again = open_settings(window, qtbot)
    shown = again.database.edit.text()
    assert "s3cret" not in shown and shown.startswith("postgresql://acacia@db.lan:5433/acacia")  # never in clear
    assert "sslmode=verify-full" in shown and "~/.pgpass" in again.database.note.text()
    ok_button(again).click()  # unchanged: the stored URL (password included) stays
    qtbot.waitUntil(lambda: not again.isVisible(), timeout=5000)
    assert QSettings(settings.fileName(), QSettings.Format.IniFormat).value(DATABASE_KEY) == url

    last = open_settings(window, qtbot)
    last.database.edit.clear()  # back to the SQLite file
    ok_button(last).click()
    qtbot.waitUntil(lambda: not last.isVisible(), timeout=5000)
    fresh = QSettings(settings.fileName(), QSettings.Format.IniFormat)
    assert fresh.value(DATABASE_KEY) is None and stored_database(fresh) is None
