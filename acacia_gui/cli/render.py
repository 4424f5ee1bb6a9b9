"""Plain-text rendering for the terminal: tables, job details, progress bars. No I/O here."""

from __future__ import annotations

import json
import sys
import time
from collections.abc import Sequence
from typing import Any

from ..core.limits import format_bytes


def unicode_ok(stream: Any = None) -> bool:
    encoding = (getattr(stream or sys.stdout, "encoding", None) or "").lower().replace("-", "")
    return encoding in ("utf8", "utf16", "utf32")


def bar(progress: float | None, width: int = 20, *, fancy: bool = True) -> str:
    """[#####-----]  50%  — or an empty bar with '?' when progress is unknown."""
    full, empty = ("█", "░") if fancy else ("#", "-")
    if progress is None:
        return empty * width + "    ?"
    progress = min(1.0, max(0.0, float(progress)))
    filled = round(progress * width)
    return full * filled + empty * (width - filled) + f" {progress * 100:3.0f}%"


def when(timestamp: float | None) -> str:
    if not timestamp:
        return "-"
    return time.strftime("%Y-%m-%d %H:%M:%S", time.localtime(timestamp))


def duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    seconds = max(0.0, seconds)
    if seconds < 60:
        return f"{seconds:.1f}s"
    minutes, secs = divmod(int(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours}h{minutes:02d}m" if hours else f"{minutes}m{secs:02d}s"


def clip(text: Any, width: int) -> str:
    text = " ".join(str(text if text is not None else "").split())
    return text if len(text) <= width else text[: max(0, width - 1)] + "…"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]], *, max_width: int | None = None) -> str:
    """Columns sized to their content; the last column is clipped to fit `max_width`."""
    cells = [[str(c) for c in row] for row in rows]
    widths = [max([len(h)] + [len(r[i]) for r in cells]) for i, h in enumerate(headers)]
    if max_width and widths:
        used = sum(widths[:-1]) + 2 * (len(widths) - 1)
        widths[-1] = max(len(headers[-1]), min(widths[-1], max_width - used))
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    for row in cells:
        row = [*row[:-1], clip(row[-1], widths[-1])] if row else row
        lines.append("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip())
    return "\n".join(lines)


def job_summary(job: dict[str, Any]) -> str:
    """The last column of a job row: its error, else its progress message."""
    return job.get("error") or job.get("progress_message") or ""


def jobs_table(jobs: Sequence[dict[str, Any]], *, max_width: int | None = None, fancy: bool = True) -> str:
    rows = [
        (
            job["id"], job["state"], job["type"], job["queue"], job["priority"],
            bar(job.get("progress"), 10, fancy=fancy) if job["state"] == "running" else "",
            f"{job['attempts']}/{job['max_attempts']}", when(job.get("created_at")), job_summary(job),
        )
        for job in jobs
    ]  # fmt: skip
    headers = ("ID", "STATE", "TYPE", "QUEUE", "PRI", "PROGRESS", "TRIES", "CREATED", "MESSAGE")
    return table(headers, rows, max_width=max_width)


def job_details(job: dict[str, Any]) -> str:
    lines = [f"job {job['id']}: {job['type']} — {job['state']}"]
    fields = [
        ("queue", job["queue"]), ("priority", job["priority"]), ("attempts", f"{job['attempts']}/{job['max_attempts']}"),
        ("timeout", f"{job['timeout']:g} s" if job.get("timeout") else "none"),
        ("runs in", _runs_in(job)),
        *([("instance", f"{job['instance']} (instance {job['instance_id']})")] if job.get("instance") else []),
        *([("ran on", job["ran_on"])] if job.get("ran_on") and job["state"] != "running" else []),  # who ran it last
        ("progress", bar(job.get("progress"), 20, fancy=unicode_ok()) + (f"  {job['progress_message']}"
                                                                           if job.get("progress_message") else "")),
        ("created", when(job.get("created_at"))), ("run at", when(job.get("run_at"))),
        ("started", when(job.get("started_at"))), ("finished", when(job.get("finished_at"))),
        ("payload", json.dumps(job.get("payload"), ensure_ascii=False)),
    ]  # fmt: skip
    if job.get("interruptions"):
        fields.insert(3, ("interrupted", f"{job['interruptions']} time(s) by a crash of the app (attempts not used)"))
    if job.get("result") is not None:
        fields.append(("result", json.dumps(job["result"], ensure_ascii=False)))
    if job.get("error"):
        fields.append(("error", job["error"]))
    dependencies = job.get("dependencies") or {}
    for name, key in (("after", "upstream"), ("before", "downstream")):
        if dependencies.get(key):
            fields.append((name, ", ".join(f"{dep['id']} ({dep['state']})" for dep in dependencies[key])))
    if job.get("unique_key"):
        fields.append(("unique", job["unique_key"]))
    if job.get("checkpoint"):
        saved = job["checkpoint"]
        fields.append(("checkpoint", f"{json.dumps(saved['data'], ensure_ascii=False)[:200]}  (saved {when(saved['saved_at'])}"
                                     f" by attempt {saved.get('attempt', '?')})"))  # fmt: skip
    if job.get("stalled"):
        fields.append(("stalled", f"no progress or log line since {when(job['stalled']['since'])}"
                                  f" ({job['stalled']['for']:.0f} s); acacia kill/extend/cancel {job['id']}"))  # fmt: skip
    if job.get("why") and job.get("state") != "running":
        fields.append(("why", job["why"]))
    lines += [f"  {name:<9} {value}" for name, value in fields]
    if job.get("events"):
        lines.append("history:")
        for event in job["events"]:
            old = event.get("old_state") or "·"
            message = f"  {event['message']}" if event.get("message") else ""
            lines.append(f"  {when(event['at'])}  {event['source']:<8} {old} → {event['new_state']}{message}")
    lines += _outputs(job)
    if job.get("logs"):
        shown, total = len(job["logs"]), job.get("log_count", len(job["logs"]))
        lines.append(f"log (last {shown} of {total} lines):" if total > shown else "log:")
        lines += [f"  {when(line['at'])} {line['level']:<7} {line['message']}" for line in job["logs"]]
    if job.get("traceback"):
        lines.append("traceback:")
        lines += ["  " + line for line in job["traceback"].rstrip().splitlines()]
    return "\n".join(lines)


def _outputs(job: dict[str, Any]) -> list[str]:
    """The job's artifacts (name, size, kind, path), or nothing when it registered none."""
    artifacts = job.get("artifacts") or []
    if not artifacts:
        return []
    lines = [f"outputs ({len(artifacts)}):"]
    for artifact in artifacts:
        label = f"  ({artifact['label']})" if artifact.get("label") else ""
        lines.append(f"  {artifact['name']}  {format_bytes(artifact['size'])}  {artifact['kind']}  "
                     f"{artifact['path']}{label}")  # fmt: skip
    return lines


def _runs_in(job: dict[str, Any]) -> str:
    """'a worker process (memory 512 MB, nice 5)' — the job's own limits; the handler's apply otherwise."""
    places = {"process": "a worker process", "thread": "a thread of the app"}
    where = places.get(job.get("isolation") or "", "as its handler says (not loaded here)")
    limits = [f"grace {job['cancel_grace']:g} s" if job.get("cancel_grace") is not None else "",
              f"memory {format_bytes(job['memory_limit'])}" if job.get("memory_limit") else "",
              f"CPU {job['cpu_time_limit']:g} s" if job.get("cpu_time_limit") else "",
              f"nice {job['nice']}" if job.get("nice") else ""]  # fmt: skip
    shown = ", ".join(limit for limit in limits if limit)
    return f"{where}; {shown}" if shown else where


def _handler_limits(h: dict[str, Any]) -> str:
    limits = [f"mem {format_bytes(h['memory_limit'])}" if h.get("memory_limit") else "",
              f"cpu {h['cpu_time_limit']:g}s" if h.get("cpu_time_limit") else "",
              f"nice {h['nice']}" if h.get("nice") else "",
              f"rate {h['rate_limit']}" if h.get("rate_limit") else "",
              f"max {h['max_running']} running" if h.get("max_running") else ""]  # fmt: skip
    return ", ".join(limit for limit in limits if limit) or "-"


def handlers_text(result: dict[str, Any]) -> str:
    handlers = result.get("handlers") or []
    rows = [
        (h["type"], h["queue"], h.get("isolation") or "-", f"{h['timeout']:g}s" if h.get("timeout") else "-",
         h["max_attempts"], _handler_limits(h), h.get("plugin") or "-", h.get("title") or "")
        for h in handlers
    ]  # fmt: skip
    text = (table(("TYPE", "QUEUE", "RUNS IN", "TIMEOUT", "TRIES", "LIMITS", "PLUGIN", "TITLE"), rows)
            if rows else "no handlers loaded")  # fmt: skip
    notes = [f"{h['type']} runs on a thread: {h['isolation_note']}" for h in handlers if h.get("isolation_note")]
    if notes:
        text += "\n\n" + "\n".join(notes)
    problems = ((result.get("plugins") or {}).get("problems")) or []
    if problems:
        text += "\n\nplugins that failed to load:"
        for problem in problems:
            text += f"\n  {problem.get('plugin')} ({problem.get('path')}): {problem.get('message')}"
    return text


def stats_text(stats: dict[str, Any]) -> str:
    counts = stats.get("counts") or {}
    lines = ["jobs: " + ", ".join(f"{state} {n}" for state, n in counts.items())]
    if stats.get("problem"):
        lines.insert(0, f"PROBLEM: {stats['problem']}")
    if stats.get("concurrency") is not None:
        lines.append(f"workers: {stats['concurrency']} ({stats.get('running_here', 0)} busy)"
                     f"; finished in the last minute: {stats.get('finished_last_minute', 0)}"
                     f"; up {duration(stats.get('uptime'))}")  # fmt: skip
    else:
        lines.append(f"no app running; finished in the last minute: {stats.get('finished_last_minute', 0)}")
    rows = [
        (q["name"], "paused" if q["paused"] else "active", q["concurrency"] or "-", q.get("rate") or "-",
         q["counts"].get("queued", 0) + q["counts"].get("scheduled", 0) + q["counts"].get("waiting", 0),
         q["counts"].get("running", 0),
         q["counts"].get("failed", 0), q["counts"].get("succeeded", 0))
        for q in stats.get("queues") or []
    ]  # fmt: skip
    if rows:
        lines += ["", table(("QUEUE", "STATUS", "LIMIT", "RATE", "WAITING", "RUNNING", "FAILED", "DONE"), rows)]
    return "\n".join(lines)


def queue_text(info: dict[str, Any]) -> str:
    limit = info["concurrency"] or "no limit"
    rate = f", rate {info['rate']}" if info.get("rate") else ""
    return f"queue {info['name']}: {'paused' if info['paused'] else 'active'}, concurrency {limit}{rate}"


# -- recurring schedules ------------------------------------------------------------------

def relative(timestamp: float | None, now: float) -> str:
    """"in 4 min", "12 s ago", "in 2 h", "in 3 d": how far a time is from now, roughly."""
    if timestamp is None:
        return "-"
    delta = timestamp - now
    size = abs(delta)
    if size < 1:
        return "now"
    for unit, seconds in (("d", 86400), ("h", 3600), ("min", 60)):
        if size >= seconds:
            amount = f"{size / seconds:.0f} {unit}"
            break
    else:
        amount = f"{size:.0f} s"
    return f"in {amount}" if delta >= 0 else f"{amount} ago"


def schedule_rule(schedule: dict[str, Any]) -> str:
    """"every 10m" or "cron 0 3 * * * (Europe/Paris)": the rule as the user typed it."""
    if schedule.get("every") is not None:
        from ..core.durations import format_duration

        return f"every {format_duration(schedule['every'])}"
    zone = f" ({schedule['timezone']})" if schedule.get("timezone") else ""
    return f"cron {schedule.get('cron')}{zone}"


def next_run(schedule: dict[str, Any], now: float) -> str:
    if schedule.get("paused"):
        return "- (paused)"
    if schedule.get("next_at") is None:
        return "-"
    return f"{when(schedule['next_at'])} ({relative(schedule['next_at'], now)})"


def _last_result(schedule: dict[str, Any]) -> str:
    if schedule.get("last_job_id") is None:
        return "-"
    return f"{schedule.get('last_state') or 'deleted'} (job {schedule['last_job_id']})"


def schedules_table(schedules: Sequence[dict[str, Any]], now: float, *, max_width: int | None = None) -> str:
    """NAME TYPE RULE NEXT RUN LAST RUN LAST RESULT PAUSED: next run in local time and how soon."""
    rows = [(s["name"], s["type"], schedule_rule(s), next_run(s, now), when(s.get("last_slot")), _last_result(s),
             "yes" if s.get("paused") else "no") for s in schedules]  # fmt: skip
    return table(("NAME", "TYPE", "RULE", "NEXT RUN", "LAST RUN", "LAST RESULT", "PAUSED"), rows, max_width=max_width)


def schedule_details(schedule: dict[str, Any], now: float) -> str:
    """Every field of one schedule, its last job and state, and what its last catch-up dropped."""
    fields = [
        ("type", schedule["type"]), ("payload", json.dumps(schedule.get("payload"), ensure_ascii=False)),
        ("rule", schedule_rule(schedule)), ("timezone", schedule.get("timezone") or "the machine's"),
        ("catch-up", schedule["catch_up"] + (f" (at most {schedule['max_backlog']} missed runs)"
                                             if schedule["catch_up"] == "all" else "")),
        ("queue", schedule.get("queue") or "the handler's (else default)"), ("priority", schedule.get("priority", 0)),
        ("paused", "yes" if schedule.get("paused") else "no"), ("next run", next_run(schedule, now)),
        ("last run", f"{when(schedule.get('last_slot'))}" + (f" ({relative(schedule['last_slot'], now)})"
                                                             if schedule.get("last_slot") else "")),
        ("last job", schedule["last_job_id"] if schedule.get("last_job_id") is not None else "-"),
        ("last state", schedule.get("last_state") or ("-" if schedule.get("last_job_id") is None else "deleted")),
        ("dropped", f"{schedule.get('last_dropped') or 0} missed run(s) not enqueued by the last catch-up"),
        ("created", when(schedule.get("created_at"))),
    ]  # fmt: skip
    return "\n".join([f"schedule {schedule['name']}", *(f"  {name:<10} {value}" for name, value in fields)])
