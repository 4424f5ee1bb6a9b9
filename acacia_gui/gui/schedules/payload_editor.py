"""PayloadEditor: a job payload as the handler's schema form, with a JSON tab for the rest.

The New-job and Edit dialogs build the same two tabs inline; a schedule's dialog swaps the
schema whenever its (editable) type changes, so the pair lives here as one widget: the
form from `SchemaForm` when the schema allows one, the `JsonEditor` otherwise, the payload
carried across when the user switches tabs, and every problem shown at its field.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QLabel, QScrollArea, QTabWidget, QVBoxLayout, QWidget

from ...core.errors import AcaciaError
from ...plugins.schema import describe_where, payload_errors
from ..dialogs.edit_job_dialog import error_label
from ..dialogs.json_editor import JsonEditor
from ..dialogs.schema_fields import highlight
from ..dialogs.schema_form import SchemaForm, unsupported_reason

FORM_TAB, JSON_TAB = 0, 1


class PayloadEditor(QWidget):
    """Edits one payload against `schema` (None: any JSON); `changed` on every edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("payloadEditor")
        self.schema: Any = None
        self.job_type = ""
        self.form: SchemaForm | None = None
        self._loading = False
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        self.tabs = QTabWidget(self)
        self.tabs.setObjectName("payloadTabs")
        self.form_area = QScrollArea(self.tabs)
        self.form_area.setWidgetResizable(True)
        self.json_editor = JsonEditor(self.tabs)
        self.tabs.addTab(self.form_area, "&Form")
        self.tabs.addTab(self.json_editor, "&JSON")
        layout.addWidget(self.tabs, 1)
        self.json_error = error_label(self, "jsonError")
        layout.addWidget(self.json_error)
        self.json_editor.textChanged.connect(self._on_edited)
        self.tabs.currentChanged.connect(self._on_tab)

    # -- schema and value --------------------------------------------------------------------
    def set_schema(self, schema: Any, job_type: str, payload: Any) -> None:
        """A new type was chosen: rebuild the form for its schema and show `payload` in it if it can."""
        self.schema, self.job_type = schema, job_type
        old = self.form_area.takeWidget()
        if old is not None:
            old.deleteLater()
        self.form = None
        reason = "this job type declares no payload schema" if schema is None else unsupported_reason(schema)
        if not reason:
            self.form = SchemaForm(schema, self.form_area, job_type=job_type)
            self.form.changed.connect(self._on_edited)
            self.form_area.setWidget(self.form)
        else:
            note = QLabel(f"No form for this payload: {reason}. Edit it as JSON.", self.form_area)
            note.setObjectName("noFormReason")
            note.setWordWrap(True)
            note.setTextFormat(Qt.TextFormat.PlainText)
            note.setAlignment(Qt.AlignmentFlag.AlignTop | Qt.AlignmentFlag.AlignLeft)
            note.setMargin(8)
            self.form_area.setWidget(note)
        self.set_value(payload)

    def set_value(self, payload: Any) -> None:
        """Show `payload` in the form if it can hold it, else in the JSON editor; `changed` once."""
        self._loading = True
        try:
            self.json_editor.set_value(payload)
            in_form = self.form is not None and self.form.set_value(payload)
            self.tabs.setCurrentIndex(FORM_TAB if in_form else JSON_TAB)
        finally:
            self._loading = False
        self.changed.emit()

    def value(self) -> tuple[Any, list[str]]:
        """The payload as edited and what is wrong with it, each problem also shown at its field."""
        if self.tabs.currentIndex() == FORM_TAB and self.form is not None:
            self._show_json_error([])
            return self.form.payload(), self.form.validate()
        value, error = self.json_editor.value()
        problems = [error] if error else []
        if not error:
            try:
                problems = [describe_where(w, m) for w, m in payload_errors(self.schema, value, job_type=self.job_type)]
            except AcaciaError as exc:
                problems = [str(exc)]
        self._show_json_error(problems)
        return value, problems

    # -- reacting -----------------------------------------------------------------------------
    def _on_edited(self) -> None:
        if not self._loading:
            self.changed.emit()

    def _on_tab(self, index: int) -> None:
        """Carry the payload across tabs; a JSON payload the form cannot show keeps the JSON tab."""
        if self._loading or self.form is None:
            self.changed.emit()
            return
        if index == JSON_TAB:
            self._loading = True
            self.json_editor.set_value(self.form.payload())
            self._loading = False
        else:
            value, error = self.json_editor.value()
            if error or not self.form.set_value(value):
                self._loading = True
                self.tabs.setCurrentIndex(JSON_TAB)
                self._loading = False
                self.changed.emit()
                self.json_error.setText("The form cannot show this payload; edit it as JSON (or fix the JSON first).")
                self.json_error.setVisible(True)
                return
        self.changed.emit()

    def _show_json_error(self, problems: list[str]) -> None:
        self.json_error.setText("\n".join(problems))
        self.json_error.setVisible(bool(problems))
        highlight(self.json_editor, bool(problems))
