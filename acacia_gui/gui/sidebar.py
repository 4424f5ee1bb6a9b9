"""SidebarToggle: the queues sidebar can be hidden (View ▸ Sidebar), and hides itself in a narrow window.

Below AUTO_HIDE_WIDTH the window gives the job table the room (the sidebar would squeeze
Progress and clip its own Pause buttons); it comes back when the window is widened again,
unless the user hid it by hand. What the user chose with the action is what stays.
"""

from __future__ import annotations

from PySide6.QtCore import QEvent, QObject
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QWidget

AUTO_HIDE_WIDTH = 960  # window width (px) below which the sidebar hides itself


class SidebarToggle(QObject):
    """Owns the checkable `action`; watches `window`'s width to hide or show `sidebar`."""

    def __init__(self, window: QWidget, sidebar: QWidget, shortcut: str = "Ctrl+B") -> None:
        super().__init__(window)
        self._window = window
        self._sidebar = sidebar
        self.auto_hidden = False
        self.action = QAction("S&idebar (queues)", window)
        self.action.setObjectName("sidebarAction")
        self.action.setCheckable(True)
        self.action.setChecked(True)
        self.action.setShortcut(QKeySequence(shortcut))
        self.action.setToolTip(f"Show or hide the queues sidebar ({shortcut})")
        self.action.toggled.connect(self._on_toggled)
        window.addAction(self.action)
        window.installEventFilter(self)

    def _on_toggled(self, shown: bool) -> None:
        self.auto_hidden = False  # the user's choice from now on
        self._sidebar.setVisible(shown)

    def _set_shown(self, shown: bool) -> None:
        self.action.blockSignals(True)
        self.action.setChecked(shown)
        self.action.blockSignals(False)
        self._sidebar.setVisible(shown)

    def fit_width(self, width: int) -> None:
        if width < AUTO_HIDE_WIDTH and self.action.isChecked():
            self._set_shown(False)
            self.auto_hidden = True
        elif width >= AUTO_HIDE_WIDTH and self.auto_hidden:
            self._set_shown(True)
            self.auto_hidden = False

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if watched is self._window and event.type() == QEvent.Type.Resize:
            self.fit_width(self._window.width())
        return False
