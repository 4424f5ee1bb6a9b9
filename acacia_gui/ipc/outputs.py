"""Job output folders as the socket and the CLI see them: the path to show, and removal on request.

Why a module: `get` and `delete` (dispatch.py) and the CLI's `open`/`show` share these, and
the rule that removing outputs is an explicit choice, per job, never through a symlink
(core/outputs.py: remove_output_dir).
"""

from __future__ import annotations

from typing import Any

from ..core.errors import AcaciaError
from ..core.outputs import output_dir_of, outputs_root_of, remove_output_dir
from .protocol import error_object


def job_output_dir(store: Any, job_id: int) -> str | None:
    """Where the job's output folder is (whether or not it exists yet); None without a data folder."""
    root = outputs_root_of(store)
    return str(output_dir_of(root, job_id)) if root is not None else None


def remove_outputs(store: Any, job_ids: list[int]) -> dict[str, Any]:
    """Remove the output folders of deleted jobs: {"outputs_removed": ids, "output_errors": [...]}."""
    root = outputs_root_of(store)
    removed: list[int] = []
    errors: list[dict[str, Any]] = []
    for job_id in job_ids if root is not None else []:
        try:
            if remove_output_dir(root, job_id):
                removed.append(job_id)
        except (AcaciaError, OSError) as exc:
            error = error_object(exc) if isinstance(exc, AcaciaError) else {"code": "os_error", "message": str(exc)}
            errors.append({"id": job_id, "error": error})
    return {"outputs_removed": removed, "output_errors": errors}
