"""The user's preferences (Edit ▸ Settings, Ctrl+,): what they are, how they are stored in QSettings,
and the two that act by themselves: the theme (applied to the whole application, live) and
the retention of finished jobs (RetentionSweeper).

Every read tolerates a missing or corrupt value (window_state.read_int/read_bool), so a
bad settings file never stops the window from opening. The workers value shares its key
("queues/workers") with the queues panel, so the dialog and the panel always agree.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from PySide6.QtCore import QObject, QSettings, QTimer, Signal
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from ..core.definitions import FINAL_STATES, Source
from .window_state import read_bool, read_int

THEMES = ("system", "light", "dark")
THEME_KEY = "appearance/theme"
CLOSE_TO_TRAY_KEY = "window/closeToTray"
CONFIRM_QUIT_KEY = "window/confirmQuit"
NOTIFY_FAILURE_KEY = "notifications/onFailure"
NOTIFY_SUCCESS_KEY = "notifications/onLongSuccess"
NOTIFY_SUCCESS_MINUTES_KEY = "notifications/longSuccessMinutes"
NOTIFY_QUEUE_EMPTY_KEY = "notifications/onQueueEmpty"
WORKERS_KEY = "queues/workers"  # the queues panel's key (window_state.py)
KEEP_DAYS_KEY = "jobs/keepDays"
MAX_KEEP_DAYS = 3650


@dataclass
class Preferences:
    theme: str = "system"
    close_to_tray: bool = False  # False: closing quits (asking first while jobs run, if confirm_quit)
    confirm_quit: bool = True
    notify_failure: bool = True
    notify_long_success: bool = False
    long_success_minutes: int = 10
    notify_queue_empty: bool = True
    workers: int = 0  # 0: not chosen yet (the worker's own default)
    keep_days: int = 0  # 0: keep finished jobs forever

    @property
    def notifications_off(self) -> bool:
        return not (self.notify_failure or self.notify_long_success or self.notify_queue_empty)


def read_preferences(s: QSettings) -> Preferences:
    d = Preferences()
    theme = s.value(THEME_KEY, d.theme)
    return Preferences(
        theme=theme if theme in THEMES else d.theme,
        close_to_tray=read_bool(s, CLOSE_TO_TRAY_KEY, d.close_to_tray),
        confirm_quit=read_bool(s, CONFIRM_QUIT_KEY, d.confirm_quit),
        notify_failure=read_bool(s, NOTIFY_FAILURE_KEY, d.notify_failure),
        notify_long_success=read_bool(s, NOTIFY_SUCCESS_KEY, d.notify_long_success),
        long_success_minutes=max(1, read_int(s, NOTIFY_SUCCESS_MINUTES_KEY, d.long_success_minutes)),
        notify_queue_empty=read_bool(s, NOTIFY_QUEUE_EMPTY_KEY, d.notify_queue_empty),
        workers=max(0, read_int(s, WORKERS_KEY, d.workers)),
        keep_days=min(MAX_KEEP_DAYS, max(0, read_int(s, KEEP_DAYS_KEY, d.keep_days))),
    )


def write_preferences(s: QSettings, p: Preferences) -> None:
    for key, value in ((THEME_KEY, p.theme), (CLOSE_TO_TRAY_KEY, p.close_to_tray), (CONFIRM_QUIT_KEY, p.confirm_quit),
                       (NOTIFY_FAILURE_KEY, p.notify_failure), (NOTIFY_SUCCESS_KEY, p.notify_long_success),
                       (NOTIFY_SUCCESS_MINUTES_KEY, p.long_success_minutes),
                       (NOTIFY_QUEUE_EMPTY_KEY, p.notify_queue_empty), (KEEP_DAYS_KEY, p.keep_days)):  # fmt: skip
        s.setValue(key, value)
    if p.workers > 0:
        s.setValue(WORKERS_KEY, p.workers)
    s.sync()


# -- theme --------------------------------------------------------------------------------------------
def dark_palette() -> QPalette:
    """The dark palette (the same colours as the README's dark screenshot)."""
    palette = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#2b2d30", QPalette.ColorRole.WindowText: "#dfe1e5",
        QPalette.ColorRole.Base: "#1e1f22", QPalette.ColorRole.AlternateBase: "#26282b",
        QPalette.ColorRole.Text: "#dfe1e5", QPalette.ColorRole.Button: "#3c3f41",
        QPalette.ColorRole.ButtonText: "#dfe1e5", QPalette.ColorRole.Highlight: "#2f65ca",
        QPalette.ColorRole.HighlightedText: "#ffffff", QPalette.ColorRole.ToolTipBase: "#3c3f41",
        QPalette.ColorRole.ToolTipText: "#dfe1e5", QPalette.ColorRole.PlaceholderText: "#8c8f94",
        QPalette.ColorRole.Mid: "#5a5d63", QPalette.ColorRole.Dark: "#1a1b1e", QPalette.ColorRole.Light: "#4a4d52",
        QPalette.ColorRole.Midlight: "#43464b", QPalette.ColorRole.Shadow: "#111111",
        QPalette.ColorRole.Link: "#6ea0ff", QPalette.ColorRole.BrightText: "#ffffff",
    }  # fmt: skip
    for role, colour in roles.items():
        palette.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.Text, QPalette.ColorRole.WindowText, QPalette.ColorRole.ButtonText):
        palette.setColor(QPalette.ColorGroup.Disabled, role, QColor("#7a7d82"))
    return palette


class ThemeSwitcher:
    """Applies a theme to the application; remembers the system palette seen first to go back to it."""

    def __init__(self, app: QApplication) -> None:
        self._app = app
        self._system = QPalette(app.palette())
        self.theme = "system"

    def apply(self, theme: str) -> None:
        if theme == self.theme:
            return
        self.theme = theme
        if theme == "dark":
            self._app.setPalette(dark_palette())
        elif theme == "light":
            self._app.setPalette(self._app.style().standardPalette())
        else:
            self._app.setPalette(self._system)


# -- retention ------------------------------------------------------------------------------------------
class RetentionSweeper(QObject):
    """Deletes finished jobs older than `keep_days` (by finished_at), oldest first, in small batches.

    The store has no "finished before" delete (clear_finished deletes every finished job),
    so each batch lists the oldest finished jobs (list_jobs(state=FINAL_STATES,
    order_by="finished_at")) and deletes those past the cutoff through JobQueue.delete,
    which announces the deletions like any other. A full batch schedules the next one on
    the next turn of the event loop, so a large backlog never freezes the window.
    """

    swept = Signal(int)  # how many jobs one batch deleted

    BATCH = 200
    INTERVAL_MS = 10 * 60 * 1000

    def __init__(self, queue, store, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._queue, self._store = queue, store
        self.keep_days = 0
        self._timer = QTimer(self)
        self._timer.setInterval(self.INTERVAL_MS)
        self._timer.timeout.connect(self.sweep)

    def set_keep_days(self, days: int) -> None:
        self.keep_days = max(0, days)
        if self.keep_days:
            self._timer.start()
            QTimer.singleShot(0, self, self.sweep)
        else:
            self._timer.stop()

    def stop(self) -> None:
        self._timer.stop()
        self.keep_days = 0

    def sweep(self, now: float | None = None) -> int:
        """Delete one batch of jobs finished before now - keep_days; returns how many. Never raises."""
        if not self.keep_days:
            return 0
        cutoff = (time.time() if now is None else now) - self.keep_days * 86400
        jobs = self._store.list_jobs(state=sorted(FINAL_STATES), order_by="finished_at", limit=self.BATCH,
                                     preview=True)  # fmt: skip
        ids = [j.id for j in jobs if j.finished_at is not None and j.finished_at < cutoff]
        if not ids:
            return 0
        try:
            deleted = self._queue.delete(ids, source=Source.GUI)
        except Exception:  # a job deleted or retried meanwhile: the next sweep tries again
            logging.getLogger(__name__).exception("retention sweep failed")
            return 0
        self.swept.emit(deleted)
        if len(ids) == self.BATCH:
            QTimer.singleShot(0, self, self.sweep)
        return deleted
