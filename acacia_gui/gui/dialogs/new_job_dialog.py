"""NewJobDialog: choose a job type, set its options, fill in its payload — and only then enqueue.

The payload is a form generated from the handler's JSON schema when it can be (see
schema_form), otherwise JSON text. Every edit re-runs the same checks the queue runs
(`JobQueue.prepare` on a throwaway Job: type, options, schema), so the Enqueue button is
enabled exactly when enqueueing would succeed, and the dialog says why when it is not.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import (
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QDoubleSpinBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSpinBox,
    QTabWidget,
    QVBoxLayout,
    QWidget,
)

from ...core.context import Context
from ...core.definitions import MAX_ATTEMPTS, MAX_DELAY, MAX_PRIORITY, MAX_TIMEOUT, Source
from ...core.errors import AcaciaError
from ...core.job import Job
from ...core.queue import JobQueue
from ...core.registry import RegisteredHandler
from ..icons import icon
from .after_field import AfterField
from .json_editor import JsonEditor
from .schema_form import SchemaForm, defaults_of, unsupported_reason

FORM_TAB, JSON_TAB = 0, 1


class NewJobDialog(QDialog):
    """Enqueues one job through `queue` (source "gui"); `job_id` holds its id after accept()."""

    enqueued = Signal(int)

    def __init__(self, queue: JobQueue, *, queue_names: Iterable[str] = (), prefill: Job | None = None,
                 job_type: str | None = None, after: Iterable[int] = (), parent: QWidget | None = None) -> None:  # fmt: skip
        super().__init__(parent)
        self.setObjectName("newJobDialog")
        self.setWindowTitle(f"Duplicate job {prefill.id}" if prefill is not None and prefill.id else "New job")
        self.setWindowIcon(icon("new-job", self.palette()))
        self.resize(640, 620)
        self.queue = queue
        self.job_id: int | None = None
        self.problem = ""
        self.form: SchemaForm | None = None
        self._loading = False
        self._handlers = {h.job_type: h for h in queue.registry}
        layout = QVBoxLayout(self)
        layout.addLayout(self._build_type_row(prefill))
        layout.addWidget(self._build_options(queue_names))
        layout.addWidget(self._build_payload(), 1)
        layout.addLayout(self._build_problem_row())
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Cancel, self)
        self.enqueue_button = self.buttons.addButton("&Enqueue", QDialogButtonBox.ButtonRole.AcceptRole)
        self.enqueue_button.setObjectName("enqueueButton")
        self.enqueue_button.setDefault(True)
        self.buttons.accepted.connect(self.accept)
        self.buttons.rejected.connect(self.reject)
        layout.addWidget(self.buttons)
        self._on_type_changed()
        self.after.set_ids(list(after))  # "New job after this one…"
        if prefill is not None:
            self.load_job(prefill)
        elif job_type is not None:
            self.select_type(job_type)
        self.type_box.setFocus()

    # -- layout ----------------------------------------------------------------------------
    def _build_type_row(self, prefill: Job | None) -> QVBoxLayout:
        box = QVBoxLayout()
        row = QHBoxLayout()
        label = QLabel("Job &type:", self)
        self.type_box = QComboBox(self)
        self.type_box.setObjectName("typeBox")
        self.type_box.setAccessibleName("Job type")
        for handler in sorted(self._handlers.values(), key=lambda h: (h.title or h.job_type).lower()):
            self.type_box.addItem(f"{handler.title or handler.job_type}  ({handler.job_type})", handler.job_type)
        if prefill is not None and prefill.type not in self._handlers:
            self.type_box.addItem(f"{prefill.type}  (no plugin handles this type)", prefill.type)
        label.setBuddy(self.type_box)
        row.addWidget(label)
        row.addWidget(self.type_box, 1)
        box.addLayout(row)
        self.description = QLabel(self)
        self.description.setObjectName("handlerDescription")
        self.description.setWordWrap(True)
        self.description.setTextFormat(Qt.TextFormat.PlainText)
        box.addWidget(self.description)
        self.type_box.currentIndexChanged.connect(self._on_type_changed)
        return box

    def _build_options(self, queue_names: Iterable[str]) -> QGroupBox:
        group = QGroupBox("Options", self)
        form = QFormLayout(group)
        self.queue_box = QComboBox(group)
        self.queue_box.setObjectName("queueBox")
        self.queue_box.setEditable(True)
        self.queue_box.setAccessibleName("Queue")
        self.queue_box.addItems(sorted(set(queue_names) | {"default"}))
        self.priority = QSpinBox(group)
        self.priority.setObjectName("prioritySpin")
        self.priority.setRange(-MAX_PRIORITY, MAX_PRIORITY)
        self.priority.setToolTip("Higher runs first; equal priorities run in order of arrival")
        self.delay = QDoubleSpinBox(group)
        self.delay.setObjectName("delaySpin")
        self.delay.setRange(0, MAX_DELAY)
        self.delay.setDecimals(1)
        self.delay.setSuffix(" s")
        self.delay.setSpecialValueText("Run now")
        self.attempts = QSpinBox(group)
        self.attempts.setObjectName("attemptsSpin")
        self.attempts.setRange(1, MAX_ATTEMPTS)
        self.timeout = QDoubleSpinBox(group)
        self.timeout.setObjectName("timeoutSpin")
        self.timeout.setRange(0, MAX_TIMEOUT)
        self.timeout.setDecimals(1)
        self.timeout.setSuffix(" s")
        self.timeout.setSpecialValueText("No timeout")
        self.after = AfterField(self.queue.store, group)
        for text, widget, name in (("&Queue:", self.queue_box, "Queue"), ("&Priority:", self.priority, "Priority"),
                                   ("&Delay:", self.delay, "Delay in seconds"),
                                   ("Max &attempts:", self.attempts, "Maximum attempts"),
                                   ("Ti&meout:", self.timeout, "Timeout in seconds"),
                                   ("A&fter:", self.after.line, "Run after jobs")):  # fmt: skip
            widget.setAccessibleName(name)
            label = QLabel(text, group)
            label.setBuddy(widget)
            form.addRow(label, self.after if widget is self.after.line else widget)
        self.after.changed.connect(self._validate)
        self.queue_box.editTextChanged.connect(self._validate)
        for spin in (self.priority, self.delay, self.attempts, self.timeout):
            spin.valueChanged.connect(self._validate)
        return group

    def _build_payload(self) -> QGroupBox:
        group = QGroupBox("Payload", self)
        layout = QVBoxLayout(group)
        self.payload_tabs = QTabWidget(group)
        self.payload_tabs.setObjectName("payloadTabs")
        self.form_area = QScrollArea(self.payload_tabs)
        self.form_area.setWidgetResizable(True)
        self.json_editor = JsonEditor(self.payload_tabs)
        self.json_editor.textChanged.connect(self._validate)
        self.payload_tabs.addTab(self.form_area, "&Form")
        self.payload_tabs.addTab(self.json_editor, "&JSON")
        self.payload_tabs.currentChanged.connect(self._on_payload_tab)
        layout.addWidget(self.payload_tabs)
        return group

    def _build_problem_row(self) -> QHBoxLayout:
        row = QHBoxLayout()
        self.problem_icon = QLabel(self)
        self.problem_icon.setPixmap(icon("warning", self.palette()).pixmap(16, 16))
        self.problem_label = QLabel(self)
        self.problem_label.setObjectName("problemLabel")
        self.problem_label.setWordWrap(True)
        self.problem_label.setTextFormat(Qt.TextFormat.PlainText)
        self.problem_label.setAccessibleName("Why the job cannot be enqueued")
        row.addWidget(self.problem_icon, 0, Qt.AlignmentFlag.AlignTop)
        row.addWidget(self.problem_label, 1)
        return row

    # -- type and payload ------------------------------------------------------------------
    @property
    def handler(self) -> RegisteredHandler | None:
        return self._handlers.get(self.type_box.currentData())

    def select_type(self, job_type: str) -> bool:
        index = self.type_box.findData(job_type)
        if index >= 0:
            self.type_box.setCurrentIndex(index)
        return index >= 0

    def _on_type_changed(self) -> None:
        handler = self.handler
        job_type = self.type_box.currentData()
        if handler is None:
            self.description.setText("No loaded plugin handles this type: the job waits until one does." if job_type
                                      else "No job types: add a plugin to the plugin folder (see the Plugins tab).")  # fmt: skip
        else:
            self.description.setText(handler.description or "No description.")
        self._loading = True
        try:
            if handler is not None:
                self._set_option_defaults(handler)
            self._rebuild_form(handler.schema if handler is not None else None)
            payload = defaults_of(handler.schema) if handler is not None and handler.schema else {}
            self._set_payload(payload)
        finally:
            self._loading = False
        self._validate()

    def _set_option_defaults(self, handler: RegisteredHandler) -> None:
        self.queue_box.setCurrentText(handler.queue)
        self.attempts.setValue(handler.max_attempts)
        self.timeout.setValue(handler.timeout or 0)

    def _rebuild_form(self, schema: Any) -> None:
        old = self.form_area.takeWidget()
        if old is not None:
            old.deleteLater()
        self.form = None
        reason = "this job type declares no payload schema" if schema is None else unsupported_reason(schema)
        if not reason:
            self.form = SchemaForm(schema, self.form_area, job_type=self.type_box.currentData() or "")
            self.form.changed.connect(self._validate)
            self.form_area.setWidget(self.form)
            self.payload_tabs.setTabToolTip(FORM_TAB, "The payload as a form, from the handler's schema")
        else:
            why = f"No form for this payload: {reason}. Edit it as JSON."
            note = QLabel(why, self.form_area)
            note.setObjectName("noFormReason")
            note.setWordWrap(True)
            note.setTextFormat(Qt.TextFormat.PlainText)
            note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            note.setMargin(8)
            self.form_area.setWidget(note)
            self.payload_tabs.setTabToolTip(FORM_TAB, why)
        self.payload_tabs.setCurrentIndex(FORM_TAB if self.form is not None else JSON_TAB)

    def _set_payload(self, payload: Any) -> None:
        """Show `payload` in the form if it can hold it, else in the JSON editor."""
        self.json_editor.set_value(payload)
        if self.form is not None and self.form.set_value(payload):
            self.payload_tabs.setCurrentIndex(FORM_TAB)
        else:
            self.payload_tabs.setCurrentIndex(JSON_TAB)

    def _on_payload_tab(self, index: int) -> None:
        """Carry the payload across when the user switches between form and JSON."""
        if self._loading or self.form is None:
            self._validate()
            return
        if index == JSON_TAB:
            payload, _problems = self.form.value()
            self.json_editor.set_value(payload)
        else:
            value, error = self.json_editor.value()
            if error or not self.form.set_value(value):
                self._loading = True
                self.payload_tabs.setCurrentIndex(JSON_TAB)
                self._loading = False
                self._show_problem("The form cannot show this payload; edit it as JSON (or fix the JSON first).")
                return
        self._validate()

    def payload(self) -> tuple[Any, list[str]]:
        """The payload being edited and the problems the editor itself sees."""
        if self.payload_tabs.currentIndex() == FORM_TAB and self.form is not None:
            return self.form.value()
        value, error = self.json_editor.value()
        return value, [error] if error else []

    def load_job(self, job: Job) -> None:
        """Prefill from an existing job (Duplicate): type, options and payload."""
        self.select_type(job.type)
        self._loading = True
        try:
            self.queue_box.setCurrentText(job.queue or "default")
            self.priority.setValue(job.priority)
            self.attempts.setValue(job.max_attempts or 1)
            self.timeout.setValue(job.timeout or 0)
            self.delay.setValue(0)
            self._set_payload(job.payload)
        finally:
            self._loading = False
        self._validate()

    # -- checking and enqueueing -------------------------------------------------------------
    def build_job(self) -> Job:
        payload, _ = self.payload()
        return Job(
            self.type_box.currentData() or "",
            payload,
            queue=self.queue_box.currentText().strip() or None,
            priority=self.priority.value(),
            delay=self.delay.value(),
            max_attempts=self.attempts.value(),
            timeout=self.timeout.value() or None,
            after=self.after.ids(),
            after_policy=self.after.policy(),
        )

    def _validate(self) -> None:
        if self._loading:
            return
        problems: list[str] = []
        if not self.type_box.currentData():
            problems.append("Choose a job type.")
        if self.payload_tabs.currentIndex() == FORM_TAB and self.form is not None:
            payload_problems = self.form.validate()  # every error, each also shown under its field
        else:
            payload_problems = self.payload()[1]
        problems.extend(payload_problems)
        problems.extend(self.after.problems())  # also shown under the field
        if not problems:
            try:
                self.queue.prepare(self.build_job())
            except AcaciaError as exc:
                problems.append(str(exc))
        self._show_problem("\n".join(problems))

    def _show_problem(self, text: str) -> None:
        self.problem = text
        self.problem_label.setText(text)
        self.problem_icon.setVisible(bool(text))
        self.problem_label.setVisible(bool(text))
        self.enqueue_button.setEnabled(not text)
        self.enqueue_button.setToolTip(text or "Put the job in its queue")

    def accept(self) -> None:
        self._validate()
        if self.problem:
            return
        try:
            self.job_id = self.queue.enqueue(Context.background(), self.build_job(), source=Source.GUI)
        except AcaciaError as exc:
            self._show_problem(str(exc))
            return
        self.enqueued.emit(self.job_id)
        super().accept()
