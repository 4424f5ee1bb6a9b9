"""ThroughputChart: jobs finished per minute and failures over the last hour, painted in the status bar.

The data is counted in memory from the live batches since the window opened
(`record(finished, failed)`): no extra query, no extra dependency. One bar per
minute, newest on the right; the failed part of a bar is drawn on top in red.
The tooltip gives the numbers.
"""

from __future__ import annotations

import time
from collections import deque

from PySide6.QtCore import QRectF, QSize, Qt
from PySide6.QtGui import QColor, QPainter, QPaintEvent
from PySide6.QtWidgets import QSizePolicy, QWidget

MINUTES = 60
FINISHED_COLOUR = QColor("#3b8ed0")
FAILED_COLOUR = QColor("#d9534f")


class ThroughputChart(QWidget):
    """Sixty one-minute buckets of (finished, failed); `record` adds to the current minute."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("throughputChart")
        self.setAccessibleName("Jobs finished per minute, last hour")
        self.setSizePolicy(QSizePolicy.Policy.Fixed, QSizePolicy.Policy.Fixed)
        self._buckets: deque[tuple[int, int, int]] = deque()  # (minute, finished, failed), oldest first
        self._update_tooltip()

    def sizeHint(self) -> QSize:
        return QSize(3 * MINUTES + 4, 20)

    # -- data -----------------------------------------------------------------------------------
    def record(self, finished: int, failed: int = 0, at: float | None = None) -> None:
        """Count `finished` jobs (of which `failed` failed) in the minute of `at` (now by default)."""
        if finished <= 0 and failed <= 0:
            return
        minute = int((time.time() if at is None else at) // 60)
        if self._buckets and self._buckets[-1][0] == minute:
            _, done, bad = self._buckets[-1]
            self._buckets[-1] = (minute, done + finished, bad + failed)
        else:
            self._buckets.append((minute, finished, failed))
        self._drop_old(minute)
        self._update_tooltip()
        self.update()

    def per_minute(self, now: float | None = None) -> list[tuple[int, int]]:
        """(finished, failed) for each of the last MINUTES minutes, oldest first."""
        current = int((time.time() if now is None else now) // 60)
        counts = {minute: (done, bad) for minute, done, bad in self._buckets}
        return [counts.get(minute, (0, 0)) for minute in range(current - MINUTES + 1, current + 1)]

    def totals(self, now: float | None = None) -> tuple[int, int]:
        series = self.per_minute(now)
        return sum(done for done, _ in series), sum(bad for _, bad in series)

    def tick(self) -> None:
        """Let old minutes scroll out while nothing finishes (the window's 1 s timer calls it)."""
        self._drop_old(int(time.time() // 60))
        self._update_tooltip()
        self.update()

    def _drop_old(self, minute: int) -> None:
        while self._buckets and self._buckets[0][0] <= minute - MINUTES:
            self._buckets.popleft()

    def _update_tooltip(self) -> None:
        series = self.per_minute()
        done, bad = sum(d for d, _ in series), sum(b for _, b in series)
        last_done, last_bad = series[-1]
        peak = max(d for d, _ in series)
        text = (f"Last hour: {done:,} finished, {bad:,} failed\n"
                f"This minute: {last_done:,} finished, {last_bad:,} failed\n"
                f"Busiest minute: {peak:,} finished\n(counted since the window opened)")  # fmt: skip
        self.setToolTip(text)
        self.setAccessibleDescription(text.replace("\n", "; "))

    # -- painting ---------------------------------------------------------------------------------
    def paintEvent(self, event: QPaintEvent) -> None:
        painter = QPainter(self)
        rect = QRectF(self.rect()).adjusted(1, 1, -1, -1)
        baseline = self.palette().mid().color()
        painter.setPen(baseline)
        painter.drawLine(rect.bottomLeft(), rect.bottomRight())
        series = self.per_minute()
        peak = max((done for done, _ in series), default=0)
        if peak <= 0:
            painter.end()
            return
        width = rect.width() / len(series)
        painter.setPen(Qt.PenStyle.NoPen)
        for i, (done, bad) in enumerate(series):
            if done <= 0 and bad <= 0:
                continue
            x = rect.left() + i * width
            height = max(1.0, rect.height() * done / peak)
            painter.fillRect(QRectF(x, rect.bottom() - height, max(1.0, width - 0.5), height), FINISHED_COLOUR)
            if bad > 0:
                failed_height = max(1.0, rect.height() * min(bad, done or bad) / peak)
                painter.fillRect(QRectF(x, rect.bottom() - failed_height, max(1.0, width - 0.5), failed_height),
                                 FAILED_COLOUR)  # fmt: skip
        painter.end()
