"""ArtifactRecorder: a running job's artifacts, written to the store the moment they are added.

Why not batched like progress and logs (engine/output.py): there are few of them (at most
MAX_ARTIFACTS_PER_JOB a job), and one committed row per call means an artifact a handler
registered is never lost to a crash of the app, and is in the database before the job's
outcome. Called on a pool thread: by the handler (thread isolation) or by the supervisor
when the worker process sends an `artifact` message (process isolation).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..core.definitions import MAX_ARTIFACTS_PER_JOB
from ..core.errors import InvalidOptionError


class ArtifactRecorder:
    """The app's ArtifactSink (core/outputs.py): `root` is `<data dir>/outputs`."""

    def __init__(self, store: Any, root: Path) -> None:
        self.store = store
        self.root = root

    def add(self, job_id: int, artifact: dict[str, Any]) -> None:
        if not self.store.add_artifact(job_id, artifact):
            raise InvalidOptionError(f"job {job_id} already has {MAX_ARTIFACTS_PER_JOB:,} artifacts (or is gone); "
                                     f"{artifact.get('path')} was not recorded")  # fmt: skip
