"""ask(): a non-blocking question box (window-modal, answered through a callback).

No nested event loop: the live table keeps updating while the question is open, and a
test (or an accessibility tool) finds the box by its object name and presses a button.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QCheckBox, QMessageBox, QWidget

Button = tuple[str, str, QMessageBox.ButtonRole]  # key, text, role


def ask(parent: QWidget, *, name: str, title: str, text: str, buttons: Sequence[Button], default: str,
        on_answer: Callable[[str | None], None], informative: str = "",
        icon: QMessageBox.Icon = QMessageBox.Icon.Question, checkbox: str = "") -> QMessageBox:  # fmt: skip
    """Open the question; `on_answer(key)` gets the pressed button's key (None if closed otherwise).

    `checkbox`: the text of a check box under the text (object name "questionCheckBox"),
    read from the returned box's `checkBox()` in `on_answer` (e.g. "Don't ask again").
    """
    box = QMessageBox(icon, title, text, QMessageBox.StandardButton.NoButton, parent)
    box.setObjectName(name)
    box.setWindowModality(Qt.WindowModality.WindowModal)
    box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
    if informative:
        box.setInformativeText(informative)
    if checkbox:
        check = QCheckBox(checkbox, box)
        check.setObjectName("questionCheckBox")
        box.setCheckBox(check)
    keys = {}
    for key, label, role in buttons:
        button = box.addButton(label, role)
        button.setObjectName(key)
        keys[id(button)] = key
        if key == default:
            box.setDefaultButton(button)
        if role in (QMessageBox.ButtonRole.RejectRole,):
            box.setEscapeButton(button)

    def finished(_result: int) -> None:
        clicked = box.clickedButton()
        on_answer(keys.get(id(clicked)) if clicked is not None else None)

    box.finished.connect(finished)
    box.open()
    return box
