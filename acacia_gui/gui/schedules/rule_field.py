"""RuleField: how often a schedule fires — Every (a duration such as 10m) or Cron (five fields).

One radio button per kind, each with its text box (typing in one chooses it), an error
line under them and, while the rule is valid, a preview of the next three runs so a
cron typo that parses but means something else is caught before it is saved.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, Signal
from PySide6.QtWidgets import QButtonGroup, QGridLayout, QLabel, QLineEdit, QRadioButton, QVBoxLayout, QWidget

from ...core.durations import format_duration, parse_duration
from ...core.errors import InvalidOptionError
from ..dialogs.edit_job_dialog import error_label
from ..dialogs.schema_fields import highlight

EVERY, CRON = "every", "cron"
EVERY_HINT = "how often, like 30s, 10m, 1h or 1d"
CRON_HINT = "minute hour day month weekday, like 0 3 * * * (03:00 every day)"


class RuleField(QWidget):
    """The rule part of the schedule dialog; `changed` on every edit."""

    changed = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("ruleField")
        outer = QVBoxLayout(self)
        outer.setContentsMargins(0, 0, 0, 0)
        outer.setSpacing(2)
        grid = QGridLayout()
        grid.setContentsMargins(0, 0, 0, 0)
        self.every_radio = QRadioButton("E&very", self)
        self.every_radio.setObjectName("everyRadio")
        self.cron_radio = QRadioButton("C&ron", self)
        self.cron_radio.setObjectName("cronRadio")
        self.group = QButtonGroup(self)
        self.group.addButton(self.every_radio)
        self.group.addButton(self.cron_radio)
        self.every_edit = QLineEdit(self)
        self.every_edit.setObjectName("everyEdit")
        self.every_edit.setAccessibleName("Every (a duration)")
        self.every_edit.setPlaceholderText("10m")
        self.every_edit.setToolTip(f"Every: {EVERY_HINT}")
        self.cron_edit = QLineEdit(self)
        self.cron_edit.setObjectName("cronEdit")
        self.cron_edit.setAccessibleName("Cron expression")
        self.cron_edit.setPlaceholderText("0 3 * * *")
        self.cron_edit.setToolTip(f"Cron: {CRON_HINT}")
        grid.addWidget(self.every_radio, 0, 0)
        grid.addWidget(self.every_edit, 0, 1)
        grid.addWidget(self.cron_radio, 0, 2)
        grid.addWidget(self.cron_edit, 0, 3)
        grid.setColumnStretch(1, 1)
        grid.setColumnStretch(3, 2)
        outer.addLayout(grid)
        self.error = error_label(self, "ruleError")
        outer.addWidget(self.error)
        self.preview = QLabel(self)
        self.preview.setObjectName("rulePreview")
        self.preview.setTextFormat(Qt.TextFormat.PlainText)
        self.preview.setWordWrap(True)
        self.preview.setEnabled(False)  # greyed: a hint, not a field
        outer.addWidget(self.preview)
        self.every_radio.setChecked(True)
        self.every_radio.toggled.connect(self._on_kind)
        self.every_edit.textEdited.connect(lambda _t: self._choose(self.every_radio))  # typing in one chooses it
        self.cron_edit.textEdited.connect(lambda _t: self._choose(self.cron_radio))
        self.every_edit.textChanged.connect(self.changed)
        self.cron_edit.textChanged.connect(self.changed)
        self._on_kind()

    # -- value -----------------------------------------------------------------------------------
    @property
    def kind(self) -> str:
        return EVERY if self.every_radio.isChecked() else CRON

    def set_rule(self, every: float | None, cron: str | None) -> None:
        self.every_edit.setText(format_duration(every) if every else "")
        self.cron_edit.setText(cron or "")
        (self.cron_radio if cron else self.every_radio).setChecked(True)
        self._on_kind()

    def rule(self) -> tuple[float | None, str | None, str]:
        """(every seconds, cron text, problem): the chosen rule, the other None; problem '' if it reads."""
        if self.kind == EVERY:
            text = self.every_edit.text().strip()
            if not text:
                return None, None, f"Every: enter {EVERY_HINT}."
            try:
                return parse_duration(text), None, ""
            except InvalidOptionError as exc:
                return None, None, f"Every: {exc}."
        text = " ".join(self.cron_edit.text().split())
        if not text:
            return None, None, f"Cron: enter five fields — {CRON_HINT}."
        return None, text, ""  # the dialog checks the expression itself with Schedule.validate()

    # -- showing ---------------------------------------------------------------------------------
    def show_problem(self, text: str) -> None:
        self.error.setText(text)
        self.error.setVisible(bool(text))
        highlight(self.every_edit, bool(text) and self.kind == EVERY)
        highlight(self.cron_edit, bool(text) and self.kind == CRON)
        if text:
            self.preview.clear()
        self.preview.setVisible(not text and bool(self.preview.text()))

    def show_preview(self, text: str) -> None:
        self.preview.setText(text)
        self.preview.setVisible(bool(text) and not self.error.isVisible())

    def _choose(self, radio: QRadioButton) -> None:
        if not radio.isChecked():
            radio.setChecked(True)

    def _on_kind(self, _checked: bool = False) -> None:
        self.changed.emit()
