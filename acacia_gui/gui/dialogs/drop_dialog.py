"""DropJobsDialog: files dropped on the window become one job per file, for a handler that takes a path."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QLabel,
    QListWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.context import Context
from ...core.definitions import Source
from ...core.errors import AcaciaError
from ...core.job import Job
from ...core.queue import JobQueue
from ...core.registry import RegisteredHandler
from .schema_form import defaults_of, has_path_property

MAX_LISTED = 200


def path_handlers(handlers: Iterable[RegisteredHandler]) -> list[tuple[RegisteredHandler, str]]:
    """(handler, property) for each handler whose schema has a `format: "path"` string property."""
    found = []
    for handler in handlers:
        prop = has_path_property(handler.schema)
        if prop is not None:
            found.append((handler, prop))
    return found


def jobs_for(handler: RegisteredHandler, prop: str, paths: Sequence[str]) -> list[Job]:
    base: dict[str, Any] = defaults_of(handler.schema)
    return [Job(handler.job_type, {**base, prop: path}) for path in paths]


class DropJobsDialog(QDialog):
    """Pick the handler; Enqueue adds every job in one transaction (all or none)."""

    def __init__(self, queue: JobQueue, paths: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropJobsDialog")
        self.setWindowTitle("Create jobs from files")
        self.queue = queue
        self.paths = list(paths)
        self.job_ids: list[int] = []
        self.choices = path_handlers(queue.registry)
        layout = QVBoxLayout(self)
        count = len(self.paths)
        layout.addWidget(QLabel(f"One job for each of these {count} file(s):" if count != 1 else "One job for this file:"))
        listing = QListWidget(self)
        listing.setAccessibleName("Dropped files")
        listing.addItems(self.paths[:MAX_LISTED])
        if count > MAX_LISTED:
            listing.addItem(f"… and {count - MAX_LISTED} more")
        layout.addWidget(listing, 1)
        label = QLabel("&Handler:", self)
        self.handler_box = QComboBox(self)
        self.handler_box.setObjectName("dropHandlerBox")
        self.handler_box.setAccessibleName("Handler for the dropped files")
        for handler, prop in self.choices:
            self.handler_box.addItem(f"{handler.title or handler.job_type}  ({handler.job_type}, {prop})", handler.job_type)
        label.setBuddy(self.handler_box)
        layout.addWidget(label)
        layout.addWidget(self.handler_box)
        self.problem = QLabel(self)
        self.problem.setObjectName("dropProblem")
        self.problem.setWordWrap(True)
        self.problem.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.problem)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.enqueue_button = buttons.addButton("&Enqueue", QDialogButtonBox.ButtonRole.AcceptRole)
        self.enqueue_button.setObjectName("enqueueButton")
        self.enqueue_button.setEnabled(bool(self.choices))
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        if not self.choices:
            self.problem.setText("No loaded handler takes a file path.")

    def accept(self) -> None:
        index = self.handler_box.currentIndex()
        if not 0 <= index < len(self.choices):
            return
        handler, prop = self.choices[index]
        try:
            self.job_ids = self.queue.enqueue_many(Context.background(), jobs_for(handler, prop, self.paths), source=Source.GUI)
        except AcaciaError as exc:
            self.problem.setText(f"Nothing was enqueued: {exc}")
            return
        super().accept()
