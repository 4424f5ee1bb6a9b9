"""What the scheduler needs from the pool of slot threads and from process supervision."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from ..core.registry import RegisteredHandler
from ..core.runner import Completion
from .run import Run


class Pool(Protocol):
    """The thread pool of the slots: QThreadPool in the app, ThreadExecutor in tests."""

    def start(self, task: Callable[[], None]) -> None: ...

    def set_max_threads(self, count: int) -> None: ...


class ProcessRunner(Protocol):
    """Runs a job in a supervised worker process (engine.processes.ProcessPool)."""

    def run(self, run: Run, capture_log: Callable[[int, float, str, str], None],
            post: Callable[[Run, Completion], None], take_more: Callable[[int], list[Run]]) -> None: ...

    def isolation_of(self, handler: RegisteredHandler) -> str: ...

    def retire_all(self) -> None: ...

    def prewarm(self, count: int) -> None: ...

    def close(self) -> None: ...
