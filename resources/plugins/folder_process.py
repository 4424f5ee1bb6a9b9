"""Example plugin: process the files of a folder one by one, and resume where it left off.

Try it:

    acacia enqueue folder.process --payload '{"folder": "~/Pictures/2024", "every": 20}'

Kill the app while it runs, start it again: the job resumes at the last checkpoint instead
of starting over. The same happens for a retry after a failure, or when you cancel it and
press Retry.

What this example shows, beyond the basics in sleep.py and hash_file.py:

- Checkpoints: `job.save_checkpoint(value)` stores a small JSON value (at most 64 KiB)
  durably and returns once it is committed; a later attempt of the job finds it in
  `job.checkpoint` (None on the first run). Save how far you got (here: how many files are
  done), not the data itself.
- Rate: each checkpoint is a commit. Save every N items or every few seconds, not per item:
  at worst, the items since the last checkpoint are done again, so each item's work should
  be safe to repeat (here: writing the same line of a digest file again).
- A stable order: resuming by position needs the same list every time (sorted names).
"""

from __future__ import annotations

import hashlib
import logging
import os
import time
from pathlib import Path

from acacia_gui.jobs import Context, Job, handler

log = logging.getLogger(__name__)  # the job's log
SAVE_EVERY_SECONDS = 5.0  # a checkpoint at least this often, even when `every` files take long


@handler(
    "folder.process",
    title="Process a folder",
    description="Hash each file of a folder into a digest file, saving a checkpoint every N files, "
    "so a retry or a restart of the app resumes where it left off.",
    schema={
        "type": "object",
        "properties": {
            "folder": {"type": "string", "format": "path", "title": "Folder"},
            "every": {"type": "integer", "minimum": 1, "maximum": 100000, "default": 20,
                      "title": "Checkpoint every N files"},
        },
        "required": ["folder"],
    },
)  # fmt: skip
def process_folder(ctx: Context, job: Job) -> dict:
    folder = Path(os.path.expanduser(job.payload["folder"]))
    every = int(job.payload.get("every", 20))
    names = sorted(entry.name for entry in os.scandir(folder) if entry.is_file())
    start = (job.checkpoint or {}).get("done", 0)
    if start:
        log.info("resuming at file %d of %d (from the last checkpoint)", start + 1, len(names))
    digest = job.output_dir / "digests.txt"
    saved_at = time.monotonic()
    with open(digest, "a", encoding="utf-8") as out:
        for index in range(start, len(names)):
            ctx.check()  # a cancel or the timeout stops between two files
            name = names[index]
            out.write(f"{hashlib.sha256((folder / name).read_bytes()).hexdigest()}  {name}\n")
            done = index + 1
            job.report_progress(done / len(names), f"{done:,} of {len(names):,} files")
            if done % every == 0 or time.monotonic() - saved_at >= SAVE_EVERY_SECONDS:
                out.flush()  # the lines before the checkpoint are on disk before it says they are done
                job.save_checkpoint({"done": done, "last": name})
                saved_at = time.monotonic()
    job.add_artifact(digest, label="SHA-256 of each file")
    return {"files": len(names), "resumed_at": start}
