"""JsonEditor: a plain-text JSON editor that says, as you type, what is wrong and where."""

from __future__ import annotations

import json
from typing import Any

from PySide6.QtGui import QFontDatabase
from PySide6.QtWidgets import QPlainTextEdit, QWidget

from ..formatting import pretty_json


def parse_json(text: str) -> tuple[Any, str]:
    """(value, "") or (None, "Line 3, column 7: Expecting ',' delimiter")."""
    if not text.strip():
        return None, "The payload is empty: write JSON such as {} or null."
    try:
        return json.loads(text, parse_constant=_refuse_constant), ""
    except json.JSONDecodeError as exc:
        return None, f"Line {exc.lineno}, column {exc.colno}: {exc.msg}."
    except ValueError as exc:
        return None, str(exc)


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not allowed in a payload (JSON has no NaN or Infinity).")


class JsonEditor(QPlainTextEdit):
    """Monospace, tab moves focus (keyboard users must be able to leave it)."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("jsonEditor")
        self.setAccessibleName("Payload as JSON")
        self.setFont(QFontDatabase.systemFont(QFontDatabase.SystemFont.FixedFont))
        self.setTabChangesFocus(True)
        self.setLineWrapMode(QPlainTextEdit.LineWrapMode.NoWrap)
        self.setPlaceholderText('{"key": "value"}')

    def set_value(self, value: Any) -> None:
        self.setPlainText(pretty_json(value))

    def value(self) -> tuple[Any, str]:
        return parse_json(self.toPlainText())
