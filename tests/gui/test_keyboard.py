"""Keyboard: every menu action has a shortcut named in its tooltip, Help ▸ Actions lists them, Tab follows the screen."""

from __future__ import annotations

from itertools import pairwise

from PySide6.QtCore import Qt
from PySide6.QtGui import QKeySequence
from PySide6.QtWidgets import QApplication

from acacia_gui.gui.dialogs.actions_dialog import ActionsDialog
from acacia_gui.gui.keyboard import menu_actions, plain_text


def test_every_menu_action_has_a_shortcut_named_in_its_tooltip(window):
    actions = [action for _menu, action in menu_actions(window)]
    assert len(actions) >= 15
    for action in actions:
        keys = action.shortcut().toString(QKeySequence.SequenceFormat.NativeText)
        assert keys, f"{plain_text(action)!r} has no shortcut"
        assert keys in action.toolTip(), f"{plain_text(action)!r}: {action.toolTip()!r}"


def test_shortcuts_are_unique(window):
    seen: dict[str, str] = {}
    for _menu, action in menu_actions(window):
        keys = action.shortcut().toString()
        assert keys not in seen, f"{keys} is both {seen[keys]!r} and {plain_text(action)!r}"
        seen[keys] = plain_text(action)


def test_help_actions_lists_every_action_with_its_shortcut(window, qtbot):
    assert window.actions_action in [action for menu, action in menu_actions(window) if menu == "Help"]
    qtbot.keyClick(window, Qt.Key.Key_Slash, Qt.KeyboardModifier.ControlModifier)
    dialog = window.findChild(ActionsDialog, "actionsDialog")
    assert dialog is not None and dialog.isVisible()
    rows = dialog.rows()
    expected = [(menu, plain_text(a), a.shortcut().toString(QKeySequence.SequenceFormat.NativeText))
                for menu, a in menu_actions(window)]  # fmt: skip
    assert [row[:3] for row in rows] == expected
    assert ("Jobs", "Retry", QKeySequence("Ctrl+R").toString(QKeySequence.SequenceFormat.NativeText)) in expected
    dialog.reject()


def test_tab_from_the_search_box_reaches_the_table_then_the_details(window, qtbot):
    window.filter_bar.search.setFocus()
    qtbot.waitUntil(lambda: window.filter_bar.search.hasFocus(), timeout=2000)
    qtbot.keyClick(QApplication.focusWidget(), Qt.Key.Key_Tab)
    assert QApplication.focusWidget() is window.table
    qtbot.keyClick(window.table, Qt.Key.Key_Tab)
    focused = QApplication.focusWidget()
    assert focused is not None and window.details.isAncestorOf(focused)


def test_tab_order_starts_with_the_filters(window, qtbot):
    bar = window.filter_bar
    chain = [bar.state_box, bar.queue_box, bar.type_box, bar.search]
    for before, after in pairwise(chain):
        assert before.nextInFocusChain() is after or _next_tab(before) is after


def _next_tab(widget):
    nxt = widget.nextInFocusChain()
    while nxt is not widget and not (nxt.focusPolicy() & Qt.FocusPolicy.TabFocus and nxt.isVisible()):
        nxt = nxt.nextInFocusChain()
    return nxt
