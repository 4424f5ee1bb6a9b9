"""EventBridge: the core's EventBus → one Qt signal, delivered on the bridge's thread."""

from __future__ import annotations

from PySide6.QtCore import QObject, Signal

from ..core.events import EventBus, JobEvent


class EventBridge(QObject):
    """Re-emits every JobEvent as `event_received`; safe to publish from any thread.

    Qt queues a signal emitted from a foreign thread to the receiver's thread, so slots
    connected to `event_received` always run on the GUI (main) thread.
    """

    event_received = Signal(object)

    def __init__(self, bus: EventBus, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._unsubscribe = bus.subscribe(self._forward)

    def _forward(self, event: JobEvent) -> None:
        self.event_received.emit(event)

    def close(self) -> None:
        self._unsubscribe()
