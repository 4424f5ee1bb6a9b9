"""Example plugin: a job that sleeps, reporting progress, and stops as soon as it is cancelled.

Start here if you are writing your first Acacia plugin. A plugin is a `.py` file (or a
package folder) in your plugin folder; `acacia info` prints where that is. Acacia imports
it at start (and on "Reload plugins") and registers every function decorated with
`@handler`. Try it:

    acacia enqueue demo.sleep --payload '{"seconds": 10}'

What this example shows:

- `@handler(job_type, ...)` declares the handler. The job type is a stable name that is
  stored with every queued job, so never rename it once people have queued jobs.
- `schema=` is a JSON schema of the payload. Acacia checks each payload against it
  before the job is queued, so the handler can trust the payload's shape; the window
  also uses it to build the "new job" form (titles, descriptions, defaults).
- A handler is a function `(ctx, job)`. `job.payload` is JSON data; `job.report_progress`
  moves the progress bar (call it as often as you like, Acacia throttles it).
- `ctx.wait(seconds)` is an interruptible sleep: it returns True as soon as the job is
  cancelled (or its timeout passes). `ctx.check()` then raises `Cancelled`, which ends
  the job as cancelled. Never use `time.sleep` in a handler: it cannot be interrupted.
- Raising any other exception fails the job with that message (and traceback); the
  return value (any JSON data) becomes the job's result.
"""

from __future__ import annotations

import time

from acacia_gui.jobs import Context, Job, handler

STEP = 0.1  # seconds between progress updates; also how fast a cancel is noticed at worst

SCHEMA = {
    "type": "object",
    "properties": {
        "seconds": {
            "type": "number",
            "title": "Seconds",
            "description": "How long to sleep.",
            "minimum": 0,
            "maximum": 86400,
            "default": 5,
        },
        "fail": {
            "type": "boolean",
            "title": "Fail at the end",
            "description": "Fail instead of succeeding, to see what a failed job looks like.",
            "default": False,
        },
    },
    "additionalProperties": False,
}


@handler(
    "demo.sleep",
    title="Sleep",
    description="Sleep for a number of seconds with progress. Harmless; good for trying Acacia out.",
    schema=SCHEMA,
    on_interrupt="retry",  # safe to run again from the start if the app dies mid-run
)
def sleep(ctx: Context, job: Job) -> dict[str, float]:
    payload = job.payload or {}
    seconds = float(payload.get("seconds", 5))
    started = time.monotonic()
    while (elapsed := time.monotonic() - started) < seconds:
        job.report_progress(elapsed / seconds, f"{seconds - elapsed:.1f} s left")
        if ctx.wait(min(STEP, seconds - elapsed)):
            ctx.check()  # raises Cancelled (or DeadlineExceeded when the job timed out)
    if payload.get("fail", False):
        raise RuntimeError(f"failed on purpose after {seconds:g} s (the payload asked for it with \"fail\": true)")
    job.report_progress(1.0, f"slept {seconds:g} s")
    return {"slept": seconds}
