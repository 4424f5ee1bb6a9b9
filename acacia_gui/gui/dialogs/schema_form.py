"""SchemaForm: a payload form generated from a handler's JSON schema.

Supported: an object schema whose properties are strings (with `enum` → drop-down,
`format: "path"` → file/folder chooser), numbers, integers, booleans and enums. Anything
else (nested objects, arrays, type unions) is not guessed at: `supports()` says no and the
dialog uses its JSON editor. Full validation is jsonschema's job (the dialog runs it);
the form only reports what it can say better: a required field left empty, a number
that is not a number.

Path choosers: `"x-acacia-path": "file" | "folder"` picks one; otherwise a property
whose name or title mentions a folder/directory gets a folder chooser, else a file
chooser — and the button's menu always offers both.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDoubleSpinBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QSpinBox,
    QToolButton,
    QWidget,
)

SCALAR_TYPES = ("string", "number", "integer", "boolean")
INT_LIMIT = 2**31 - 1
FLOAT_LIMIT = 1e15
FOLDER_WORDS = ("folder", "directory", "dir", "cwd")


def _type_of(prop: dict[str, Any]) -> str | None:
    kind = prop.get("type")
    if isinstance(kind, str):
        return kind
    if kind is None and isinstance(prop.get("enum"), list):
        return "enum"
    return None


def supports(schema: Any) -> bool:
    """True if every property is a scalar or an enum of scalars, so a form can show all of it."""
    if not isinstance(schema, dict) or schema.get("type", "object") != "object":
        return False
    props = schema.get("properties")
    if not isinstance(props, dict):
        return False
    for prop in props.values():
        if not isinstance(prop, dict):
            return False
        kind = _type_of(prop)
        enum = prop.get("enum")
        if enum is not None and not (isinstance(enum, list) and enum and all(_is_scalar(v) for v in enum)):
            return False
        if kind not in (*SCALAR_TYPES, "enum"):
            return False
    return True


def has_path_property(schema: Any) -> str | None:
    """The first property with `format: "path"` (drag-and-drop offers the handler), or None."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return None
    for name, prop in schema["properties"].items():
        if isinstance(prop, dict) and prop.get("format") == "path" and prop.get("type", "string") == "string":
            return name
    return None


def defaults_of(schema: Any) -> dict[str, Any]:
    """The `default` of each property that declares one."""
    props = schema.get("properties", {}) if isinstance(schema, dict) else {}
    return {name: prop["default"] for name, prop in props.items() if isinstance(prop, dict) and "default" in prop}


def _is_scalar(value: Any) -> bool:
    return value is None or isinstance(value, str | int | float | bool)


def path_kind(name: str, prop: dict[str, Any]) -> str:
    hint = prop.get("x-acacia-path")
    if hint in ("file", "folder"):
        return hint
    words = f"{name} {prop.get('title', '')}".lower().replace("_", " ")
    return "folder" if any(word in words.split() for word in FOLDER_WORDS) else "file"


@dataclass
class _Field:
    name: str
    prop: dict[str, Any]
    required: bool
    kind: str
    widget: QWidget
    editor: QWidget  # the focusable control (the line edit inside a path row)

    @property
    def title(self) -> str:
        return str(self.prop.get("title") or self.name)


class SchemaForm(QWidget):
    """Edits a payload dict; emits `changed` on every edit."""

    changed = Signal()

    def __init__(self, schema: dict[str, Any], parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("schemaForm")
        self.schema = schema
        self.fields: dict[str, _Field] = {}
        layout = QFormLayout(self)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        required = set(schema.get("required") or ())
        for name, prop in (schema.get("properties") or {}).items():
            field = self._make_field(name, prop, name in required)
            self.fields[name] = field
            label = QLabel(f"{field.title}{' *' if field.required else ''}:", self)
            label.setBuddy(field.editor)
            field.editor.setAccessibleName(field.title)
            if prop.get("description"):
                field.editor.setToolTip(str(prop["description"]))
                field.editor.setAccessibleDescription(str(prop["description"]))
            if field.kind == "boolean":
                layout.addRow("", field.widget)
            else:
                layout.addRow(label, field.widget)
        if not self.fields:
            layout.addRow(QLabel("This job type takes no payload fields.", self))
        self.set_value(defaults_of(schema))

    # -- building ---------------------------------------------------------------------
    def _make_field(self, name: str, prop: dict[str, Any], required: bool) -> _Field:
        kind = "enum" if isinstance(prop.get("enum"), list) else (_type_of(prop) or "string")
        if kind == "enum":
            box = QComboBox(self)
            if not required:
                box.addItem("(not set)", None)
            for value in prop["enum"]:
                box.addItem(str(value), value)
            box.currentIndexChanged.connect(self.changed)
            return _Field(name, prop, required, kind, box, box)
        if kind == "boolean":
            check = QCheckBox(str(prop.get("title") or name), self)
            check.toggled.connect(self.changed)
            return _Field(name, prop, required, kind, check, check)
        if kind in ("number", "integer") and (required or "default" in prop):
            spin = self._spin(prop, kind)
            spin.valueChanged.connect(self.changed)
            return _Field(name, prop, required, kind, spin, spin)
        edit = QLineEdit(self)
        edit.textChanged.connect(self.changed)
        if kind in ("number", "integer"):
            edit.setPlaceholderText("optional number" if kind == "number" else "optional whole number")
            return _Field(name, prop, required, kind, edit, edit)
        if isinstance(prop.get("maxLength"), int):
            edit.setMaxLength(prop["maxLength"])
        if not required:
            edit.setPlaceholderText("optional")
        if prop.get("format") == "path":
            return _Field(name, prop, required, "path", self._path_row(name, prop, edit), edit)
        return _Field(name, prop, required, "string", edit, edit)

    def _spin(self, prop: dict[str, Any], kind: str) -> QSpinBox | QDoubleSpinBox:
        low, high = _bounds(prop, kind)
        if kind == "integer":
            spin: QSpinBox | QDoubleSpinBox = QSpinBox(self)
            spin.setRange(int(max(low, -INT_LIMIT)), int(min(high, INT_LIMIT)))
        else:
            spin = QDoubleSpinBox(self)
            spin.setDecimals(3)
            spin.setRange(max(low, -FLOAT_LIMIT), min(high, FLOAT_LIMIT))
        spin.setAccelerated(True)
        return spin

    def _path_row(self, name: str, prop: dict[str, Any], edit: QLineEdit) -> QWidget:
        row = QWidget(self)
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(edit, 1)
        button = QToolButton(row)
        button.setObjectName(f"browse-{name}")
        kind = path_kind(name, prop)
        button.setText("Choose folder…" if kind == "folder" else "Choose file…")
        button.setAccessibleName(f"Choose {str(prop.get('title') or name).lower()}")
        menu = QMenu(button)
        menu.addAction("Choose a file…", lambda: self._browse(edit, "file"))
        menu.addAction("Choose a folder…", lambda: self._browse(edit, "folder"))
        button.setMenu(menu)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        button.clicked.connect(lambda: self._browse(edit, kind))
        layout.addWidget(button)
        return row

    def _browse(self, edit: QLineEdit, kind: str) -> None:
        start = edit.text() or ""
        if kind == "folder":
            chosen = QFileDialog.getExistingDirectory(self, "Choose a folder", start)
        else:
            chosen, _ = QFileDialog.getOpenFileName(self, "Choose a file", start)
        if chosen:
            edit.setText(chosen)

    # -- reading and writing -------------------------------------------------------------
    def set_value(self, payload: Any) -> bool:
        """Fill the form from a payload; False if it holds something the form cannot show."""
        if not isinstance(payload, dict):
            return False
        if set(payload) - set(self.fields):
            return False
        for name, field in self.fields.items():
            if name in payload and not self._set_field(field, payload[name]):
                return False
            if name not in payload:
                self._clear_field(field)
        return True

    def _set_field(self, field: _Field, value: Any) -> bool:
        widget = field.widget
        if field.kind == "enum":
            assert isinstance(widget, QComboBox)
            for i in range(widget.count()):
                if widget.itemData(i) == value and type(widget.itemData(i)) is type(value):
                    widget.setCurrentIndex(i)
                    return True
            return False
        if field.kind == "boolean":
            if not isinstance(value, bool):
                return False
            widget.setChecked(value)  # type: ignore[attr-defined]
            return True
        if isinstance(widget, QSpinBox | QDoubleSpinBox):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False
            widget.setValue(value)
            return widget.value() == value
        if field.kind in ("number", "integer"):
            if isinstance(value, bool) or not isinstance(value, int | float):
                return False
            field.editor.setText(repr(value))  # type: ignore[attr-defined]
            return True
        if not isinstance(value, str):
            return False
        field.editor.setText(value)  # type: ignore[attr-defined]
        return True

    def _clear_field(self, field: _Field) -> None:
        if field.kind == "enum":
            field.widget.setCurrentIndex(0)  # type: ignore[attr-defined]
        elif field.kind == "boolean":
            field.widget.setChecked(False)  # type: ignore[attr-defined]
        elif isinstance(field.widget, QSpinBox | QDoubleSpinBox):
            field.widget.setValue(max(0, field.widget.minimum()))
        else:
            field.editor.setText("")  # type: ignore[attr-defined]

    def value(self) -> tuple[dict[str, Any], list[str]]:
        """(payload, problems): problems name the field in words a user knows."""
        payload: dict[str, Any] = {}
        problems: list[str] = []
        for name, field in self.fields.items():
            present, value, problem = self._read_field(field)
            if problem:
                problems.append(problem)
            elif present:
                payload[name] = value
        return payload, problems

    def _read_field(self, field: _Field) -> tuple[bool, Any, str]:
        widget = field.widget
        if field.kind == "enum":
            value = widget.currentData()  # type: ignore[attr-defined]
            present = field.required or widget.currentIndex() > 0  # type: ignore[attr-defined]
            return present, value, ""
        if field.kind == "boolean":
            return True, widget.isChecked(), ""  # type: ignore[attr-defined]
        if isinstance(widget, QSpinBox):
            return True, widget.value(), ""
        if isinstance(widget, QDoubleSpinBox):
            value = widget.value()
            return True, int(value) if value.is_integer() else value, ""
        text = field.editor.text()  # type: ignore[attr-defined]
        if field.kind in ("number", "integer"):
            return _parse_number(field, text.strip())
        if not text:
            return False, None, f"“{field.title}” is required." if field.required else ""
        return True, text, ""


def _parse_number(field: _Field, text: str) -> tuple[bool, Any, str]:
    if not text:
        return False, None, f"“{field.title}” is required." if field.required else ""
    try:
        value: float | int = int(text) if field.kind == "integer" else float(text)
    except ValueError:
        whole = "a whole number" if field.kind == "integer" else "a number"
        return False, None, f"“{field.title}” must be {whole}, not {text!r}."
    if isinstance(value, float):
        if not math.isfinite(value):
            return False, None, f"“{field.title}” must be a finite number."
        if value.is_integer():
            value = int(value)
    return True, value, ""


def _bounds(prop: dict[str, Any], kind: str) -> tuple[float, float]:
    step = 1 if kind == "integer" else 0.001
    low, high = -FLOAT_LIMIT, FLOAT_LIMIT
    if isinstance(prop.get("minimum"), int | float):
        low = prop["minimum"]
    if isinstance(prop.get("exclusiveMinimum"), int | float):
        low = prop["exclusiveMinimum"] + step
    if isinstance(prop.get("maximum"), int | float):
        high = prop["maximum"]
    if isinstance(prop.get("exclusiveMaximum"), int | float):
        high = prop["exclusiveMaximum"] - step
    return low, high
