"""ProgressDelegate: a progress bar painted in the cell (no widget per row), with message and ETA.

Running jobs get a bar in the palette's Highlight colour with "42 % · message · ≈ ETA";
finished ones a muted bar (a tint of the text colour), and failed or interrupted ones
show their error instead. Every colour comes from the palette, so light and dark themes
both work. Over the filled part the label is drawn in the highlight's text colour.

When the label does not fit, the handler's message gives way first (elided in the
middle, then dropped), so the percentage and the ETA stay readable (`fit_label`).
"""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QRectF, QSize, Qt
from PySide6.QtGui import QBrush, QColor, QFontMetrics, QPainter, QPalette
from PySide6.QtWidgets import QStyle, QStyledItemDelegate, QStyleOptionViewItem, QWidget

from ...core.definitions import PROBLEM_STATES, WAITING_STATES
from ..formatting import progress_label
from ..models.columns import JobRole
from ..models.job_table_model import JobTableModel

Index = QModelIndex | QPersistentModelIndex
LABEL_MARGIN = 10  # the bar's inset (4) and the text's padding (6), on each side


def fit_label(metrics: QFontMetrics, width: int, state: str, progress: float | None, message: str, eta: str,
              error: str) -> str:  # fmt: skip
    """The bar's words within `width` pixels: the message shortens (then goes) before the ETA does."""
    text = progress_label(state, progress, message, eta, error)
    if metrics.horizontalAdvance(text) <= width or state != "running" or not message:
        return metrics.elidedText(text, Qt.TextElideMode.ElideRight, width)
    without = progress_label(state, progress, "", eta, error)
    spare = width - metrics.horizontalAdvance(without) - metrics.horizontalAdvance(" · ")
    short = metrics.elidedText(message, Qt.TextElideMode.ElideMiddle, spare) if spare > 0 else ""
    if short and short != "…":
        return progress_label(state, progress, short, eta, error)
    return metrics.elidedText(without, Qt.TextElideMode.ElideRight, width)


class ProgressDelegate(QStyledItemDelegate):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)

    def sizeHint(self, option: QStyleOptionViewItem, index: Index) -> QSize:
        hint = super().sizeHint(option, index)
        return QSize(max(hint.width(), 220), hint.height())

    def paint(self, painter: QPainter, option: QStyleOptionViewItem, index: Index) -> None:
        opt = QStyleOptionViewItem(option)
        opt.index = index
        if opt.widget is not None:  # background and selection, without asking the model for every role
            opt.widget.style().drawControl(QStyle.ControlElement.CE_ItemViewItem, opt, painter, opt.widget)
        model = index.model()
        row = model.job_at(index.row()) if isinstance(model, JobTableModel) else None
        if row is not None:
            state, progress, message, error, eta = row.state, row.progress, row.message, row.error, model.eta(row)
            if state == "succeeded":
                progress = 1.0
        else:
            state = index.data(JobRole.STATE) or ""
            progress, message = index.data(JobRole.PROGRESS), index.data(JobRole.MESSAGE) or ""
            error, eta = index.data(JobRole.ERROR) or "", index.data(JobRole.ETA) or ""
        text = fit_label(option.fontMetrics, option.rect.width() - 2 * LABEL_MARGIN, state, progress, message, eta, error)
        if state in WAITING_STATES or (progress is None and state != "running" and not text):
            return
        painter.save()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        bar = QRect(option.rect).adjusted(4, 4, -4, -4)
        selected = bool(option.state & QStyle.StateFlag.State_Selected)
        filled = self._paint_bar(painter, option.palette, bar, state, progress, selected)
        self._paint_label(painter, option, bar, text, filled if state == "running" and not selected else 0, selected)
        painter.restore()

    @staticmethod
    def _paint_bar(painter: QPainter, palette: QPalette, bar: QRect, state: str, progress: float | None,
                   selected: bool) -> int:  # fmt: skip
        """Groove and fill; returns the filled width in pixels."""
        text = palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text)
        groove = QColor(text)
        groove.setAlphaF(0.07 if not selected else 0.18)
        if state == "running" and not selected:
            fill = palette.color(QPalette.ColorRole.Highlight)
        else:
            fill = QColor(text)
            fill.setAlphaF(0.15 if not selected else 0.35)
        radius = min(4.0, bar.height() / 2)
        painter.setPen(Qt.PenStyle.NoPen)
        if state in PROBLEM_STATES:
            return 0  # only the error text: how far it got is in the details
        painter.setBrush(groove)
        painter.drawRoundedRect(QRectF(bar), radius, radius)
        if progress is None and state == "running":  # amount unknown: a hatched bar
            painter.setBrush(QBrush(fill, Qt.BrushStyle.BDiagPattern))
            painter.drawRoundedRect(QRectF(bar), radius, radius)
            return 0
        fraction = 1.0 if state == "succeeded" else max(0.0, min(1.0, progress or 0.0))
        done = QRectF(bar)
        done.setWidth(bar.width() * fraction)
        if done.width() > 0:
            painter.setBrush(fill)
            painter.drawRoundedRect(done, radius, radius)
        return int(done.width())

    @staticmethod
    def _paint_label(painter: QPainter, option: QStyleOptionViewItem, bar: QRect, text: str, filled: int,
                     selected: bool) -> None:  # fmt: skip
        if not text:
            return
        text_rect = bar.adjusted(6, 0, -6, 0)
        text = option.fontMetrics.elidedText(text, Qt.TextElideMode.ElideRight, text_rect.width())
        palette = option.palette
        flags = Qt.AlignmentFlag.AlignVCenter | Qt.AlignmentFlag.AlignLeft
        if filled > 0:
            painter.save()
            painter.setClipRect(QRect(bar.left(), bar.top(), filled, bar.height()))
            painter.setPen(palette.color(QPalette.ColorRole.HighlightedText))
            painter.drawText(text_rect, flags, text)
            painter.restore()
            painter.setClipRect(QRect(bar.left() + filled, bar.top(), bar.width() - filled, bar.height()))
        painter.setPen(palette.color(QPalette.ColorRole.HighlightedText if selected else QPalette.ColorRole.Text))
        painter.drawText(text_rect, flags, text)
