"""Settings (Ctrl+,): the round trip through QSettings, live theme, workers, retention, "don't ask again";
and the Help menu's dialogs."""

from __future__ import annotations

import sqlite3
import time
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QPalette
from PySide6.QtWidgets import QApplication, QDialogButtonBox, QLineEdit, QPushButton

from acacia_gui.gui.dialogs.help_dialogs import FoldersDialog, config_folders, plugin_section, read_doc
from acacia_gui.gui.dialogs.settings_dialog import SettingsDialog
from acacia_gui.gui.preferences import read_preferences

from .helpers import answer


def open_settings(window, qtbot) -> SettingsDialog:
    window.settings_action.trigger()
    dialog = window.settings_controller.dialog
    qtbot.waitUntil(dialog.isVisible, timeout=5000)
    return dialog


def press_ok(dialog: SettingsDialog) -> None:
    dialog.findChild(QDialogButtonBox).button(QDialogButtonBox.StandardButton.Ok).click()


def test_settings_round_trip(window, settings, qtbot):
    assert window.settings_action.shortcut().toString() == "Ctrl+,"
    dialog = open_settings(window, qtbot)
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    dialog.close_to_tray.setChecked(True)
    dialog.confirm_quit.setChecked(False)
    dialog.notify_failure.setChecked(False)
    dialog.notify_success.setChecked(True)
    dialog.success_minutes.setValue(25)
    dialog.notify_queue_empty.setChecked(False)
    dialog.workers_spin.setValue(5)
    dialog.keep_days.setValue(30)
    try:
        press_ok(dialog)
        qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=5000)
        fresh = QSettings(settings.fileName(), QSettings.Format.IniFormat)  # what is on disk
        assert fresh.value("appearance/theme") == "dark"
        prefs = read_preferences(fresh)
        assert (prefs.close_to_tray, prefs.confirm_quit, prefs.notify_failure, prefs.notify_long_success,
                prefs.long_success_minutes, prefs.notify_queue_empty, prefs.workers, prefs.keep_days) == (
            True, False, False, True, 25, False, 5, 30)  # fmt: skip
        assert window.tray.preferences.notify_failure is False  # applied to the tray
        again = open_settings(window, qtbot)
        assert again.theme_combo.currentData() == "dark"
        assert again.close_to_tray.isChecked() and not again.confirm_quit.isChecked()
        assert not again.notify_failure.isChecked() and again.notify_success.isChecked()
        assert again.success_minutes.value() == 25 and not again.notify_queue_empty.isChecked()
        assert again.workers_spin.value() == 5 and again.keep_days.value() == 30
        again.reject()
    finally:
        window.settings_controller.theme.apply("system")


def test_theme_applies_live(window, qtbot):
    app = QApplication.instance()
    before = app.palette().color(QPalette.ColorRole.Window).lightness()
    dialog = open_settings(window, qtbot)
    dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("dark"))
    try:
        press_ok(dialog)
        qtbot.waitUntil(lambda: window.palette().color(QPalette.ColorRole.Window).lightness() < 80, timeout=5000)
        image = window.table.viewport().grab().toImage()
        assert image.pixelColor(5, image.height() - 5).lightness() < 80
        dialog = open_settings(window, qtbot)
        dialog.theme_combo.setCurrentIndex(dialog.theme_combo.findData("system"))
        press_ok(dialog)
        qtbot.waitUntil(lambda: app.palette().color(QPalette.ColorRole.Window).lightness() == before, timeout=5000)
    finally:
        window.settings_controller.theme.apply("system")


def test_workers_agree_with_the_queues_panel(window, settings, qtbot):
    window.queues_panel.workers_spin.setValue(3)
    dialog = open_settings(window, qtbot)
    assert dialog.workers_spin.value() == 3  # the dialog shows the panel's live value
    dialog.workers_spin.setValue(6)
    press_ok(dialog)
    qtbot.waitUntil(lambda: window.queues_panel.workers_spin.value() == 6, timeout=5000)
    assert int(settings.value("queues/workers")) == 6
    window.save_settings()  # the panel writes the same key
    assert int(settings.value("queues/workers")) == 6


def test_retention_deletes_old_finished_jobs_only(window, harness, qtbot):
    old = harness.enqueue("test.steps", {"steps": 1, "delay": 0})
    new = harness.enqueue("test.steps", {"steps": 1, "delay": 0})
    queued = harness.enqueue("test.gate", {}, queue="held")
    marker = harness.config.data_dir / "fail-marker"
    marker.write_text("x")
    failed = harness.enqueue("test.flaky", {"marker": str(marker)}, max_attempts=1)
    harness.queue.pause("held")
    qtbot.waitUntil(lambda: harness.job(old).state == "succeeded" and harness.job(new).state == "succeeded"
                    and harness.job(failed).state == "failed", timeout=10000)  # fmt: skip
    with sqlite3.connect(harness.config.database) as db:  # finished 3 days ago
        db.execute("UPDATE jobs SET finished_at = ? WHERE id IN (?, ?)", (time.time() - 3 * 86400, old, failed))
    dialog = open_settings(window, qtbot)
    dialog.keep_days.setValue(2)
    press_ok(dialog)
    qtbot.waitUntil(lambda: harness.store.get_job(old) is None, timeout=5000)
    assert harness.job(new).state == "succeeded"
    assert harness.job(failed).state == "failed"  # failed jobs stay until the user acts (--keep-failed)
    assert harness.services.pruner.policy.keep_finished == 2 * 86400
    assert harness.store.get_job(queued) is not None
    qtbot.waitUntil(lambda: window.model.row_of(old) < 0, timeout=5000)  # announced like any deletion


def test_dont_ask_again_is_remembered(window, harness, settings, qtbot, quit_calls):
    job_id = harness.enqueue("test.gate", {})
    qtbot.waitUntil(lambda: harness.job(job_id).state == "running", timeout=5000)
    window.close()
    answer(qtbot, "closeQuestion", "cancel")  # cancel never remembers
    assert read_preferences(settings).confirm_quit is True
    window.close()
    box = next(w for w in QApplication.topLevelWidgets() for w in [w, *w.findChildren(object)]
               if getattr(w, "objectName", lambda: "")() == "closeQuestion" and w.isVisible())  # fmt: skip
    box.checkBox().setChecked(True)
    answer(qtbot, "closeQuestion", "stop")
    assert quit_calls == [1]
    fresh = QSettings(settings.fileName(), QSettings.Format.IniFormat)
    assert read_preferences(fresh).confirm_quit is False


def test_no_question_when_told_not_to_ask(harness, settings, qtbot, quit_calls):
    from acacia_gui.gui.main_window import MainWindow

    settings.setValue("window/confirmQuit", False)
    win = MainWindow(harness.services, on_quit=lambda: quit_calls.append(1), settings=settings)
    qtbot.addWidget(win)
    win.show()
    job_id = harness.enqueue("test.gate", {})
    qtbot.waitUntil(lambda: harness.job(job_id).state == "running", timeout=5000)
    win.close()
    assert quit_calls == [1]
    win.dispose()


# -- Help menu ----------------------------------------------------------------------------------------
def help_entries(window):
    menu = next(a.menu() for a in window.menuBar().actions() if a.text().replace("&", "") == "Help")
    return {a.objectName(): a for a in menu.actions() if a.objectName()}


def test_help_menu_entries_open_their_dialogs(window, qtbot):
    entries = help_entries(window)
    expected = {"userGuide": "userGuideDialog", "writingPlugins": "writingPluginsDialog", "protocol": "protocolDialog",
                "folders": "foldersDialog", "about": "aboutDialog"}  # fmt: skip
    for name, dialog_name in expected.items():
        entries[f"{name}Action"].trigger()
        dialog = window.help_dialogs[name]
        qtbot.waitUntil(dialog.isVisible, timeout=5000)
        assert dialog.objectName() == dialog_name
    guide = window.help_dialogs["userGuide"].browser.toPlainText()
    assert "Writing a handler plugin" in guide and "acacia enqueue" in guide
    assert "@handler" in window.help_dialogs["writingPlugins"].browser.toPlainText()
    assert "socket protocol" in window.help_dialogs["protocol"].browser.toPlainText()
    about = window.help_dialogs["about"].label.text()
    assert "Qt " in about and "Python " in about and "MIT" in about
    for dialog in list(window.help_dialogs.values()):
        dialog.close()


def test_folders_dialog_lists_the_config_paths_and_opens_them(harness, qtbot):
    opened = []
    dialog = FoldersDialog(harness.config, opener=opened.append)
    qtbot.addWidget(dialog)
    shown = set(dialog.paths.values())
    assert {harness.config.data_dir, harness.config.plugins_dir, Path(harness.config.socket_address).parent} <= shown
    texts = {w.text() for w in dialog.findChildren(QLineEdit)}
    assert str(harness.config.data_dir) in texts and str(harness.config.plugins_dir) in texts
    dialog.findChild(QPushButton, "open1").click()
    assert opened and opened[0].toLocalFile() == str(harness.config.plugins_dir)
    assert [label for label, _ in config_folders(harness.config)][:2] == ["Data (database)", "Plugins"]


def test_plugin_help_falls_back_to_built_in_text():
    assert "@handler" in plugin_section(None)
    assert read_doc("no/such/file.md") is None
