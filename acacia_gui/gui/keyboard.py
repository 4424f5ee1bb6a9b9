"""Keyboard use of the main window: shortcuts shown in tooltips, Help ▸ Actions, the Tab order.

Every action in the menus has a shortcut; `annotate_tooltips` puts it in the action's
tooltip (menus show it beside the text already). `menu_actions` lists them for the
Actions dialog. `set_tab_order` makes Tab follow the screen: the filters, the table,
the details pane, then the sidebar.
"""

from __future__ import annotations

from collections.abc import Iterator
from itertools import pairwise
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMainWindow, QMenu, QWidget

HELP_TITLE = "&Help"


def shortcut_text(action: QAction) -> str:
    return action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)


def plain_text(action: QAction) -> str:
    return action.text().replace("&&", "\0").replace("&", "").replace("\0", "&").rstrip("…").strip()


def menu_actions(window: QMainWindow) -> Iterator[tuple[str, QAction]]:
    """(menu title, action) for every action in the window's menus, submenus included, in menu order."""

    def walk(menu: QMenu, title: str) -> Iterator[tuple[str, QAction]]:
        for action in menu.actions():
            if action.isSeparator():
                continue
            submenu = action.menu()
            if isinstance(submenu, QMenu):
                yield from walk(submenu, f"{title} ▸ {plain_text(action)}")
            else:
                yield title, action

    for top in window.menuBar().actions():
        menu = top.menu()
        if isinstance(menu, QMenu):
            yield from walk(menu, plain_text(top))


def annotate_tooltips(window: QMainWindow) -> None:
    """Give every menu action a tooltip that names its shortcut ("Reload plugins (Ctrl+Shift+R)")."""
    for _menu, action in menu_actions(window):
        keys = shortcut_text(action)
        tip = action.toolTip() or plain_text(action)
        if keys and keys not in tip:
            action.setToolTip(f"{tip} ({keys})")


def help_menu(window: QMainWindow) -> QMenu:
    """The window's Help menu, created (last in the bar) if nobody has added it yet."""
    for top in window.menuBar().actions():
        menu = top.menu()
        if isinstance(menu, QMenu) and plain_text(top).lower() == "help":
            return menu
    menu = window.menuBar().addMenu(HELP_TITLE)
    menu.setObjectName("helpMenu")
    return menu


def set_tab_order(window: QMainWindow) -> None:
    """Tab follows the screen: State, Queue, Type, Search, the table, the details pane, the sidebar."""
    w: Any = window
    bar = w.filter_bar
    details_first = getattr(w.details, "tabs", None) or _first_focusable(w.details)
    sidebar_first = getattr(w.queues_panel, "workers_spin", None) or _first_focusable(w.queues_panel)
    chain: list[QWidget] = [bar.state_box, bar.queue_box, bar.type_box, bar.search, w.table]
    chain += [widget for widget in (details_first, sidebar_first) if widget is not None]
    for before, after in pairwise(chain):
        QWidget.setTabOrder(before, after)


def _first_focusable(container: QWidget) -> QWidget | None:
    """The first widget in `container`'s own focus chain that takes Tab focus."""
    for child in container.findChildren(QWidget):
        if child.focusPolicy() & Qt.FocusPolicy.TabFocus and child.isEnabled():
            return child
    return None
