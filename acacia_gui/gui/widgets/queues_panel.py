"""QueuesPanel: every queue with its counts, paused or running, a concurrency limit and pause/resume.

Numbers come from StatsPoller (read in the background); controls act through the
JobQueue, whose events bring the new numbers back. The workers spin box follows the
worker's limit on every refresh. A spin box the user is editing is never overwritten.
"""

from __future__ import annotations

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QFont
from PySide6.QtWidgets import (
    QFrame,
    QHBoxLayout,
    QLabel,
    QScrollArea,
    QSizePolicy,
    QSpinBox,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from ...core.definitions import MAX_QUEUE_CONCURRENCY, MAX_WORKERS, Source
from ...core.errors import AcaciaError
from ...core.queue import JobQueue
from ...store.sqlite import QueueInfo
from ..icons import icon
from ..stats import Stats

COMMIT_DELAY_MS = 500  # arrow keys on a spin box: write once the user pauses
TITLE_MAX_WIDTH = 140  # a longer queue name is elided on its card (whole in the tooltip), so cards stay narrow
COUNT_PARTS = (("running", "running"), ("queued", "queued"), ("scheduled", "scheduled"), ("waiting", "waiting"),
               ("succeeded", "done"), ("failed", "failed"), ("cancelled", "cancelled"),
               ("interrupted", "interrupted"))  # fmt: skip


def counts_text(counts: dict[str, int], starting: int = 0) -> str:
    """'4 running · 1 starting · 12 queued': `running` counts only jobs whose handler runs (at
    most the worker limit); jobs a worker claimed ahead, `running` in the database but not
    started yet, are "starting" — otherwise "5 running" would show beside "Workers: 4"."""
    shown = dict(counts)
    starting = max(0, min(starting, shown.get("running", 0)))
    shown["running"] = shown.get("running", 0) - starting
    parts = [f"{shown[state]:,} {label}" for state, label in COUNT_PARTS if shown.get(state)]
    if starting:
        parts.insert(1 if shown.get("running") else 0, f"{starting:,} starting")
    return " · ".join(parts) if parts else "empty"


class QueueCard(QFrame):
    """One queue: name, state, counts, concurrency spin box, pause/resume button."""

    concurrency_changed = Signal(str, int)
    pause_toggled = Signal(str, bool)  # name, paused wanted
    show_jobs = Signal(str)

    def __init__(self, info: QueueInfo, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.name = info.name
        self.setObjectName(f"queue-{info.name}")
        self.setFrameShape(QFrame.Shape.StyledPanel)
        self.setAccessibleName(f"Queue {info.name}")
        layout = QVBoxLayout(self)
        layout.setContentsMargins(8, 6, 8, 6)
        layout.setSpacing(4)
        top = QHBoxLayout()
        self.title = QToolButton(self)
        self.title.setAutoRaise(True)
        font = QFont(self.title.font())
        font.setBold(True)
        self.title.setFont(font)
        self.title.setText(self.title.fontMetrics().elidedText(info.name, Qt.TextElideMode.ElideMiddle, TITLE_MAX_WIDTH))
        self.title.setToolTip(f"Show the jobs of queue {info.name}")
        self.title.setAccessibleName(f"Show jobs of queue {info.name}")
        self.title.clicked.connect(lambda: self.show_jobs.emit(self.name))
        self.status = QLabel(self)
        self.pause_button = QToolButton(self)
        self.pause_button.setObjectName("pauseButton")
        self.pause_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.pause_button.clicked.connect(lambda: self.pause_toggled.emit(self.name, not self._paused))
        top.addWidget(self.title)
        top.addWidget(self.status, 1)
        top.addWidget(self.pause_button)
        layout.addLayout(top)
        self.counts = QLabel(self)
        self.counts.setWordWrap(True)
        self.counts.setAccessibleName(f"Counts of queue {info.name}")
        layout.addWidget(self.counts)
        row = QHBoxLayout()
        label = QLabel("&Parallel jobs:", self)
        self.spin = QSpinBox(self)
        self.spin.setObjectName("concurrencySpin")
        self.spin.setRange(0, MAX_QUEUE_CONCURRENCY)
        self.spin.setSpecialValueText("No limit")
        self.spin.setAccessibleName(f"Parallel jobs limit of queue {info.name}")
        self.spin.setToolTip("How many jobs of this queue may run at once (0: only the worker limit)")
        label.setBuddy(self.spin)
        row.addWidget(label)
        row.addWidget(self.spin)
        row.addStretch(1)
        layout.addLayout(row)
        self._commit = QTimer(self)
        self._commit.setSingleShot(True)
        self._commit.setInterval(COMMIT_DELAY_MS)
        self._commit.timeout.connect(self._commit_concurrency)
        self.spin.valueChanged.connect(lambda _v: self._commit.start())
        self.spin.editingFinished.connect(self._commit_concurrency)
        self._paused = info.paused
        self._shown_concurrency = info.concurrency
        self.update_info(info)

    def update_info(self, info: QueueInfo, starting: int = 0) -> None:
        self._paused = info.paused
        # The CLI's word (`acacia concurrency`: "active"): an idle queue is not "running" anything.
        self.status.setText("Paused" if info.paused else "Active")
        self.status.setAccessibleName(f"Queue {info.name} is {'paused' if info.paused else 'active'}")
        self.pause_button.setText("Resume" if info.paused else "Pause")
        self.pause_button.setIcon(icon("resume" if info.paused else "pause", self.palette()))
        self.pause_button.setAccessibleName(f"{'Resume' if info.paused else 'Pause'} queue {info.name}")
        self.counts.setText(counts_text(info.counts, starting))
        if not self.spin.hasFocus() and not self._commit.isActive() and info.concurrency != self.spin.value():
            self.spin.blockSignals(True)
            self.spin.setValue(info.concurrency)
            self.spin.blockSignals(False)
        self._shown_concurrency = info.concurrency

    @property
    def paused(self) -> bool:
        return self._paused

    def _commit_concurrency(self) -> None:
        self._commit.stop()
        if self.spin.value() != self._shown_concurrency:
            self._shown_concurrency = self.spin.value()
            self.concurrency_changed.emit(self.name, self.spin.value())


class QueuesPanel(QWidget):
    """The left pane: overall workers, then one QueueCard per queue."""

    show_queue = Signal(str)
    error = Signal(str)

    def __init__(self, queue: JobQueue, worker: object, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setObjectName("queuesPanel")
        self.setAccessibleName("Queues")
        self._queue = queue
        self._worker = worker
        outer = QVBoxLayout(self)
        outer.setContentsMargins(6, 6, 2, 0)
        heading = QLabel("<b>Queues</b>", self)
        outer.addWidget(heading)
        workers_row = QHBoxLayout()
        workers_label = QLabel("&Workers:", self)
        self.workers_spin = QSpinBox(self)
        self.workers_spin.setObjectName("workersSpin")
        self.workers_spin.setRange(1, MAX_WORKERS)  # what `acacia concurrency --workers N` accepts
        self.workers_spin.setValue(int(getattr(worker, "concurrency", 1)))
        self.workers_spin.setAccessibleName("Jobs run at once, over all queues")
        self.workers_spin.setToolTip("How many jobs this app runs at once, over all queues")
        workers_label.setBuddy(self.workers_spin)
        self.workers_spin.valueChanged.connect(self._set_workers)
        workers_row.addWidget(workers_label)
        workers_row.addWidget(self.workers_spin)
        workers_row.addStretch(1)
        outer.addLayout(workers_row)
        self._scroll = QScrollArea(self)
        self._scroll.setWidgetResizable(True)
        self._scroll.setFrameShape(QFrame.Shape.NoFrame)
        self._holder = QWidget(self._scroll)
        self._list = QVBoxLayout(self._holder)
        self._list.setContentsMargins(0, 0, 0, 0)
        self._list.addStretch(1)
        self._scroll.setWidget(self._holder)
        outer.addWidget(self._scroll, 1)
        self.cards: dict[str, QueueCard] = {}
        self.setSizePolicy(QSizePolicy.Policy.Preferred, QSizePolicy.Policy.Expanding)

    def fit_cards(self) -> None:
        """The sidebar is never narrower than its widest card: the splitter stops there, so a card
        (its Pause button) is never clipped or scrolled sideways (the cards scroll only down)."""
        widest = max((card.minimumSizeHint().width() for card in self.cards.values()), default=0)
        need = widest + self._scroll.verticalScrollBar().sizeHint().width()
        if self._scroll.minimumWidth() != need:
            self._scroll.setMinimumWidth(need)

    def update_stats(self, stats: Stats) -> None:
        self.sync_workers()
        names = {info.name for info in stats.queues}
        for name in [n for n in self.cards if n not in names]:
            self.cards.pop(name).deleteLater()
        for position, info in enumerate(stats.queues):
            card = self.cards.get(info.name)
            if card is None:
                card = self._make_card(info)
                self._list.insertWidget(position, card)
            card.update_info(info, stats.starting.get(info.name, 0))
        self.fit_cards()  # "Resume" is wider than "Pause"; a new queue may have a longer name

    def sync_workers(self) -> None:
        """Show the worker's limit (`acacia concurrency --workers N` changes it behind our back),
        unless the user is editing the spin box."""
        value = getattr(self._worker, "concurrency", None)
        if isinstance(value, int) and not self.workers_spin.hasFocus() and value != self.workers_spin.value():
            self.workers_spin.blockSignals(True)
            self.workers_spin.setValue(value)
            self.workers_spin.blockSignals(False)

    def _make_card(self, info: QueueInfo) -> QueueCard:
        card = QueueCard(info, self._holder)
        card.pause_toggled.connect(self._toggle_pause)
        card.concurrency_changed.connect(self._set_concurrency)
        card.show_jobs.connect(self.show_queue)
        self.cards[info.name] = card
        return card

    def _toggle_pause(self, name: str, pause: bool) -> None:
        try:
            if pause:
                self._queue.pause(name, source=Source.GUI)
            else:
                self._queue.resume(name, source=Source.GUI)
        except AcaciaError as exc:
            self.error.emit(str(exc))

    def _set_concurrency(self, name: str, value: int) -> None:
        try:
            self._queue.set_concurrency(name, value, source=Source.GUI)
        except AcaciaError as exc:
            self.error.emit(str(exc))

    def set_workers(self, value: int) -> None:
        """Show `value` (clamped to the spin box's range) and apply it to the worker: the
        remembered number at start."""
        value = max(self.workers_spin.minimum(), min(self.workers_spin.maximum(), value))
        if value == self.workers_spin.value():
            self._set_workers(value)
        else:
            self.workers_spin.setValue(value)  # valueChanged applies it

    def _set_workers(self, value: int) -> None:
        setter = getattr(self._worker, "set_concurrency", None)
        if setter is not None:
            setter(value)
