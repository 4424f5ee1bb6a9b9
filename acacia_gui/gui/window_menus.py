"""The main window's menus and toolbar: the same QActions everywhere, each with its shortcut."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QToolBar

from .icons import icon
from .job_actions import JobActions


def make_action(window: QMainWindow, icon_name: str, text: str, shortcut: str, slot: Callable[[], object]) -> QAction:
    """A window-wide action; `icon_name` is kept so a palette change can re-tint it."""
    action = QAction(text, window)
    if icon_name:
        action.setIcon(icon(icon_name, window.palette()))
    action.setProperty("icon_name", icon_name)
    if shortcut:
        action.setShortcut(QKeySequence(shortcut))
    action.triggered.connect(lambda _checked=False: slot())
    window.addAction(action)
    return action


def build_menus_and_toolbar(window: QMainWindow, acts: JobActions, focus_actions: Sequence[QAction]) -> QToolBar:
    """File, Jobs, View, Plugins menus and the toolbar, from the window's actions."""
    w: Any = window
    file_menu = window.menuBar().addMenu("&File")
    file_menu.addAction(acts.new_job)
    file_menu.addSeparator()
    file_menu.addAction(w.quit_action)
    jobs_menu = window.menuBar().addMenu("&Jobs")
    for action in (*acts.selection_actions, acts.clear_finished):
        jobs_menu.addAction(action)
    jobs_menu.addSeparator()
    jobs_menu.addAction(w.refresh_action)
    view_menu = window.menuBar().addMenu("&View")
    for action in (*focus_actions, w.search_action, w.details_action, w.sidebar.action):
        view_menu.addAction(action)
    plugins_menu = window.menuBar().addMenu("&Plugins")
    plugins_menu.addAction(w.reload_action)
    plugins_menu.addAction(w.open_folder_action)
    toolbar = window.addToolBar("Actions")
    toolbar.setObjectName("mainToolbar")
    toolbar.setAccessibleName("Job actions")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    toolbar.setMovable(False)
    toolbar.addAction(acts.new_job)
    toolbar.addSeparator()
    for action in (*acts.selection_actions, acts.clear_finished):
        toolbar.addAction(action)
    toolbar.addSeparator()
    toolbar.addAction(w.reload_action)
    return toolbar
