"""ColumnChooser: right-click the job table's header to show or hide columns.

Hidden columns, their order and widths live in the header's own state, which
window_state saves and restores ("jobs/header"), so the chooser only toggles
sections. Of the columns that say which job a row is (ID, Type, State, Progress),
one always stays visible: the last of them shown cannot be unticked.
"""

from __future__ import annotations

from PySide6.QtCore import QObject, QPoint, Qt
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QHeaderView, QMenu

from ..models.columns import JobColumn

ESSENTIAL_COLUMNS = (JobColumn.ID, JobColumn.TYPE, JobColumn.STATE, JobColumn.PROGRESS)


def column_name(column: JobColumn) -> str:
    return column.title or "Cancel button"


class ColumnChooser(QObject):
    """Installs a header context menu with one checkable action per column."""

    def __init__(self, header: QHeaderView) -> None:
        super().__init__(header)
        self._header = header
        self.last_menu: QMenu | None = None
        header.setContextMenuPolicy(Qt.ContextMenuPolicy.CustomContextMenu)
        header.customContextMenuRequested.connect(self._popup)

    def menu(self) -> QMenu:
        """The chooser, in the columns' on-screen order (the user may have moved them)."""
        menu = QMenu(self._header)
        menu.setObjectName("columnChooser")
        menu.setTitle("Columns")
        header = self._header
        shown_essential = [c for c in ESSENTIAL_COLUMNS if not header.isSectionHidden(c)]
        for visual in range(header.count()):
            column = JobColumn(header.logicalIndex(visual))
            action = QAction(column_name(column), menu)
            action.setObjectName(f"column-{column.name.lower()}")
            action.setCheckable(True)
            action.setChecked(not header.isSectionHidden(column))
            if shown_essential == [column]:
                action.setEnabled(False)
                action.setToolTip("One of ID, Type, State and Progress always stays visible")
            action.toggled.connect(lambda shown, column=column: self.set_shown(column, shown))
            menu.addAction(action)
        menu.addSeparator()
        reset = menu.addAction("Show all columns")
        reset.setObjectName("column-show-all")
        reset.triggered.connect(self.show_all)
        return menu

    def set_shown(self, column: JobColumn, shown: bool) -> bool:
        """Show or hide `column`; refuses (False) to hide the last visible essential column."""
        header = self._header
        if not shown and column in ESSENTIAL_COLUMNS:
            others = [c for c in ESSENTIAL_COLUMNS if c != column and not header.isSectionHidden(c)]
            if not others:
                return False
        header.setSectionHidden(column, not shown)
        if shown and header.sectionSize(column) < header.minimumSectionSize():
            header.resizeSection(column, max(60, header.defaultSectionSize()))
        return True

    def show_all(self) -> None:
        for column in JobColumn:
            self._header.setSectionHidden(column, False)

    def _popup(self, pos: QPoint) -> None:
        menu = self.menu()
        menu.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        self.last_menu = menu
        menu.popup(self._header.mapToGlobal(pos))
