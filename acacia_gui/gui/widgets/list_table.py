"""A read-only table of rows (the Schedules and Instances tabs): one look and one behaviour for both."""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, Qt
from PySide6.QtWidgets import QAbstractItemView, QHeaderView, QTableView, QWidget


def list_table(parent: QWidget, model: QAbstractItemModel, *, name: str, accessible_name: str,
               widths: dict[int, int], stretch: int,
               selection: QAbstractItemView.SelectionMode = QAbstractItemView.SelectionMode.SingleSelection,
               ) -> QTableView:  # fmt: skip
    """Whole rows selected, no editing, no grid, no row numbers, Tab leaves the table; `widths`
    (column → pixels) resizable by hand, `stretch` takes the rest of the width."""
    table = QTableView(parent)
    table.setObjectName(name)
    table.setAccessibleName(accessible_name)
    table.setModel(model)
    table.setSelectionBehavior(QAbstractItemView.SelectionBehavior.SelectRows)
    table.setSelectionMode(selection)
    table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
    table.setAlternatingRowColors(True)
    table.setShowGrid(False)
    table.setWordWrap(False)
    table.setTabKeyNavigation(False)
    table.verticalHeader().setVisible(False)
    table.verticalHeader().setDefaultSectionSize(table.fontMetrics().height() + 12)
    header = table.horizontalHeader()
    header.setHighlightSections(False)
    header.setDefaultAlignment(Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter)
    header.setMinimumSectionSize(40)
    for column, width in widths.items():
        table.setColumnWidth(column, width)
        header.setSectionResizeMode(column, QHeaderView.ResizeMode.Interactive)
    header.setSectionResizeMode(stretch, QHeaderView.ResizeMode.Stretch)
    return table
