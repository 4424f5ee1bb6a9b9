"""Small helpers for driving the window like a user would."""

from __future__ import annotations

from PySide6.QtWidgets import QApplication, QMessageBox, QPushButton

from acacia_gui.gui.models.columns import JobColumn, JobRole


def answer(qtbot, name: str, key: str) -> None:
    """Press the button `key` of the open question box named `name`."""
    found: list[QMessageBox] = []

    def question_open() -> bool:
        found[:] = [w for w in QApplication.topLevelWidgets() if isinstance(w, QMessageBox) and w.objectName() == name
                    and w.isVisible()]  # fmt: skip
        found.extend(w for top in QApplication.topLevelWidgets() for w in top.findChildren(QMessageBox, name)
                     if w.isVisible())  # fmt: skip
        return bool(found)

    qtbot.waitUntil(question_open, timeout=5000)
    button = found[0].findChild(QPushButton, key)
    assert button is not None, f"no button {key!r} in {name}"
    button.click()


def state_in_table(window, job_id: int) -> str | None:
    row = window.model.row_of(job_id)
    return window.model.index(row, JobColumn.STATE).data(JobRole.STATE) if row >= 0 else None
