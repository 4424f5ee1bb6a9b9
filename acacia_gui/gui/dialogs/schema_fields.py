"""Field editors for SchemaForm: the base FieldEditor and the scalar fields (string, path,
number, boolean, enum). Arrays and objects, which hold other fields, are in schema_containers.

Each editor owns a `widget` (what goes in the form: the control and, under it, the
field's error line) and an `editor` (the control that takes focus). Editors never fix
what the user typed: a number is kept as typed and the schema's validation says what is
wrong with it, next to the field (`show_errors`). Not QObjects: they report edits
through the `changed` callback they are given.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QFileDialog,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QMenu,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

Where = tuple[str | int, ...]
Errors = list[tuple[Where, str]]
SCALAR_TYPES = ("string", "number", "integer", "boolean")
PATH_FORMATS = ("path", "file", "directory")
FOLDER_WORDS = ("folder", "directory", "dir", "cwd")
ERROR_STYLE = """
QLineEdit[invalid="true"], QComboBox[invalid="true"] { border: 2px solid #d32f2f; border-radius: 3px; padding: 1px; }
QCheckBox[invalid="true"] { color: #d32f2f; }
QLabel#fieldError { color: #d32f2f; }
"""


def path_kind(name: str, prop: dict[str, Any]) -> str:
    """"file" or "folder": `x-acacia-path` or the format decide, else the name's words."""
    hint = prop.get("x-acacia-path")
    if hint in ("file", "folder"):
        return hint
    if prop.get("format") in ("file", "directory"):
        return "folder" if prop["format"] == "directory" else "file"
    words = f"{name} {prop.get('title', '')}".lower().replace("_", " ")
    return "folder" if any(word in words.split() for word in FOLDER_WORDS) else "file"


def range_hint(prop: dict[str, Any]) -> str:
    """'from 1 to 9', 'at least 0', 'below 10', or ''."""
    low = prop.get("minimum", prop.get("exclusiveMinimum"))
    high = prop.get("maximum", prop.get("exclusiveMaximum"))
    low_word = "above" if "exclusiveMinimum" in prop and "minimum" not in prop else "at least"
    high_word = "below" if "exclusiveMaximum" in prop and "maximum" not in prop else "at most"
    if low is not None and high is not None and low_word == "at least" and high_word == "at most":
        return f"from {low:g} to {high:g}"
    parts = [f"{low_word} {low:g}" if low is not None else "", f"{high_word} {high:g}" if high is not None else ""]
    return ", ".join(p for p in parts if p)


class FieldEditor:
    """One property: `read()` → (present, value), `set_value()`, `reset()`, `show_errors()`."""

    kind = "string"

    def __init__(self, name: str, prop: dict[str, Any], required: bool, changed: Callable[[], None],
                 parent: QWidget) -> None:  # fmt: skip
        self.name, self.prop, self.required = name, prop, required
        self.notify = changed
        self.changed = lambda *_args: changed()  # signals pass their value along
        self.widget = QWidget(parent)
        box = QVBoxLayout(self.widget)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(2)
        self.editor = self.build(self.widget)
        box.addWidget(self.editor)
        self.error_label = QLabel(self.widget)
        self.error_label.setObjectName("fieldError")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        box.addWidget(self.error_label)
        self.editor.setAccessibleName(self.title)
        if prop.get("description"):
            self.editor.setToolTip(str(prop["description"]))
            self.editor.setAccessibleDescription(str(prop["description"]))

    @property
    def title(self) -> str:
        return str(self.prop.get("title") or self.name)

    @property
    def errors(self) -> list[str]:
        return self.error_label.text().splitlines() if self.error_label.isVisibleTo(self.widget) else []

    def build(self, parent: QWidget) -> QWidget:
        raise NotImplementedError

    def read(self) -> tuple[bool, Any]:
        raise NotImplementedError

    def set_value(self, value: Any) -> bool:
        raise NotImplementedError

    def clear(self) -> None:
        raise NotImplementedError

    def reset(self) -> None:
        """Back to the schema's default, or empty."""
        if "default" not in self.prop or not self.set_value(self.prop["default"]):
            self.clear()

    def show_errors(self, errors: Errors) -> None:
        """Show the messages about this field (paths relative to it) under it, and highlight it."""
        messages = [message for _where, message in errors]
        self.error_label.setText("\n".join(messages))
        self.error_label.setVisible(bool(messages))
        highlight(self.editor, bool(messages))


def highlight(widget: QWidget, on: bool) -> None:
    if bool(widget.property("invalid")) != on:
        widget.setProperty("invalid", on)
        widget.style().unpolish(widget)
        widget.style().polish(widget)


class StringField(FieldEditor):
    def build(self, parent: QWidget) -> QWidget:
        self.line = QLineEdit(parent)
        self.line.textChanged.connect(self.changed)
        if not self.required:
            self.line.setPlaceholderText("optional")
        return self.line

    def read(self) -> tuple[bool, Any]:
        text = self.line.text()
        return bool(text), text

    def set_value(self, value: Any) -> bool:
        if not isinstance(value, str):
            return False
        self.line.setText(value)
        return True

    def clear(self) -> None:
        self.line.setText("")

    def show_errors(self, errors: Errors) -> None:
        super().show_errors(errors)
        highlight(self.line, bool(errors))


class PathField(StringField):
    kind = "path"

    def build(self, parent: QWidget) -> QWidget:
        row = QWidget(parent)
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(super().build(row), 1)
        self.browse_button = button = QToolButton(row)
        button.setObjectName(f"browse-{self.name}")
        kind = path_kind(self.name, self.prop)
        button.setText("Choose folder…" if kind == "folder" else "Choose file…")
        button.setAccessibleName(f"Choose {self.title.lower()}")
        menu = QMenu(button)
        menu.addAction("Choose a file…", lambda: self._browse("file"))
        menu.addAction("Choose a folder…", lambda: self._browse("folder"))
        button.setMenu(menu)
        button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        button.clicked.connect(lambda: self._browse(kind))
        layout.addWidget(button)
        row.setFocusProxy(self.line)
        return row

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.editor = self.line  # the focusable control is the line edit, not its row
        self.line.setAccessibleName(self.title)

    def _browse(self, kind: str) -> None:
        start = self.line.text() or ""
        if kind == "folder":
            chosen = QFileDialog.getExistingDirectory(self.widget, "Choose a folder", start)
        else:
            chosen, _ = QFileDialog.getOpenFileName(self.widget, "Choose a file", start)
        if chosen:
            self.line.setText(chosen)


class NumberField(FieldEditor):
    """A line edit: what the user types stays as typed; the schema says if it is out of range."""

    def build(self, parent: QWidget) -> QWidget:
        self.kind = str(self.prop.get("type"))
        self.line = QLineEdit(parent)
        self.line.textChanged.connect(self.changed)
        hint = range_hint(self.prop)
        whole = "whole number" if self.kind == "integer" else "number"
        self.line.setPlaceholderText(f"{'' if self.required else 'optional '}{whole}{', ' + hint if hint else ''}")
        if not hint:
            return self.line
        self.line.setToolTip(f"A {whole} {hint}")
        row = QWidget(parent)
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(self.line, 1)
        self.hint_label = QLabel(hint, row)
        self.hint_label.setObjectName("rangeHint")
        self.hint_label.setEnabled(False)  # drawn in the muted colour of a hint
        layout.addWidget(self.hint_label)
        row.setFocusProxy(self.line)
        return row

    def __init__(self, *args: Any) -> None:
        super().__init__(*args)
        self.editor = self.line  # the focusable control is the line edit, not its row
        self.line.setAccessibleName(self.title)

    def read(self) -> tuple[bool, Any]:
        text = self.line.text().strip()
        if not text:
            return False, None
        try:
            return True, int(text)
        except ValueError:
            pass
        try:
            value = float(text)
        except ValueError:
            return True, text  # kept as typed: the schema says it is not a number
        if not math.isfinite(value):
            return True, text
        return True, int(value) if value.is_integer() and self.kind == "integer" else value

    def set_value(self, value: Any) -> bool:
        if isinstance(value, bool) or not isinstance(value, int | float):
            return False
        self.line.setText(repr(value))
        return True

    def clear(self) -> None:
        self.line.setText("")


class BoolField(FieldEditor):
    kind = "boolean"

    def build(self, parent: QWidget) -> QWidget:
        self.check = QCheckBox(self.title, parent)
        self.check.toggled.connect(self.changed)
        return self.check

    def read(self) -> tuple[bool, Any]:
        return True, self.check.isChecked()

    def set_value(self, value: Any) -> bool:
        if not isinstance(value, bool):
            return False
        self.check.setChecked(value)
        return True

    def clear(self) -> None:
        self.check.setChecked(False)


class EnumField(FieldEditor):
    kind = "enum"

    def build(self, parent: QWidget) -> QWidget:
        self.box = QComboBox(parent)
        if not self.required:
            self.box.addItem("(not set)", None)
        for value in self.prop["enum"]:
            self.box.addItem(str(value), value)
        self.box.currentIndexChanged.connect(self.changed)
        return self.box

    def read(self) -> tuple[bool, Any]:
        return self.required or self.box.currentIndex() > 0, self.box.currentData()

    def set_value(self, value: Any) -> bool:
        start = 0 if self.required else 1
        for i in range(start, self.box.count()):
            data = self.box.itemData(i)
            if data == value and type(data) is type(value):
                self.box.setCurrentIndex(i)
                return True
        return False

    def clear(self) -> None:
        self.box.setCurrentIndex(0)
