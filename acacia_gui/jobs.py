"""The public jobs module: what plugins and scripts import. No Qt.

    from acacia_gui.jobs import handler, Retry

    @handler("image.resize", title="Resize image", timeout=60)
    def resize(ctx, job):
        ...
"""

from .core.context import Context
from .core.errors import (
    AcaciaError,
    Cancelled,
    DeadlineExceeded,
    DuplicateHandlerError,
    InvalidJobError,
    InvalidJobTypeError,
    InvalidOptionError,
    InvalidPayloadError,
    InvalidTransitionError,
    JobNotFoundError,
    Retry,
    Shutdown,
    StoreError,
    UnknownJobTypeError,
)
from .core.interfaces import Enqueuer, Handler, HandlerRegistry, JobStore, Worker
from .core.job import Job, JobId, JobState
from .core.queue import JobQueue
from .core.registry import RegisteredHandler, Registry
from .plugins.api import handler

__all__ = [
    "AcaciaError", "Cancelled", "Context", "DeadlineExceeded", "DuplicateHandlerError", "Enqueuer", "Handler",
    "HandlerRegistry", "InvalidJobError", "InvalidJobTypeError", "InvalidOptionError", "InvalidPayloadError",
    "InvalidTransitionError", "Job", "JobId", "JobNotFoundError", "JobQueue", "JobState", "JobStore",
    "RegisteredHandler", "Registry", "Retry", "Shutdown", "StoreError", "UnknownJobTypeError", "Worker", "handler",
]  # fmt: skip
