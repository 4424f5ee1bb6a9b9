"""JobEvent and a small synchronous event bus (the core's way of saying "something changed")."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from .definitions import EventKind

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class JobEvent:
    """One change, announced after it is committed.

    `kind` is an EventKind (definitions.py lists every kind and the data each carries).
    A plain string equal to a kind's value also works (StrEnum members compare equal to
    their strings), so `event.kind == "state"` and `JobEvent("state", ...)` both hold;
    new code uses the enum. `to_dict()` is the socket's wire shape, kind and state as plain strings.
    """

    kind: EventKind
    job_id: int | None = None
    queue: str | None = None
    state: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        state = None if self.state is None else str(self.state)
        return {"kind": str(self.kind), "job_id": self.job_id, "queue": self.queue, "state": state, **self.data}


Listener = Callable[[JobEvent], None]


class EventBus:
    """Listeners are called in the publisher's thread; a failing listener is logged, never fatal."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._listeners: list[Listener] = []

    def subscribe(self, listener: Listener) -> Callable[[], None]:
        with self._lock:
            self._listeners.append(listener)

        def unsubscribe() -> None:
            with self._lock:
                if listener in self._listeners:
                    self._listeners.remove(listener)

        return unsubscribe

    def publish(self, event: JobEvent) -> None:
        with self._lock:
            listeners = list(self._listeners)
        for listener in listeners:
            try:
                listener(event)
            except Exception:
                log.exception("event listener %r failed on %s", listener, event.kind)
