"""SettingsController: opens the Settings dialog and applies the preferences to a MainWindow.

Applied at start and on OK: the theme (live, to the whole application), the tray's
notification choices, the number of workers (through the queues panel, which keeps the
same QSettings key), and the retention sweeper's number of days.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QApplication, QMainWindow

from .dialogs.settings_dialog import SettingsDialog
from .live import ChangeBatch
from .preferences import CLOSE_TO_TRAY_KEY, CONFIRM_QUIT_KEY, Preferences, RetentionSweeper, ThemeSwitcher, read_preferences

MAX_SUCCESS_READS = 200  # succeeded jobs read per batch to check their duration


class SettingsController(QObject):
    """Owned by the window; `preferences` is what is in force now."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self._window: Any = window
        app = QApplication.instance()
        self.theme = ThemeSwitcher(app) if isinstance(app, QApplication) else None
        self.retention = RetentionSweeper(window.services.queue, window.services.store, self)
        self.retention.swept.connect(lambda n: self._window.show_message(f"Deleted {n:,} finished job(s) past the "
                                                                         "retention period."))  # fmt: skip
        self.preferences = Preferences()
        self.dialog: SettingsDialog | None = None

    def apply_stored(self) -> None:
        """At start: the stored preferences (workers are restored by window_state)."""
        self.apply(read_preferences(self._window.settings), workers=False)

    def apply(self, prefs: Preferences, workers: bool = True) -> None:
        self.preferences = prefs
        if self.theme is not None:
            self.theme.apply(prefs.theme)
        self._window.tray.preferences = prefs
        if workers and prefs.workers > 0:
            self._window.queues_panel.set_workers(prefs.workers)
        if prefs.keep_days != self.retention.keep_days:
            self.retention.set_keep_days(prefs.keep_days)

    def open_dialog(self) -> SettingsDialog:
        w = self._window
        dialog = SettingsDialog(w.settings, w, workers=w.queues_panel.workers_spin.value(),
                                tray_available=w.tray.available)  # fmt: skip
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.applied.connect(self.apply)
        dialog.open()
        self.dialog = dialog
        return dialog

    def on_batch(self, batch: ChangeBatch) -> None:
        """Long-success notifications: read the durations of the jobs that just succeeded."""
        if not batch.succeeded or not self.preferences.notify_long_success:
            return
        jobs = self._window.services.store.list_jobs(ids=batch.succeeded[:MAX_SUCCESS_READS], preview=True)
        self._window.tray.notify_long_successes(jobs)

    def remember_close_answer(self, key: str) -> None:
        """The close question's "Don't ask again": "stop" quits from now on, "tray" keeps running in the tray."""
        settings = self._window.settings
        if key == "tray":
            self.preferences.close_to_tray = True
            settings.setValue(CLOSE_TO_TRAY_KEY, True)
        else:
            self.preferences.confirm_quit = False
            settings.setValue(CONFIRM_QUIT_KEY, False)
        settings.sync()

    def stop(self) -> None:
        self.retention.stop()
