"""SettingsDialog (Ctrl+,): theme, closing, notifications, workers, retention, database — saved in QSettings on OK.

The dialog only reads and writes Preferences (gui/preferences.py); the window applies
them when `applied` is emitted (theme live, tray policy, workers, retention timer).
"""

from __future__ import annotations

from dataclasses import replace

from PySide6.QtCore import QSettings, Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,  # fmt: skip
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from ...core.definitions import MAX_WORKERS
from ..preferences import MAX_KEEP_DAYS, THEMES, Preferences, read_preferences, write_preferences
from .settings_database import DatabaseField

THEME_LABELS = {"system": "Same as the system", "light": "Light", "dark": "Dark"}


class SettingsDialog(QDialog):
    """Shows the stored preferences (`workers` overrides the stored value: the panel's live one)."""

    applied = Signal(object)  # Preferences, after they were written to QSettings

    def __init__(self, settings: QSettings, parent: QWidget | None = None, *, workers: int | None = None,
                 tray_available: bool = True) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("settingsDialog")
        self.setWindowTitle("Acacia — Settings")
        self.settings = settings
        prefs = read_preferences(settings)
        if workers:
            prefs.workers = workers
        self._shown_workers = prefs.workers  # written only if changed here (a `--workers` run must not stick)
        layout = QVBoxLayout(self)
        layout.addWidget(self._appearance(prefs))
        layout.addWidget(self._closing(prefs, tray_available))
        layout.addWidget(self._notifications(prefs))
        layout.addWidget(self._jobs(prefs))
        layout.addWidget(self._database())
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        ok = buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.database.validity_changed.connect(ok.setEnabled)  # a bad URL is refused at the field
        ok.setEnabled(self.database.valid)
        layout.addWidget(buttons)

    def _database(self) -> QGroupBox:
        box = QGroupBox("Database", self)
        column = QVBoxLayout(box)
        self.database = DatabaseField(self.settings, box)  # settings_database.py: applies at the next start
        self.database.setObjectName("databaseField")
        self.database.validity_changed.connect(lambda _valid: self.adjustSize())  # the problem line comes and goes
        column.addWidget(self.database)
        return box

    def _appearance(self, p: Preferences) -> QGroupBox:
        box = QGroupBox("Appearance", self)
        form = QFormLayout(box)
        self.theme_combo = QComboBox(box)
        self.theme_combo.setObjectName("themeCombo")
        for theme in THEMES:
            self.theme_combo.addItem(THEME_LABELS[theme], theme)
        self.theme_combo.setCurrentIndex(THEMES.index(p.theme))
        form.addRow("&Theme:", self.theme_combo)
        return box

    def _closing(self, p: Preferences, tray_available: bool) -> QGroupBox:
        box = QGroupBox("Closing the window", self)
        column = QVBoxLayout(box)
        self.close_to_tray = QCheckBox("&Keep running in the tray when the window is closed", box)
        self.close_to_tray.setObjectName("closeToTray")
        self.close_to_tray.setChecked(p.close_to_tray)
        if not tray_available:
            self.close_to_tray.setToolTip("This desktop has no system tray: closing the window quits.")
        self.confirm_quit = QCheckBox("&Ask before quitting while jobs run", box)
        self.confirm_quit.setObjectName("confirmQuit")
        self.confirm_quit.setChecked(p.confirm_quit)
        column.addWidget(self.close_to_tray)
        column.addWidget(self.confirm_quit)
        return box

    def _notifications(self, p: Preferences) -> QGroupBox:
        box = QGroupBox("Notifications", self)
        column = QVBoxLayout(box)
        self.notify_failure = QCheckBox("When a job &fails", box)
        self.notify_failure.setObjectName("notifyFailure")
        self.notify_failure.setChecked(p.notify_failure)
        row = QHBoxLayout()
        self.notify_success = QCheckBox("When a job &succeeds after running longer than", box)
        self.notify_success.setObjectName("notifySuccess")
        self.notify_success.setChecked(p.notify_long_success)
        self.success_minutes = QSpinBox(box)
        self.success_minutes.setObjectName("successMinutes")
        self.success_minutes.setRange(1, 24 * 60)
        self.success_minutes.setSuffix(" min")
        self.success_minutes.setValue(p.long_success_minutes)
        self.success_minutes.setAccessibleName("Minutes a job must run to be notified of its success")
        self.success_minutes.setEnabled(p.notify_long_success)
        self.notify_success.toggled.connect(self.success_minutes.setEnabled)
        row.addWidget(self.notify_success)
        row.addWidget(self.success_minutes)
        row.addStretch(1)
        self.notify_queue_empty = QCheckBox("When a &queue has no jobs left to run", box)
        self.notify_queue_empty.setObjectName("notifyQueueEmpty")
        self.notify_queue_empty.setChecked(p.notify_queue_empty)
        self.notify_stall = QCheckBox("When a job s&talls (no progress or log line for its stall_after)", box)
        self.notify_stall.setObjectName("notifyStall")
        self.notify_stall.setChecked(p.notify_stall)
        hint = QLabel("Uncheck all four for no notifications at all.", box)
        hint.setEnabled(False)
        column.addWidget(self.notify_failure)
        column.addLayout(row)
        column.addWidget(self.notify_queue_empty)
        column.addWidget(self.notify_stall)
        column.addWidget(hint)
        return box

    def _jobs(self, p: Preferences) -> QGroupBox:
        box = QGroupBox("Jobs", self)
        form = QFormLayout(box)
        self.workers_spin = QSpinBox(box)
        self.workers_spin.setObjectName("settingsWorkers")
        self.workers_spin.setRange(1, MAX_WORKERS)
        self.workers_spin.setValue(p.workers or 2)
        self.workers_spin.setToolTip("How many jobs this app runs at once, over all queues (the Workers box)")
        form.addRow("&Workers:", self.workers_spin)
        self.keep_days = QSpinBox(box)
        self.keep_days.setObjectName("keepDays")
        self.keep_days.setRange(0, MAX_KEEP_DAYS)
        self.keep_days.setSuffix(" days")
        self.keep_days.setSpecialValueText("Forever")
        self.keep_days.setValue(p.keep_days)
        self.keep_days.setToolTip("Succeeded and cancelled jobs that ended longer ago than this are deleted with "
                                  "their logs and output folders; failed ones stay (acacia --keep-failed). "
                                  "Forever keeps them. --keep-finished wins for its run.")  # fmt: skip
        form.addRow("&Keep finished jobs:", self.keep_days)
        return box

    def preferences(self) -> Preferences:
        """What the dialog shows now."""
        return Preferences(
            theme=self.theme_combo.currentData(), close_to_tray=self.close_to_tray.isChecked(),
            confirm_quit=self.confirm_quit.isChecked(), notify_failure=self.notify_failure.isChecked(),
            notify_long_success=self.notify_success.isChecked(), long_success_minutes=self.success_minutes.value(),
            notify_queue_empty=self.notify_queue_empty.isChecked(), notify_stall=self.notify_stall.isChecked(),
            workers=self.workers_spin.value(),
            keep_days=self.keep_days.value())  # fmt: skip

    def accept(self) -> None:
        if not self.database.valid:
            self.database.edit.setFocus()
            return
        self.database.save(self.settings)  # synced with the preferences below
        prefs = self.preferences()
        write_preferences(self.settings, prefs if prefs.workers != self._shown_workers else replace(prefs, workers=0))
        super().accept()
        self.applied.emit(prefs)
