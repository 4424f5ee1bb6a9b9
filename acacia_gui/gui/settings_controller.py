"""SettingsController: opens the Settings dialog and applies the preferences to a MainWindow.

Applied at start and on OK: the theme (live, to the whole application), the tray's
notification choices, the number of workers (through the queues panel, which keeps the
same QSettings key), and the retention policy's days (engine/pruner.py; --keep-finished wins).
"""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from PySide6.QtCore import QObject, Qt
from PySide6.QtWidgets import QApplication, QMainWindow

from ..engine.pruner import Pruner
from .dialogs.settings_dialog import SettingsDialog
from .live import ChangeBatch
from .preferences import CLOSE_TO_TRAY_KEY, CONFIRM_QUIT_KEY, Preferences, ThemeSwitcher, read_preferences

MAX_SUCCESS_READS = 200  # succeeded jobs read per batch to check their duration


class SettingsController(QObject):
    """Owned by the window; `preferences` is what is in force now."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self._window: Any = window
        app = QApplication.instance()
        self.theme = ThemeSwitcher(app) if isinstance(app, QApplication) else None
        self.retention: Pruner | None = getattr(window.services, "pruner", None)  # engine/pruner.py, made by app.py
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
        pruner = self.retention
        if pruner is not None and not getattr(self._window.services, "keep_finished_flag", False):
            keep = prefs.keep_days * 86400 if prefs.keep_days else None  # the flag/env wins for its run
            pruner.set_policy(replace(pruner.policy, keep_finished=keep))

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
        """The pruner belongs to the app (app.py stops it); nothing of the window's to stop."""
