"""The main window's menus and toolbar: the same QActions everywhere, each with its shortcut."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QToolBar

from .dialogs.help_dialogs import AboutDialog, FoldersDialog, MarkdownDialog, doc_or_message, plugin_section, read_doc
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
    file_menu.addAction(acts.new_after)
    file_menu.addSeparator()
    w.settings_action = make_action(window, "", "&Settings…", "Ctrl+,", lambda: w.settings_controller.open_dialog())
    w.settings_action.setObjectName("settingsAction")
    w.settings_action.setMenuRole(QAction.MenuRole.PreferencesRole)
    file_menu.addAction(w.settings_action)
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
    build_help_menu(window)
    toolbar = window.addToolBar("Actions")
    toolbar.setObjectName("mainToolbar")
    toolbar.setAccessibleName("Job actions")
    toolbar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
    toolbar.setMovable(False)
    toolbar.addAction(acts.new_job)
    toolbar.addSeparator()
    for action in (*acts.selection_actions, acts.clear_finished):
        if action not in (acts.retry_dependents, acts.kill, acts.extend):  # menus only: one Retry, and Kill/Extend
            toolbar.addAction(action)  # (for stalled jobs) in the Jobs and context menus
    toolbar.addSeparator()
    toolbar.addAction(w.reload_action)
    return toolbar


def build_help_menu(window: QMainWindow) -> None:
    """Help: User guide, Writing plugins, Protocol reference, Folders, About (each a non-modal dialog).

    The opened dialog is kept in `window.help_dialogs[name]` (one of each at a time).
    """
    w: Any = window
    w.help_dialogs = {}
    menu = window.menuBar().addMenu("&Help")
    menu.setObjectName("helpMenu")

    def show(name: str, make: Callable[[], Any]) -> Any:
        old = w.help_dialogs.get(name)
        if old is not None:
            try:
                old.close()
            except RuntimeError:  # already deleted by Qt
                pass
        dialog = make()
        dialog.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.show()
        w.help_dialogs[name] = dialog
        return dialog

    entries = (
        ("userGuide", "&User guide", "F1",
         lambda: MarkdownDialog("Acacia — User guide", doc_or_message("README.md", "User guide"), window, "userGuideDialog")),
        ("writingPlugins", "Writing &plugins", "Shift+F1",
         lambda: MarkdownDialog("Acacia — Writing plugins", plugin_section(read_doc("README.md")), window,
                                "writingPluginsDialog")),
        ("protocol", "P&rotocol reference", "Ctrl+F1",
         lambda: MarkdownDialog("Acacia — Protocol reference", doc_or_message("docs/protocol.md", "Protocol reference"),
                                window, "protocolDialog")),
        ("folders", "&Folders", "Ctrl+Shift+L", lambda: FoldersDialog(w.services.config, window)),
        ("about", "&About Acacia", "Ctrl+Shift+A", lambda: AboutDialog(window)),
    )  # fmt: skip
    for name, text, shortcut, make in entries:
        action = make_action(window, "", text, shortcut, lambda name=name, make=make: show(name, make))
        action.setObjectName(f"{name}Action")
        if name == "about":
            action.setMenuRole(QAction.MenuRole.AboutRole)
            menu.addSeparator()
        menu.addAction(action)
