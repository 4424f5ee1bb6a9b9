"""ActionsDialog (Help ▸ Actions): every action of the window's menus with its shortcut, in a table."""

from __future__ import annotations

from PySide6.QtWidgets import (
    QAbstractItemView,
    QDialog,
    QDialogButtonBox,
    QHeaderView,
    QLabel,
    QMainWindow,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
)

from ..keyboard import menu_actions, plain_text, shortcut_text

HEADERS = ("Menu", "Action", "Shortcut", "What it does")


class ActionsDialog(QDialog):
    """Read-only: built from the menus as they are when it opens, so it never disagrees with them."""

    def __init__(self, window: QMainWindow) -> None:
        super().__init__(window)
        self.setObjectName("actionsDialog")
        self.setWindowTitle("Actions and shortcuts")
        layout = QVBoxLayout(self)
        layout.addWidget(QLabel("Every action of the window, with its keyboard shortcut.", self))
        rows = list(menu_actions(window))
        self.table = QTableWidget(len(rows), len(HEADERS), self)
        self.table.setObjectName("actionsTable")
        self.table.setAccessibleName("Actions and shortcuts")
        self.table.setHorizontalHeaderLabels(HEADERS)
        self.table.verticalHeader().setVisible(False)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
        for row, (menu, action) in enumerate(rows):
            what = action.statusTip() or action.toolTip()
            for column, text in enumerate((menu, plain_text(action), shortcut_text(action), what)):
                self.table.setItem(row, column, QTableWidgetItem(text))
        header = self.table.horizontalHeader()
        header.setSectionResizeMode(QHeaderView.ResizeMode.ResizeToContents)
        header.setStretchLastSection(True)
        layout.addWidget(self.table, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Close, self)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.resize(640, 480)

    def rows(self) -> list[tuple[str, ...]]:
        """The table's text, row by row (for tests and accessibility checks)."""
        return [tuple(self.table.item(r, c).text() for c in range(self.table.columnCount()))
                for r in range(self.table.rowCount())]  # fmt: skip
