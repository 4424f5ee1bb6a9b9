"""EditJobDialog: change a waiting job's priority, queue and payload (Jobs ▸ Edit…, F2).

The payload uses the New-job dialog's schema form (with a JSON tab for what a form
cannot show). Every edit is checked as the queue will check it, and each problem is shown
next to its field: the queue name under the queue box, schema errors under their form
fields, JSON errors under the JSON editor. OK sends only what changed to `JobQueue.edit`,
whose compare-and-set refuses a job that started meanwhile: the dialog then says so and
stays open, instead of closing as if the edit had happened.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QGroupBox,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.definitions import MAX_PRIORITY, Source
from ...core.errors import AcaciaError, InvalidTransitionError
from ...core.job import QUEUE_PATTERN, Job
from ...core.queue import JobQueue
from ...plugins.schema import describe_where, payload_errors
from ..icons import icon
from .json_editor import JsonEditor
from .schema_fields import ERROR_STYLE, highlight
from .schema_form import SchemaForm, unsupported_reason

FORM_TAB, JSON_TAB = 0, 1
QUEUE_RULE = "use letters, digits and . _ - (at most 64 characters, not starting with . or -)"


def queue_problem(name: str) -> str:
    """'' if `name` is a valid queue name (core's QUEUE_PATTERN), else why not."""
    if not name:
        return "Choose a queue."
    return "" if QUEUE_PATTERN.fullmatch(name) else f"Invalid queue name {name!r}: {QUEUE_RULE}."


def error_label(parent: QWidget, name: str) -> QLabel:
    label = QLabel(parent)
    label.setObjectName(name)
    label.setStyleSheet("color: #d32f2f;")
    label.setWordWrap(True)
    label.setTextFormat(Qt.TextFormat.PlainText)
    label.setVisible(False)
    return label


class EditJobDialog(QDialog):
    """Edits job `job` (a queued or scheduled one) through `queue`; `edited(job_id)` after it worked."""

    edited = Signal(int)

    def __init__(self, queue: JobQueue, job: Job, *, queue_names: Iterable[str] = (),
                 parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("editJobDialog")
        self.setWindowTitle(f"Edit job {job.id}")
        self.setWindowIcon(icon("details", self.palette()))
        self.setStyleSheet(ERROR_STYLE + 'QPlainTextEdit[invalid="true"] { border: 2px solid #d32f2f; }')
        self.resize(560, 520)
        self.queue, self.job = queue, job
        self.problem = ""
        self.refused = False  # the job started meanwhile: it can no longer be edited
        # Only a payload the user edited is written: the form's reading of an untouched one may differ
        # in form only (an unset check box reads as false), and must not rewrite the job.
        self.payload_touched = False
        self._loading = False
        handler = queue.registry.get_handler(job.type)
        self.schema = handler.schema if handler is not None else None
        self.form: SchemaForm | None = None
        layout = QVBoxLayout(self)
        what = QLabel(f"{handler.title if handler and handler.title else job.type} ({job.type}) · {job.state}", self)
        what.setObjectName("editJobWhat")
        layout.addWidget(what)
        layout.addWidget(self._build_options(queue_names))
        layout.addWidget(self._build_payload(), 1)
        self.problem_label = error_label(self, "problemLabel")
        layout.addWidget(self.problem_label)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel, self)
        self.ok_button = self.buttons.button(QDialogButtonBox.StandardButton.Ok)
        self.ok_button.setObjectName("saveButton")
        self.ok_button.setText("&Save")
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self.validate()

    # -- layout ----------------------------------------------------------------------------
    def _build_options(self, queue_names: Iterable[str]) -> QGroupBox:
        group = QGroupBox("Options", self)
        form = QFormLayout(group)
        self.priority = QSpinBox(group)
        self.priority.setObjectName("prioritySpin")
        self.priority.setRange(-MAX_PRIORITY, MAX_PRIORITY)
        self.priority.setValue(self.job.priority)
        self.priority.setAccessibleName("Priority")
        self.priority.setToolTip("Higher runs first; equal priorities run in order of arrival")
        self.queue_box = QComboBox(group)
        self.queue_box.setObjectName("queueBox")
        self.queue_box.setEditable(True)
        self.queue_box.setAccessibleName("Queue")
        self.queue_box.addItems(sorted(set(queue_names) | {self.job.queue or "default"}))
        self.queue_box.setCurrentText(self.job.queue or "default")
        queue_field = QWidget(group)
        column = QVBoxLayout(queue_field)
        column.setContentsMargins(0, 0, 0, 0)
        column.setSpacing(2)
        column.addWidget(self.queue_box)
        self.queue_error = error_label(queue_field, "queueError")
        column.addWidget(self.queue_error)
        queue_field.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Maximum)  # no gap above the box
        for text, widget, buddy in (("&Priority:", self.priority, self.priority),
                                    ("&Queue:", queue_field, self.queue_box)):  # fmt: skip
            label = QLabel(text, group)
            label.setBuddy(buddy)
            form.addRow(label, widget)
        self.priority.valueChanged.connect(self.validate)
        self.queue_box.editTextChanged.connect(self.validate)
        return group

    def _build_payload(self) -> QGroupBox:
        group = QGroupBox("Payload", self)
        layout = QVBoxLayout(group)
        self.payload_tabs = QTabWidget(group)
        self.payload_tabs.setObjectName("payloadTabs")
        self.form_area = QScrollArea(self.payload_tabs)
        self.form_area.setWidgetResizable(True)
        self.json_editor = JsonEditor(self.payload_tabs)
        self.json_editor.set_value(self.job.payload)
        reason = "this job type declares no payload schema" if self.schema is None else unsupported_reason(self.schema)
        if not reason:
            self.form = SchemaForm(self.schema, self.form_area, job_type=self.job.type)
            if not self.form.set_value(self.job.payload):
                reason = "the form cannot show this job's payload"
                self.form.deleteLater()
                self.form = None
        if self.form is not None:
            self.form_area.setWidget(self.form)
            self.form.changed.connect(self._on_payload_edited)
        else:
            note = QLabel(f"No form for this payload: {reason}. Edit it as JSON.", self.form_area)
            note.setObjectName("noFormReason")
            note.setWordWrap(True)
            note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            note.setMargin(8)
            self.form_area.setWidget(note)
        self.payload_tabs.addTab(self.form_area, "&Form")
        self.payload_tabs.addTab(self.json_editor, "&JSON")
        self.payload_tabs.setCurrentIndex(FORM_TAB if self.form is not None else JSON_TAB)
        self.json_editor.textChanged.connect(self._on_payload_edited)
        self.payload_tabs.currentChanged.connect(self._on_payload_tab)
        layout.addWidget(self.payload_tabs)
        self.json_error = error_label(group, "jsonError")
        layout.addWidget(self.json_error)
        return group

    # -- reading -----------------------------------------------------------------------------
    def _on_payload_edited(self) -> None:
        if not self._loading:
            self.payload_touched = True
        self.validate()

    def _on_payload_tab(self, index: int) -> None:
        """Carry the payload across: the JSON tab shows what the form holds, and back if it can."""
        if self.form is None or self._loading:
            return
        self._loading = True
        try:
            if index == JSON_TAB:
                self.json_editor.set_value(self.form.payload() if self.payload_touched else self.job.payload)
                carried = True
            else:
                value, error = self.json_editor.value()
                carried = not error and self.form.set_value(value)
        finally:
            self._loading = False
        if not carried:  # back to the JSON, as the user wrote it
            self._loading = True
            self.payload_tabs.setCurrentIndex(JSON_TAB)
            self._loading = False
            self.validate()
            self._show(self.json_error, "The form cannot show this payload; edit it as JSON.")
            return
        self.validate()

    def payload(self) -> tuple[Any, list[str]]:
        """The payload as edited, and what is wrong with it (each also shown at its field)."""
        if self.payload_tabs.currentIndex() == FORM_TAB and self.form is not None:
            self._show(self.json_error, "")
            return self.form.payload(), self.form.validate()
        value, error = self.json_editor.value()
        problems = [error] if error else []
        if not error:
            try:
                problems = [describe_where(w, m) for w, m in payload_errors(self.schema, value, job_type=self.job.type)]
            except AcaciaError as exc:
                problems = [str(exc)]
        self._show(self.json_error, "\n".join(problems))
        highlight(self.json_editor, bool(problems))
        return value, problems

    def changes(self) -> dict[str, Any]:
        """What differs from the job: the keyword arguments for JobQueue.edit."""
        changes: dict[str, Any] = {}
        if self.priority.value() != self.job.priority:
            changes["priority"] = self.priority.value()
        name = self.queue_box.currentText().strip()
        if name != (self.job.queue or "default"):
            changes["queue"] = name
        payload, _problems = self.payload()
        if self.payload_touched and payload != self.job.payload:
            changes["payload"] = payload
        return changes

    def validate(self) -> list[str]:
        """Check every field, show each problem next to it; enable Save only when all are fine."""
        queue_text = queue_problem(self.queue_box.currentText().strip())
        self._show(self.queue_error, queue_text)
        highlight(self.queue_box, bool(queue_text))
        problems = ([queue_text] if queue_text else []) + self.payload()[1]
        if self.refused:
            return problems
        self.problem = "\n".join(problems)
        self._show(self.problem_label, "")
        self.ok_button.setEnabled(not problems)
        self.ok_button.setToolTip(self.problem or "Save the changes")
        return problems

    @staticmethod
    def _show(label: QLabel, text: str) -> None:
        label.setText(text)
        label.setVisible(bool(text))

    # -- saving -------------------------------------------------------------------------------
    def accept(self) -> None:
        if self.validate() or self.refused:
            return
        changes = self.changes()
        if not changes:
            super().accept()  # nothing changed: nothing to write
            return
        try:
            self.queue.edit(self.job.id, source=Source.GUI, **changes)
        except InvalidTransitionError:
            current = self.queue.store.get_job(self.job.id)
            state = current.state if current is not None else "gone"
            self._refuse(f"Job {self.job.id} was not changed: it started meanwhile (it is {state} now), and only "
                         "queued or scheduled jobs can be edited.")  # fmt: skip
            return
        except AcaciaError as exc:
            self._show(self.problem_label, f"Job {self.job.id} was not changed: {exc}")
            return
        self.edited.emit(self.job.id)
        super().accept()

    def _refuse(self, text: str) -> None:
        """The job cannot be edited any more: say why, and leave only Cancel (renamed Close)."""
        self.refused = True
        self.problem = text
        self._show(self.problem_label, text)
        self.ok_button.setEnabled(False)
        self.buttons.button(QDialogButtonBox.StandardButton.Cancel).setText("Close")
