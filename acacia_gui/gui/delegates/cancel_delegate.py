"""CancelButtonDelegate: a cancel button painted in queued and running rows.

Painted, not a widget per row, so 100,000 rows cost nothing. Clicking it emits
`cancel_clicked(job_id)`; the keyboard route is the window's Cancel action.

Under churn rows move while the mouse button is down (live inserts above, re-sorts).
The job is captured at the press, with where its row was on screen; the release
cancels only when the same job is still under the cursor in the same place. If
another job slid under the cursor, or the pressed one moved, nothing happens.
"""

from __future__ import annotations

from PySide6.QtCore import QAbstractItemModel, QEvent, QModelIndex, QPersistentModelIndex, QRect, QSize, Qt, Signal
from PySide6.QtGui import QIcon, QMouseEvent, QPainter
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionButton, QStyleOptionViewItem, QWidget

from ..models.columns import JobRole

Index = QModelIndex | QPersistentModelIndex
BUTTON = 22


class CancelButtonDelegate(QStyledItemDelegate):
    cancel_clicked = Signal(int)

    def __init__(self, icon: QIcon, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self._icon = icon
        self._pressed: tuple[int, QRect] | None = None  # (job id, its cell on screen) at the press

    def set_icon(self, icon: QIcon) -> None:
        self._icon = icon

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        return QSize(BUTTON + 8, BUTTON + 4)

    @staticmethod
    def button_rect(cell: QRect) -> QRect:
        size = min(BUTTON, cell.height() - 2)
        return QRect(cell.center().x() - size // 2 + 1, cell.center().y() - size // 2 + 1, size, size)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        opt.index = index
        widget = opt.widget
        style = widget.style() if widget is not None else None
        if style is None:
            return
        style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, widget)
        if not index.data(JobRole.CANCELLABLE):
            return
        button = QStyleOptionButton()
        button.rect = self.button_rect(option.rect)
        button.icon = self._icon
        button.iconSize = QSize(14, 14)
        button.palette = option.palette
        button.state = QStyle.StateFlag.State_Enabled
        pressed = self._pressed is not None and self._pressed[0] == index.data(JobRole.JOB_ID)
        hovered = bool(option.state & QStyle.StateFlag.State_MouseOver)
        if pressed:
            button.state |= QStyle.StateFlag.State_Sunken
        else:
            button.state |= QStyle.StateFlag.State_Raised
        if hovered:
            button.state |= QStyle.StateFlag.State_MouseOver
        style.drawControl(QStyle.ControlElement.CE_PushButton, button, painter, widget)

    def editorEvent(self, event: QEvent, model: QAbstractItemModel, option: QStyleOptionViewItem, index: Index) -> bool:
        kind = event.type()
        if kind not in (QEvent.Type.MouseButtonPress, QEvent.Type.MouseButtonRelease, QEvent.Type.MouseButtonDblClick):
            return False
        if not isinstance(event, QMouseEvent) or event.button() != Qt.MouseButton.LeftButton:
            return False
        inside = self.button_rect(option.rect).contains(event.position().toPoint())
        if not index.data(JobRole.CANCELLABLE) or not inside:
            self._pressed = None
            return False
        job_id = index.data(JobRole.JOB_ID)
        if kind == QEvent.Type.MouseButtonPress:
            self._pressed = None if job_id is None else (int(job_id), QRect(option.rect))
            return True
        if kind == QEvent.Type.MouseButtonRelease:
            pressed, self._pressed = self._pressed, None
            if pressed is not None and job_id is not None and self.same_place(pressed, int(job_id), option.rect):
                self.cancel_clicked.emit(int(job_id))
            return True
        return True  # a double click on the button must not open anything

    @staticmethod
    def same_place(pressed: tuple[int, QRect], job_id: int, cell: QRect) -> bool:
        """The release is over the pressed job, and its row has not moved on screen since the press."""
        return pressed[0] == job_id and pressed[1] == cell
