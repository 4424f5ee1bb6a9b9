"""`acacia kill ID` and `acacia extend ID`: what the user does about a stalled job.

Why a module of its own: both need the running app (the engine that runs the job holds its
worker process and its last sign of life), so neither falls back to the database.
"""

from __future__ import annotations

import argparse
import json
from typing import Any

from ..config import Config
from .backend import connect
from .output import echo


def _ask_app(config: Config, op: str, job_id: int) -> dict[str, Any]:
    backend = connect(config, fallback=False)
    try:
        return getattr(backend.ops, op)(job_id)
    finally:
        backend.close()


def cmd_kill(args: argparse.Namespace, config: Config) -> int:
    """Hard-cancel a job: a running one's worker process is killed at once."""
    job = _ask_app(config, "kill", args.id)
    if args.json:
        echo(json.dumps(job, ensure_ascii=False))
    elif job.get("killed"):
        echo(f"job {job['id']}: killed; it ends cancelled")
    else:
        echo(f"job {job['id']}: {job['state']}")
    return 0


def cmd_extend(args: argparse.Namespace, config: Config) -> int:
    """Postpone a running job's stall detection by another stall_after, clearing its flag."""
    result = _ask_app(config, "extend", args.id)
    if args.json:
        echo(json.dumps(result, ensure_ascii=False))
    else:
        echo(f"job {result['id']}: stall detection postponed by {result['extended_by']:g} s")
    return 0
