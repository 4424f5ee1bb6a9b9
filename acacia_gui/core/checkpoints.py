"""Checkpoints: a job's small JSON note of how far it got, so a later attempt resumes instead of redoing.

Why a module of its own: the encoding and its bound are the same for the handler's thread
(the engine writes through the store), a worker process (the supervisor writes what the
pipe brings) and a handler called outside Acacia (kept in memory), so each of them calls
`encode_checkpoint` and none of them knows how the others store it.
"""

from __future__ import annotations

import json
from typing import Any, Protocol

from .definitions import MAX_CHECKPOINT_BYTES
from .errors import InvalidPayloadError

_ENCODER = json.JSONEncoder(allow_nan=False, ensure_ascii=False, separators=(",", ":"))


class CheckpointSink(Protocol):
    """Where a running job's checkpoints go: `save` returns only once the value is durable."""

    def save(self, job_id: int, attempt: int, text: str) -> None: ...


class LocalCheckpoints:
    """A handler called outside Acacia (scripts, tests): the last value kept here, in memory."""

    def __init__(self) -> None:
        self.saved: list[str] = []

    def save(self, job_id: int, attempt: int, text: str) -> None:
        self.saved.append(text)


def encode_checkpoint(data: Any) -> str:
    """A checkpoint's JSON text; InvalidPayloadError when it is not JSON or over MAX_CHECKPOINT_BYTES."""
    try:
        text = _ENCODER.encode(data)
    except (ValueError, TypeError, RecursionError) as exc:
        raise InvalidPayloadError(f"a checkpoint must be JSON (no NaN, sets or objects): {exc}") from None
    try:
        size = len(text.encode("utf-8"))
    except UnicodeEncodeError:
        raise InvalidPayloadError("a checkpoint contains a lone surrogate and is not valid UTF-8") from None
    if size > MAX_CHECKPOINT_BYTES:
        raise InvalidPayloadError(f"a checkpoint is at most {MAX_CHECKPOINT_BYTES // 1024} KiB of JSON, got {size:,} bytes;"
                                  " keep how far the job got, not its data")  # fmt: skip
    return text
