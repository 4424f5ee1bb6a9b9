"""Example plugin: hash a file, with progress by bytes read.

Try it:

    acacia enqueue file.hash --payload '{"path": "~/Downloads/big.iso", "algorithm": "sha256"}'

What this example shows, beyond the basics in sleep.py:

- Progress by work done: report the fraction of bytes read and a human message
  ("12.0 of 40.0 MiB"). When the total is unknown, report `None` for an indeterminate bar.
- Long loops call `ctx.check()` between steps, so a cancel (or the job's timeout) stops
  the job within one step. Pick steps that take well under a second.
- `"format": "path"` in the schema tells the window to offer a file chooser; `enum` gives
  a drop-down, `default` its initial value. `required` is checked before queueing.
- Outputs: files a job makes go in `job.output_dir` (a private folder per job, made on
  first use); `job.add_artifact(path, label)` lists one in the job's Outputs tab at once.
- Errors are just exceptions: a missing file raises FileNotFoundError, and the job fails
  with its message ("No such file or directory: …") — no special error handling needed.
"""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from acacia_gui.jobs import Context, Job, handler

CHUNK = 1024 * 1024  # 1 MiB: big enough to be fast, small enough to notice a cancel quickly
MIB = 1024 * 1024
ALGORITHMS = ["sha256", "sha1", "md5", "blake2b"]


@handler(
    "file.hash",
    title="Hash a file",
    description="Compute a checksum of a file (SHA-256 by default), reading it in 1 MiB chunks.",
    schema={
        "type": "object",
        "properties": {
            "path": {"type": "string", "format": "path", "title": "File", "description": "The file to hash."},
            "algorithm": {"enum": ALGORITHMS, "title": "Algorithm", "default": "sha256"},
        },
        "required": ["path"],
        "additionalProperties": False,
    },
)
def hash_file(ctx: Context, job: Job) -> dict[str, object]:
    path = Path(job.payload["path"]).expanduser()
    algorithm = job.payload.get("algorithm", "sha256")
    digest = hashlib.new(algorithm, usedforsecurity=False)  # a checksum, not a password hash
    done = 0
    with path.open("rb") as stream:  # FileNotFoundError / IsADirectoryError fail the job clearly
        total = os.fstat(stream.fileno()).st_size
        job.report_progress(0.0 if total else None, f"0.0 of {total / MIB:.1f} MiB")
        while chunk := stream.read(CHUNK):
            ctx.check()  # stop here if the job was cancelled
            digest.update(chunk)
            done += len(chunk)
            job.report_progress(done / total if total else None, f"{done / MIB:.1f} of {total / MIB:.1f} MiB")
    # The checksum file, in `sha256sum -c` format, in the job's private output folder: it shows
    # in the job's Outputs tab (and `acacia show`), where Open and Show in folder reach it.
    checksum = job.output_dir / f"{path.name}.{algorithm}"
    checksum.write_text(f"{digest.hexdigest()}  {path.name}\n", encoding="utf-8")
    job.add_artifact(checksum, label=f"{algorithm} of {path.name}")
    return {"path": str(path), "algorithm": algorithm, "digest": digest.hexdigest(), "bytes": done}
