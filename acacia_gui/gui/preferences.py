"""The user's preferences (Edit ▸ Settings, Ctrl+,): what they are, how they are stored in QSettings,
and the two that act by themselves: the theme (applied to the whole application, live) and
the retention days (kept here; engine/pruner.py deletes, settings_controller.py sets its policy).

Every read tolerates a missing or corrupt value (window_state.read_int/read_bool), so a
bad settings file never stops the window from opening. The workers value shares its key
("queues/workers") with the queues panel, so the dialog and the panel always agree.
"""

from __future__ import annotations

from dataclasses import dataclass

from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from .window_state import read_bool, read_int

THEMES = ("system", "light", "dark")
THEME_KEY = "appearance/theme"
CLOSE_TO_TRAY_KEY = "window/closeToTray"
CONFIRM_QUIT_KEY = "window/confirmQuit"
NOTIFY_FAILURE_KEY = "notifications/onFailure"
NOTIFY_SUCCESS_KEY = "notifications/onLongSuccess"
NOTIFY_SUCCESS_MINUTES_KEY = "notifications/longSuccessMinutes"
NOTIFY_QUEUE_EMPTY_KEY = "notifications/onQueueEmpty"
NOTIFY_STALL_KEY = "notifications/onStall"
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
    notify_stall: bool = True  # a running job was flagged stalled (its handler's stall_after)
    workers: int = 0  # 0: not chosen yet (the worker's own default)
    keep_days: int = 0  # 0: keep finished jobs forever

    @property
    def notifications_off(self) -> bool:
        return not (self.notify_failure or self.notify_long_success or self.notify_queue_empty or self.notify_stall)


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
        notify_stall=read_bool(s, NOTIFY_STALL_KEY, d.notify_stall),
        workers=max(0, read_int(s, WORKERS_KEY, d.workers)),
        keep_days=min(MAX_KEEP_DAYS, max(0, read_int(s, KEEP_DAYS_KEY, d.keep_days))),
    )


def write_preferences(s: QSettings, p: Preferences) -> None:
    for key, value in ((THEME_KEY, p.theme), (CLOSE_TO_TRAY_KEY, p.close_to_tray), (CONFIRM_QUIT_KEY, p.confirm_quit),
                       (NOTIFY_FAILURE_KEY, p.notify_failure), (NOTIFY_SUCCESS_KEY, p.notify_long_success),
                       (NOTIFY_SUCCESS_MINUTES_KEY, p.long_success_minutes),
                       (NOTIFY_QUEUE_EMPTY_KEY, p.notify_queue_empty), (NOTIFY_STALL_KEY, p.notify_stall),
                       (KEEP_DAYS_KEY, p.keep_days)):  # fmt: skip
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
