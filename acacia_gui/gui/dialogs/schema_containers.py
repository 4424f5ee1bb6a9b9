"""Container fields for SchemaForm: objects and arrays, which hold other fields, and
`make_field`, which picks the editor for a property (a container builds its children
with it). The scalar fields and the FieldEditor base are in schema_fields.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from PySide6.QtWidgets import QFormLayout, QGroupBox, QHBoxLayout, QLabel, QToolButton, QVBoxLayout, QWidget

from .schema_fields import (
    PATH_FORMATS,
    BoolField,
    EnumField,
    Errors,
    FieldEditor,
    NumberField,
    PathField,
    StringField,
)


def make_field(name: str, prop: dict[str, Any], required: bool, changed: Callable[[], None],
               parent: QWidget) -> FieldEditor:  # fmt: skip
    """The editor for one property (the schema was checked by `unsupported_reason` first)."""
    kind = "enum" if isinstance(prop.get("enum"), list) else str(prop.get("type") or "string")
    cls = {"enum": EnumField, "boolean": BoolField, "number": NumberField, "integer": NumberField,
           "array": ArrayField, "object": ObjectField}.get(kind)  # fmt: skip
    if cls is None:
        cls = PathField if prop.get("format") in PATH_FORMATS or "x-acacia-path" in prop else StringField
    return cls(name, prop, required, changed, parent)


def fill_form(layout: QFormLayout, fields: dict[str, FieldEditor], parent: QWidget) -> None:
    """One row per field; a check box carries its own label (a second one would float loose)."""
    for field in fields.values():
        if isinstance(field, BoolField):
            layout.addRow(field.widget)
            continue
        label = QLabel(f"{field.title}{' *' if field.required else ''}:", parent)
        label.setBuddy(field.editor)
        layout.addRow(label, field.widget)


class ObjectField(FieldEditor):
    """A nested object: its properties in a group box."""

    kind = "object"

    def build(self, parent: QWidget) -> QWidget:
        group = QGroupBox(parent)
        layout = QFormLayout(group)
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        required = set(self.prop.get("required") or ())
        self.fields = {name: make_field(name, sub, name in required, self.notify, group)
                       for name, sub in (self.prop.get("properties") or {}).items()}  # fmt: skip
        fill_form(layout, self.fields, group)
        return group

    def read(self) -> tuple[bool, Any]:
        value: dict[str, Any] = {}
        for name, field in self.fields.items():
            present, item = field.read()
            if present:
                value[name] = item
        touched = any(item is not False for item in value.values())
        return self.required or touched, value

    def set_value(self, value: Any) -> bool:
        if not isinstance(value, dict) or set(value) - set(self.fields):
            return False
        for name, field in self.fields.items():
            if name not in value:
                field.clear()
            elif not field.set_value(value[name]):
                return False
        return True

    def clear(self) -> None:
        for field in self.fields.values():
            field.clear()

    def reset(self) -> None:
        if "default" in self.prop and self.set_value(self.prop["default"]):
            return
        for field in self.fields.values():
            field.reset()

    def show_errors(self, errors: Errors) -> None:
        super().show_errors(route(errors, self.fields))


def route(errors: Errors, fields: dict[str, FieldEditor]) -> Errors:
    """Hand each field the errors under its name; return those about the object itself."""
    own: Errors = []
    by_field: dict[str, Errors] = {name: [] for name in fields}
    for where, message in errors:
        if where and where[0] in by_field:
            by_field[str(where[0])].append((where[1:], message))
        else:
            own.append((where, message))
    for name, field in fields.items():
        field.show_errors(by_field[name])
    return own


class ArrayField(FieldEditor):
    """A list: one editor per item, each with a Remove button, and an Add button."""

    kind = "array"

    def build(self, parent: QWidget) -> QWidget:
        self.items: list[FieldEditor] = []
        self.rows: list[QWidget] = []
        frame = QWidget(parent)
        layout = QVBoxLayout(frame)
        layout.setContentsMargins(0, 0, 0, 0)
        self.rows_layout = QVBoxLayout()
        layout.addLayout(self.rows_layout)
        self.add_button = QToolButton(frame)
        self.add_button.setObjectName(f"add-{self.name}")
        self.add_button.setText("Add")
        self.add_button.setAccessibleName(f"Add an item to {self.title}")
        self.add_button.clicked.connect(lambda: self.add_item())
        hint = self._count_hint()
        if hint:
            self.add_button.setToolTip(hint)
        layout.addWidget(self.add_button)
        return frame

    def _count_hint(self) -> str:
        low, high = self.prop.get("minItems"), self.prop.get("maxItems")
        if low and high is not None:
            return f"{low} to {high} items"
        return f"at least {low} item(s)" if low else (f"at most {high} item(s)" if high is not None else "")

    def add_item(self, value: Any = None) -> FieldEditor:
        item_schema = self.prop.get("items") or {}
        item = make_field(f"{self.title} item", item_schema, True, self.notify, self.editor)
        item.editor.setAccessibleName(f"{self.title}, item {len(self.items) + 1}")
        row = QWidget(self.editor)
        layout = QHBoxLayout(row)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.addWidget(item.widget, 1)
        remove = QToolButton(row)
        remove.setObjectName("removeItem")
        remove.setText("Remove")
        remove.setAccessibleName(f"Remove item {len(self.items) + 1} of {self.title}")
        remove.clicked.connect(lambda: self.remove_item(self.items.index(item)))
        layout.addWidget(remove)
        self.items.append(item)
        self.rows.append(row)
        self.rows_layout.addWidget(row)
        if value is None or not item.set_value(value):
            item.reset()
        self.changed()
        return item

    def remove_item(self, index: int) -> None:
        self.items.pop(index)
        row = self.rows.pop(index)
        row.hide()
        row.deleteLater()
        self.changed()

    def read(self) -> tuple[bool, Any]:
        values = []
        for item in self.items:
            present, value = item.read()
            values.append(value if present else "")
        return self.required or bool(values), values

    def set_value(self, value: Any) -> bool:
        if not isinstance(value, list):
            return False
        self.clear()
        for element in value:
            item = self.add_item()
            if not item.set_value(element):
                return False
        return True

    def clear(self) -> None:
        while self.items:
            self.remove_item(len(self.items) - 1)

    def show_errors(self, errors: Errors) -> None:
        own: Errors = []
        by_item: list[Errors] = [[] for _ in self.items]
        for where, message in errors:
            if where and isinstance(where[0], int) and where[0] < len(self.items):
                by_item[where[0]].append((where[1:], message))
            else:
                own.append((where, message))
        for item, item_errors in zip(self.items, by_item, strict=True):
            item.show_errors(item_errors)
        super().show_errors(own)
