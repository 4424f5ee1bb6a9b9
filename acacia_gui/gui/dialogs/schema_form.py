"""SchemaForm: a payload form generated from a handler's JSON schema.

Shown as a form: objects (nested ones in a group box), arrays (a row per item, Add and
Remove), enums (a drop-down), numbers and integers (typed as text, with the range as a
hint: never clamped), booleans, strings, and paths (`format: "path" | "file" |
"directory"`, or `x-acacia-path`) with a chooser; defaults fill the form. What a form
cannot show honestly (oneOf/anyOf/allOf, $ref, type unions, tuples, free-form objects) is
refused by `unsupported_reason`, which says why in words the dialog shows.

Validation is the queue's own (plugins.schema.payload_errors, jsonschema): every error
at once, each under its field with the field highlighted, worded as the queue words it.

Path choosers: `"x-acacia-path": "file" | "folder"` picks one; otherwise a property
whose name or title mentions a folder/directory gets a folder chooser, else a file
chooser — and the button's menu always offers both.
"""

from __future__ import annotations

from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QFormLayout, QLabel, QVBoxLayout, QWidget

from ...core.errors import AcaciaError
from ...plugins.schema import describe_where, payload_errors
from .schema_containers import fill_form, make_field, route
from .schema_fields import ERROR_STYLE, PATH_FORMATS, SCALAR_TYPES, Errors, FieldEditor, path_kind

__all__ = ["SchemaForm", "defaults_of", "has_path_property", "path_kind", "supports", "unsupported_reason"]
NOT_SHOWN = ("oneOf", "anyOf", "allOf", "not", "if", "$ref", "$dynamicRef", "dependentSchemas", "patternProperties",
             "prefixItems", "const")  # fmt: skip


def unsupported_reason(schema: Any) -> str:
    """'' if a form can show every part of `schema`, else why not (one sentence, no final period)."""
    if not isinstance(schema, dict):
        return "the payload schema is not an object schema"
    if schema.get("type", "object") != "object":
        return f"the payload is a {schema.get('type')}, not an object with fields"
    if not isinstance(schema.get("properties"), dict):
        return "the payload schema lists no properties"
    return _object_reason(schema, "payload")


def _object_reason(schema: dict[str, Any], where: str) -> str:
    for key in NOT_SHOWN:
        if key in schema:
            return f"{where} uses “{key}”, which a form cannot show"
    props = schema.get("properties")
    if not isinstance(props, dict):
        return f"{where} is an object without listed properties"
    for name, prop in props.items():
        reason = _property_reason(prop, f"{where}.{name}")
        if reason:
            return reason
    return ""


def _property_reason(prop: Any, where: str) -> str:
    if not isinstance(prop, dict):
        return f"{where} is not a schema object"
    for key in NOT_SHOWN:
        if key in prop:
            return f"{where} uses “{key}”, which a form cannot show"
    enum = prop.get("enum")
    if enum is not None:
        if isinstance(enum, list) and enum and all(v is None or isinstance(v, str | int | float | bool) for v in enum):
            return ""
        return f"{where} is an enum of values a drop-down cannot list"
    kind = prop.get("type")
    if isinstance(kind, list):
        return f"{where} may be any of {', '.join(map(str, kind))}"
    if kind in SCALAR_TYPES:
        return ""
    if kind == "array":
        items = prop.get("items")
        if not isinstance(items, dict):
            return f"{where} is an array without one schema for its items"
        return _property_reason(items, f"{where}[]")
    if kind == "object":
        return _object_reason(prop, where)
    return f"{where} has no “type”" if kind is None else f"{where} has the unknown type {kind!r}"


def supports(schema: Any) -> bool:
    """True if a form can show all of the schema (see `unsupported_reason`)."""
    return not unsupported_reason(schema)


def has_path_property(schema: Any) -> str | None:
    """The first string property that is a path (drag-and-drop offers the handler), or None."""
    if not isinstance(schema, dict) or not isinstance(schema.get("properties"), dict):
        return None
    for name, prop in schema["properties"].items():
        if isinstance(prop, dict) and prop.get("format") in PATH_FORMATS and prop.get("type", "string") == "string":
            return name
    return None


def defaults_of(schema: Any) -> dict[str, Any]:
    """The `default` of each property that declares one."""
    props = schema.get("properties", {}) if isinstance(schema, dict) else {}
    return {name: prop["default"] for name, prop in props.items() if isinstance(prop, dict) and "default" in prop}


class SchemaForm(QWidget):
    """Edits a payload dict; emits `changed` on every edit. `validate()` shows every error under its field."""

    changed = Signal()

    def __init__(self, schema: dict[str, Any], parent: QWidget | None = None, *, job_type: str = "") -> None:
        super().__init__(parent)
        self.setObjectName("schemaForm")
        self.setStyleSheet(ERROR_STYLE)
        self.schema = schema
        self.job_type = job_type
        outer = QVBoxLayout(self)
        self.error_label = QLabel(self)
        self.error_label.setObjectName("fieldError")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        outer.addWidget(self.error_label)
        layout = QFormLayout()
        layout.setFieldGrowthPolicy(QFormLayout.FieldGrowthPolicy.AllNonFixedFieldsGrow)
        outer.addLayout(layout)
        outer.addStretch(1)
        required = set(schema.get("required") or ())
        self.fields: dict[str, FieldEditor] = {
            name: make_field(name, prop, name in required, self.changed.emit, self)
            for name, prop in (schema.get("properties") or {}).items()
        }
        fill_form(layout, self.fields, self)
        if not self.fields:
            layout.addRow(QLabel("This job type takes no payload fields.", self))
        for field in self.fields.values():
            field.reset()

    # -- reading and writing -------------------------------------------------------------
    def set_value(self, payload: Any) -> bool:
        """Fill the form from a payload; False if it holds something the form cannot show."""
        if not isinstance(payload, dict) or set(payload) - set(self.fields):
            return False
        for name, field in self.fields.items():
            if name not in payload:
                field.clear()
            elif not field.set_value(payload[name]):
                return False
        return True

    def payload(self) -> dict[str, Any]:
        """The payload as entered (numbers that are not numbers stay text, for validation to name)."""
        payload: dict[str, Any] = {}
        for name, field in self.fields.items():
            present, value = field.read()
            if present:
                payload[name] = value
        return payload

    def errors(self) -> Errors:
        try:
            return payload_errors(self.schema, self.payload(), job_type=self.job_type)
        except AcaciaError as exc:
            return [((), str(exc))]

    def value(self) -> tuple[dict[str, Any], list[str]]:
        """(payload, problems): each problem as the queue words it ("payload.steps: 99 is greater…")."""
        return self.payload(), [describe_where(where, message) for where, message in self.errors()]

    def validate(self) -> list[str]:
        """Check the payload, show every error under its field (clearing fixed ones); the problems."""
        errors = self.errors()
        own = route(errors, self.fields)
        self.error_label.setText("\n".join(describe_where(where, message) for where, message in own))
        self.error_label.setVisible(bool(own))
        return [describe_where(where, message) for where, message in errors]
