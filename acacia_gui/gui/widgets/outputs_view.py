"""OutputsView: the files and folders a job registered (job.add_artifact), with Open and Show in folder.

Why QDesktopServices: opening a file or a folder is the desktop's business (its file
manager, its default application per type); Qt asks it the same way on every platform.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt, QUrl
from PySide6.QtGui import QDesktopServices
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPushButton,
    QStackedWidget,
    QTreeWidget,
    QTreeWidgetItem,
    QVBoxLayout,
    QWidget,
)

from ..formatting import format_size

EMPTY_TEXT = "This job has no outputs."
PATH_ROLE = Qt.ItemDataRole.UserRole


class OutputsView(QWidget):
    """`show_artifacts(artifacts, output_dir)` fills it; the buttons act on the selected row."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("outputsView")
        self.output_dir: str | None = None
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 4, 0, 0)
        self.stack = QStackedWidget(self)
        self.empty = QLabel(EMPTY_TEXT, self)
        self.empty.setObjectName("outputsEmpty")
        self.empty.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.tree = QTreeWidget(self)
        self.tree.setObjectName("outputsTree")
        self.tree.setAccessibleName("Job outputs")
        self.tree.setHeaderLabels(["Name", "Size", "Kind", "Label"])
        self.tree.setRootIsDecorated(False)
        self.tree.setUniformRowHeights(True)
        self.tree.setColumnWidth(0, 240)
        self.tree.setColumnWidth(1, 90)
        self.tree.setColumnWidth(2, 70)
        self.tree.itemSelectionChanged.connect(self._update_buttons)
        self.tree.itemActivated.connect(lambda *_: self.open_selected())
        self.stack.addWidget(self.empty)
        self.stack.addWidget(self.tree)
        layout.addWidget(self.stack, 1)
        buttons = QHBoxLayout()
        self.open_button = QPushButton("&Open", self)
        self.open_button.setObjectName("openOutputButton")
        self.open_button.setToolTip("Open the selected output with its application")
        self.open_button.clicked.connect(self.open_selected)
        self.show_button = QPushButton("Show in &folder", self)
        self.show_button.setObjectName("showOutputInFolderButton")
        self.show_button.setToolTip("Open the folder that holds the selected output")
        self.show_button.clicked.connect(self.show_selected_in_folder)
        buttons.addStretch(1)
        buttons.addWidget(self.open_button)
        buttons.addWidget(self.show_button)
        layout.addLayout(buttons)
        self._update_buttons()

    def show_artifacts(self, artifacts: list[dict[str, Any]], output_dir: str | None) -> None:
        """Show these artifacts (from the store), keeping the selected path selected."""
        self.output_dir = output_dir
        shown = [(item.data(0, PATH_ROLE), item.text(1), item.text(3)) for item in self._items()]
        wanted = [(a["path"], format_size(a["size"]), a.get("label") or "") for a in artifacts]
        if shown == wanted and self.stack.currentWidget() is (self.tree if artifacts else self.empty):
            return  # unchanged: keep the selection and the scroll position
        selected = self.selected_path()
        self.tree.clear()
        for artifact in artifacts:
            item = QTreeWidgetItem([artifact["name"], format_size(artifact["size"]), artifact["kind"],
                                    artifact.get("label") or ""])  # fmt: skip
            item.setData(0, PATH_ROLE, artifact["path"])
            item.setToolTip(0, artifact["path"])
            item.setTextAlignment(1, Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
            self.tree.addTopLevelItem(item)
            if artifact["path"] == selected:
                item.setSelected(True)
        if artifacts and not self.tree.selectedItems():
            self.tree.setCurrentItem(self.tree.topLevelItem(0))
        self.stack.setCurrentWidget(self.tree if artifacts else self.empty)
        self._update_buttons()

    def count(self) -> int:
        return self.tree.topLevelItemCount()

    def selected_path(self) -> str | None:
        items = self.tree.selectedItems()
        return items[0].data(0, PATH_ROLE) if items else None

    def open_selected(self) -> None:
        path = self.selected_path()
        if path:
            QDesktopServices.openUrl(QUrl.fromLocalFile(path))

    def show_selected_in_folder(self) -> None:
        path = self.selected_path()
        if path:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(Path(path).parent)))

    def _items(self) -> list[QTreeWidgetItem]:
        return [self.tree.topLevelItem(i) for i in range(self.tree.topLevelItemCount())]

    def _update_buttons(self) -> None:
        has = self.selected_path() is not None
        self.open_button.setEnabled(has)
        self.show_button.setEnabled(has)
