"""ProgressDelegate: a progress bar painted in the cell (no widget per row), with message and ETA.

Colours come from the palette (Highlight for the bar, Text/HighlightedText for the
label), so the bar follows light and dark themes. The label is drawn twice, clipped:
over the filled part in the highlight's text colour, elsewhere in the normal one.
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from ..models.columns import JobRole

Index = QModelIndex | QPersistentModelIndex
FINAL_MUTED = ("failed", "cancelled", "interrupted")


class ProgressDelegate(QStyledItemDelegate):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(max(hint.width(), 220), hint.height())

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        self.initStyleOption(opt, index)
        opt.text = ""
        style = opt.widget.style() if opt.widget is not None else None
        if style is not None:
            style.drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        state = index.data(JobRole.STATE)
        progress = index.data(JobRole.PROGRESS)
        if state not in ("running", "succeeded") and progress is None:
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        bar = QRect(option.rect).adjusted(4, 4, -4, -4)
        self._paint_bar(painter, option, bar, state, progress)
        self._paint_label(painter, option, bar, index, progress)
        painter.restore()

    def _colors(self, option: QStyleOptionViewItem, state: str) -> tuple[QColor, QColor]:
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        fill = palette.color(QPalette.ColorRole.Highlight)
        if state in FINAL_MUTED:
            fill = palette.color(QPalette.ColorRole.Mid)
        if selected:
            fill = palette.color(QPalette.ColorRole.HighlightedText)
            fill.setAlphaF(0.35)
        groove = palette.color(QPalette.ColorRole.Text)
        groove.setAlphaF(0.10 if not selected else 0.2)
        return fill, groove

    def _paint_bar(self, painter: QPainter, option: QStyleOptionViewItem, bar: QRect, state: str,
                   progress: float | None) -> None:  # fmt: skip
        fill, groove = self._colors(option, state)
        radius = min(4.0, bar.height() / 2)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(groove)
        painter.drawRoundedRect(QRectF(bar), radius, radius)
        if progress is None:  # running, amount unknown: a hatched bar
            brush = QBrush(fill, Qt.BrushStyle.BDiagPattern)
            painter.setBrush(brush)
            painter.drawRoundedRect(QRectF(bar), radius, radius)
            return
        done = QRectF(bar)
        done.setWidth(bar.width() * max(0.0, min(1.0, progress)))
        if done.width() > 0:
            painter.setBrush(fill)
            painter.drawRoundedRect(done, radius, radius)

    def _paint_label(self, painter: QPainter, option: QStyleOptionViewItem, bar: QRect, index: Index,
                     progress: float | None) -> None:  # fmt: skip
        parts = []
        if progress is not None:
            parts.append(f"{progress * 100:.0f} %")
        message = index.data(JobRole.MESSAGE) or ""
        if message and index.data(JobRole.STATE) == "running":
            parts.append(message)
        eta = index.data(JobRole.ETA)
        if eta:
            parts.append(eta)
        text = " · ".join(parts) if parts else "working…"
        text_rect = bar.adjusted(6, 0, -6, 0)
        text = option.fontMetrics.elidedText(text, Qt.TextElideMode.ElideRight, text_rect.width())
        palette = option.palette
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        normal = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        flags = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        filled_width = int(bar.width() * progress) if progress is not None else 0
        if filled_width > 0 and not selected and index.data(JobRole.STATE) not in FINAL_MUTED:
            painter.save()
            painter.setClipRect(QRect(bar.left(), bar.top(), filled_width, bar.height()))
            painter.setPen(palette.color(QPalette.ColorRole.HighlightedText))
            painter.drawText(text_rect, flags, text)
            painter.restore()
            painter.setClipRect(QRect(bar.left() + filled_width, bar.top(), bar.width() - filled_width, bar.height()))
        painter.setPen(normal)
        painter.drawText(text_rect, flags, text)
