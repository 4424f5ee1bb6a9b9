"""StatusSummary: counts by state and jobs finished per minute, for the status bar.

Each count is a flat, checkable button, like qBittorrent's status filters: clicking
"failed 3" emits `state_clicked("failed")` (the window filters the table to that state;
clicking the checked one again clears the filter). `set_active_state` mirrors the filter.
"""

from __future__ import annotations

from PySide6.QtCore import QSize, Qt, Signal
from PySide6.QtWidgets import QHBoxLayout, QLabel, QToolButton, QWidget

from ..formatting import state_label
from ..icons import state_icon
from ..models.job_filter import STATE_NAMES
from ..stats import Stats


class StatusSummary(QWidget):
    state_clicked = Signal(str)  # a state name: the user clicked its count

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("statusSummary")
        self.setAccessibleName("Job counts")
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(10)
        self.labels: dict[str, QToolButton] = {}
        for state in STATE_NAMES:
            button = QToolButton(self)
            button.setObjectName(f"count-{state}")
            button.setIcon(state_icon(state))
            button.setIconSize(QSize(14, 14))
            button.setText("0")
            button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
            button.setAutoRaise(True)
            button.setCheckable(True)
            button.setFocusPolicy(Qt.FocusPolicy.NoFocus)  # the filter bar's State box is the keyboard path
            button.setCursor(Qt.CursorShape.PointingHandCursor)
            button.setToolTip(f"{state_label(state)}: click to show only these jobs, again to show all")
            button.clicked.connect(lambda _checked=False, state=state: self.state_clicked.emit(state))
            layout.addWidget(button)
            self.labels[state] = button
        self.rate = QLabel("0 finished/min", self)
        self.rate.setObjectName("finishedRate")
        self.rate.setToolTip("Jobs that finished in the last minute")
        layout.addWidget(self.rate)

    def set_active_state(self, state: str | None) -> None:
        """Check the count of the state the table is filtered to (none for a group or no filter)."""
        for name, button in self.labels.items():
            button.setChecked(name == state)

    def update_stats(self, stats: Stats) -> None:
        for state, label in self.labels.items():
            n = stats.counts.get(state, 0)
            label.setText(f"{n:,}")
            label.setAccessibleName(f"{n} {state_label(state).lower()}")
        self.rate.setText(f"{stats.finished_last_minute:,} finished/min")
        summary = ", ".join(f"{stats.counts.get(s, 0):,} {s}" for s in STATE_NAMES)
        self.setAccessibleDescription(f"{summary}; {stats.finished_last_minute} finished in the last minute")
