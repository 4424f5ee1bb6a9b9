"""The pipe protocol between the app and a worker process: JSON objects, one per message.

Framing is multiprocessing.connection's (a length prefix); the bodies are JSON, never
pickle, so a misbehaving handler can send nothing but data. App → child: `init`,
`run` (each job with its last checkpoint), `cancel`, `checkpoint_saved` (the answer to a
`checkpoint`, after its commit), `exit`. Child → app: `ready`, `out` (coalesced progress and
log lines), `artifact` (a file the handler registered, recorded at once), `checkpoint`
(job.save_checkpoint: JSON text, committed before the answer), `done` (the Completion).
"""

from __future__ import annotations

import json
from dataclasses import fields
from typing import Any

from ...core.job import Job, JobState
from ...core.runner import Completion

MAX_MESSAGE_BYTES = 64 * 1024 * 1024  # a result is bounded by the payload limit; this bounds a broken child

_encoder = json.JSONEncoder(ensure_ascii=False, separators=(",", ":"), allow_nan=False)

JOB_FIELDS = ("id", "type", "queue", "priority", "attempts", "max_attempts", "timeout", "created_at", "started_at",
              "run_at", "payload", "interruptions", "scheduled_for")  # fmt: skip


def encode(message: dict[str, Any]) -> bytes:
    return _encoder.encode(message).encode("utf-8")


def decode(data: bytes) -> dict[str, Any]:
    message = json.loads(data)
    if not isinstance(message, dict) or not isinstance(message.get("op"), str):
        raise ValueError("not a message object")
    return message


def job_to_message(job: Job) -> dict[str, Any]:
    return {name: getattr(job, name) for name in JOB_FIELDS}


def job_from_message(data: dict[str, Any]) -> Job:
    job = Job(data["type"], data["payload"], queue=data["queue"], priority=data["priority"],
              max_attempts=data["max_attempts"], timeout=data["timeout"])  # fmt: skip
    for name in JOB_FIELDS:
        setattr(job, name, data[name])
    job.state = JobState.RUNNING
    return job


_COMPLETION_FIELDS = tuple(f.name for f in fields(Completion))


def completion_to_message(completion: Completion) -> dict[str, Any]:
    """Its fields as they are (no deep copy: asdict() would copy every result twice)."""
    data = {name: getattr(completion, name) for name in _COMPLETION_FIELDS}
    data["state"] = completion.state.value
    return data


def completion_from_message(data: dict[str, Any]) -> Completion:
    fields = dict(data)
    fields["state"] = JobState(fields["state"])
    return Completion(**fields)
