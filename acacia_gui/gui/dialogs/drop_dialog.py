"""DropJobsDialog: files dropped on the window become one job per file, for a handler that takes a path.

The dropped path fills the handler's path property; its other fields are asked for with
the same schema form as the New job dialog (the values apply to every job). A handler is
offered only if the dialog can fill everything it needs, so Enqueue never dead-ends.
"""

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
    QScrollArea,
    QVBoxLayout,
    QWidget,
)

from ...core.context import Context
from ...core.definitions import Source
from ...core.errors import AcaciaError
from ...core.job import Job
from ...core.queue import JobQueue
from ...core.registry import RegisteredHandler
from ...plugins.schema import payload_errors
from .schema_form import SchemaForm, defaults_of, has_path_property, supports

MAX_LISTED = 200
SAMPLE_PATH = "/dropped/file"


def rest_schema(schema: dict[str, Any], prop: str) -> dict[str, Any]:
    """The handler's schema without the property the dropped path fills."""
    rest = dict(schema)
    rest["properties"] = {name: sub for name, sub in schema.get("properties", {}).items() if name != prop}
    rest["required"] = [name for name in schema.get("required", ()) if name != prop]
    return rest


def _fillable(handler: RegisteredHandler, prop: str) -> bool:
    """True if a form can ask for the other fields, or the defaults already satisfy them."""
    schema = handler.schema or {}
    if supports(rest_schema(schema, prop)):
        return True
    try:
        return not payload_errors(schema, {**defaults_of(schema), prop: SAMPLE_PATH}, job_type=handler.job_type)
    except AcaciaError:
        return False


def path_handlers(handlers: Iterable[RegisteredHandler]) -> list[tuple[RegisteredHandler, str]]:
    """(handler, property) for each handler taking a path whose other fields the dialog can fill."""
    found = []
    for handler in handlers:
        prop = has_path_property(handler.schema)
        if prop is not None and _fillable(handler, prop):
            found.append((handler, prop))
    return found


def jobs_for(handler: RegisteredHandler, prop: str, paths: Sequence[str], rest: dict[str, Any] | None = None) -> list[Job]:
    base: dict[str, Any] = defaults_of(handler.schema) if rest is None else rest
    return [Job(handler.job_type, {**base, prop: path}) for path in paths]


class DropJobsDialog(QDialog):
    """Pick the handler, fill its other fields; Enqueue adds every job in one transaction (all or none)."""

    def __init__(self, queue: JobQueue, paths: Sequence[str], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("dropJobsDialog")
        self.setWindowTitle("Create jobs from files")
        self.resize(560, 520)
        self.queue = queue
        self.paths = list(paths)
        self.job_ids: list[int] = []
        self.form: SchemaForm | None = None
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
        self.form_title = QLabel("Other fields (the same for every job):", self)
        layout.addWidget(self.form_title)
        self.form_area = QScrollArea(self)
        self.form_area.setObjectName("dropFormArea")
        self.form_area.setWidgetResizable(True)
        layout.addWidget(self.form_area, 2)
        self.problem = QLabel(self)
        self.problem.setObjectName("dropProblem")
        self.problem.setWordWrap(True)
        self.problem.setTextFormat(Qt.TextFormat.PlainText)
        layout.addWidget(self.problem)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.enqueue_button = buttons.addButton("&Enqueue", QDialogButtonBox.ButtonRole.AcceptRole)
        self.enqueue_button.setObjectName("enqueueButton")
        buttons.accepted.connect(self.accept)
        buttons.rejected.connect(self.reject)
        layout.addWidget(buttons)
        self.handler_box.currentIndexChanged.connect(self._on_handler_changed)
        self._on_handler_changed()

    def _choice(self) -> tuple[RegisteredHandler, str] | None:
        index = self.handler_box.currentIndex()
        return self.choices[index] if 0 <= index < len(self.choices) else None

    def _on_handler_changed(self) -> None:
        old = self.form_area.takeWidget()
        if old is not None:
            old.deleteLater()
        self.form = None
        choice = self._choice()
        if choice is not None:
            handler, prop = choice
            rest = rest_schema(handler.schema or {}, prop)
            if supports(rest) and rest["properties"]:
                self.form = SchemaForm(rest, self.form_area, job_type=handler.job_type)
                self.form.changed.connect(self._validate)
                self.form_area.setWidget(self.form)
        self.form_title.setVisible(self.form is not None)
        self.form_area.setVisible(self.form is not None)
        self._validate()

    def _validate(self) -> list[str]:
        if not self.choices:
            problems = ["No loaded handler takes a file path."]
        else:
            problems = self.form.validate() if self.form is not None else []
        self.problem.setText("\n".join(problems))
        self.enqueue_button.setEnabled(not problems)
        return problems

    def accept(self) -> None:
        choice = self._choice()
        if choice is None or self._validate():
            return
        handler, prop = choice
        rest = self.form.payload() if self.form is not None else None
        try:
            jobs = jobs_for(handler, prop, self.paths, rest)
            self.job_ids = self.queue.enqueue_many(Context.background(), jobs, source=Source.GUI)
        except AcaciaError as exc:
            self.problem.setText(f"Nothing was enqueued: {exc}")
            return
        super().accept()
