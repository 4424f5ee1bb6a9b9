"""AfterField: the New job dialog's "After" row — job ids the new job waits for, and the policy.

Checked as the user types, like the payload's fields: each id must be a whole number naming
a job that exists (one indexed read each), and what is wrong is shown under the field.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

from PySide6.QtCore import Signal
from PySide6.QtWidgets import QComboBox, QHBoxLayout, QLabel, QLineEdit, QVBoxLayout, QWidget

from ...core.definitions import AfterPolicy
from .schema_fields import ERROR_STYLE, highlight

MAX_AFTER = 1000  # ids typed by hand; a bigger pipeline is a --batch
POLICY_CHOICES = ((AfterPolicy.SUCCESS, "if they all succeed"), (AfterPolicy.FINISHED, "once they have all ended"))


def parse_ids(text: str) -> tuple[list[int], list[str]]:
    """'12, 14 15' → ([12, 14, 15], []); what is not a whole number comes back as a problem."""
    ids: list[int] = []
    problems: list[str] = []
    for part in (p for p in re.split(r"[,\s]+", text.strip()) if p):
        if part.isdigit() and int(part) > 0:
            if int(part) not in ids:
                ids.append(int(part))
        else:
            problems.append(f"“{part}” is not a job id: give whole numbers, separated by commas.")
    if len(ids) > MAX_AFTER:
        problems.append(f"At most {MAX_AFTER:,} jobs here (use `acacia enqueue --batch` for more).")
    return ids, problems


class AfterField(QWidget):
    """`ids()`, `policy()`, `problems()`; `changed` on every edit."""

    changed = Signal()

    def __init__(self, store: Any, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._store = store
        self.setStyleSheet(ERROR_STYLE)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        row = QHBoxLayout()
        self.line = QLineEdit(self)
        self.line.setObjectName("afterEdit")
        self.line.setAccessibleName("Run after jobs")
        self.line.setPlaceholderText("optional: job ids, e.g. 12, 14")
        self.line.setToolTip("The new job waits (state Waiting) until these jobs are done")
        self.policy_box = QComboBox(self)
        self.policy_box.setObjectName("afterPolicyBox")
        self.policy_box.setAccessibleName("Run after policy")
        for policy, text in POLICY_CHOICES:
            self.policy_box.addItem(text, policy.value)
        self.policy_box.setToolTip("If they all succeed: a failed or cancelled one cancels the new job.\n"
                                   "Once they have all ended: it runs however they ended.")  # fmt: skip
        row.addWidget(self.line, 1)
        row.addWidget(self.policy_box)
        layout.addLayout(row)
        self.error_label = QLabel(self)
        self.error_label.setObjectName("fieldError")
        self.error_label.setWordWrap(True)
        self.error_label.setVisible(False)
        layout.addWidget(self.error_label)
        self.line.textChanged.connect(self.changed)
        self.policy_box.currentIndexChanged.connect(self.changed)

    def set_ids(self, ids: Sequence[int]) -> None:
        self.line.setText(", ".join(str(i) for i in ids))

    def ids(self) -> list[int]:
        return parse_ids(self.line.text())[0]

    def policy(self) -> str:
        return str(self.policy_box.currentData())

    def problems(self) -> list[str]:
        """What is wrong with the ids (shown under the field too); [] when they are fine or empty."""
        ids, problems = parse_ids(self.line.text())
        if not problems:
            missing = [i for i in ids if self._store.get_job(i) is None]
            if missing:
                names = ", ".join(str(i) for i in missing[:5]) + (" …" if len(missing) > 5 else "")
                problems.append(f"No job {names}: give the ids of existing jobs.")
        self.error_label.setText("\n".join(problems))
        self.error_label.setVisible(bool(problems))
        highlight(self.line, bool(problems))
        return [f"After: {problem}" for problem in problems]
