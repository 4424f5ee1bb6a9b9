"""StatusSummary: counts by state and jobs finished per minute, for the status bar."""

from __future__ import annotations

from PySide6.QtWidgets import QHBoxLayout, QLabel, QWidget

from ..formatting import state_label
from ..icons import state_icon
from ..models.job_filter import STATE_NAMES
from ..stats import Stats


class StatusSummary(QWidget):
    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusSummary")
        self.setAccessibleName("Job counts")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        self.labels: dict[str, QLabel] = {}
        for state in STATE_NAMES:
            icon_label = QLabel(self)
            icon_label.setPixmap(state_icon(state).pixmap(14, 14))
            label = QLabel("0", self)
            label.setObjectName(f"count-{state}")
            label.setToolTip(state_label(state))
            icon_label.setToolTip(state_label(state))
            pair = QHBoxLayout()
            pair.setSpacing(3)
            pair.addWidget(icon_label)
            pair.addWidget(label)
            layout.addLayout(pair)
            self.labels[state] = label
        self.rate = QLabel("0 finished/min", self)
        self.rate.setObjectName("finishedRate")
        self.rate.setToolTip("Jobs that finished in the last minute")
        layout.addWidget(self.rate)

    def update_stats(self, stats: Stats) -> None:
        for state, label in self.labels.items():
            n = stats.counts.get(state, 0)
            label.setText(f"{n:,}")
            label.setAccessibleName(f"{n} {state_label(state).lower()}")
        self.rate.setText(f"{stats.finished_last_minute:,} finished/min")
        summary = ", ".join(f"{stats.counts.get(s, 0):,} {s}" for s in STATE_NAMES)
        self.setAccessibleDescription(f"{summary}; {stats.finished_last_minute} finished in the last minute")
