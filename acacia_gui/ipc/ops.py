"""The socket's ops, in one table: what each is called, which params it takes, which
Dispatcher method answers it and which client methods send it.

The protocol's op names, the Dispatcher's routing and its unknown-field check all come
from here, so adding an op is one entry here plus its handler and client method;
tests/unit/test_op_table.py fails until those three agree. Pure data: imports nothing.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Op:
    """One op. `params` are every field it accepts (in any of its forms); the handler
    still checks types, required fields and which fields go together.

    `handler` names a `Dispatcher._op_*` method taking a Params; `client` names the
    Client methods that send this op (LocalClient has the same ones). `needs_app`: only
    a running app can answer it, so the in-process path (CLI without an app) refuses it.
    """

    name: str
    params: tuple[str, ...]
    handler: str
    client: tuple[str, ...]
    doc: str
    needs_app: bool = False


_JOB = ("type", "payload", "queue", "priority", "delay", "max_attempts", "timeout", "cancel_grace", "memory_limit",
        "cpu_time_limit", "nice", "after", "after_policy", "unique_key", "on_conflict")
_SCHEDULE = ("type", "payload", "every", "cron", "timezone", "catch_up", "max_backlog", "queue", "priority",
             "paused")  # a schedule's fields as schedule_add takes them; schedule_edit takes all but "paused"

OP_TABLE: tuple[Op, ...] = (
    Op("hello", ("version", "client"), "_op_hello", ("hello",),
       "version handshake; the app's identity, pid and paths"),
    Op("enqueue", (*_JOB, "jobs", "ref", "allow_unknown", "validate_only"), "_op_enqueue", ("enqueue", "enqueue_many"),
       'one job, or "jobs": a batch in one transaction (all or nothing; a line\'s "ref" names it for later lines\' '
       '"after"); "validate_only": check, write nothing'),
    Op("get", ("id", "events", "logs"), "_op_get", ("get",),
       "one job (with its dependencies, why it is not running, its artifacts and output folder), optionally with its "
       "events and last log lines"),
    Op("logs", ("id", "after", "limit"), "_op_logs", ("logs",),
       'a page of a job\'s log lines after line id "after", oldest first, and whether more follow'),
    Op("list", ("state", "queue", "type", "search", "order_by", "descending", "limit", "offset", "stalled"), "_op_list",
       ("list",), 'a filtered, sorted page of jobs and the total that match; "stalled": true: only stalled jobs'),
    Op("cancel", ("id", "ids"), "_op_cancel", ("cancel", "cancel_many"),
       'cancel a job (a running one stops shortly); "ids": each of several, reported per id'),
    Op("kill", ("id",), "_op_kill", ("kill",),
       "a hard cancel: a running job's worker process is killed at once (refused for a thread handler)",
       needs_app=True),
    Op("extend", ("id",), "_op_extend", ("extend",),
       "postpone a running job's stall detection by another stall_after, clearing its stalled flag", needs_app=True),
    Op("retry", ("id", "ids", "with_dependents"), "_op_retry", ("retry", "retry_many"),
       'queue a finished job again; "ids": each of several, reported per id; "with_dependents": also the jobs '
       "its end cancelled"),
    Op("edit", ("id", "priority", "queue", "payload", "front"), "_op_edit", ("edit",),
       'change a queued or scheduled job\'s priority, queue or payload (schema-checked), or "front": true to '
       "move it ahead of its queue's other waiting jobs"),
    Op("delete", ("id", "ids", "finished", "queue", "older_than", "state", "outputs"), "_op_delete",
       ("delete", "delete_many", "delete_finished"),
       'delete a job, each of several ("ids", reported per id), or every finished one ("finished": true; '
       '"older_than" and "state" narrow it); "outputs": true also removes their output folders'),
    Op("pause", ("queue", "create"), "_op_pause", ("pause",),
       'stop starting jobs of a queue (an unknown queue is refused unless "create": true)'),
    Op("resume", ("queue", "create"), "_op_resume", ("resume",),
       'start jobs of a paused queue again (an unknown queue is refused unless "create": true)'),
    Op("set_concurrency", ("queue", "concurrency", "create", "workers", "rate"), "_op_set_concurrency",
       ("set_concurrency", "set_workers", "set_rate"),
       'a queue\'s limit and/or its "rate" ("30/h", null: none), or the app\'s worker count (needs the app)'),
    Op("handlers", (), "_op_handlers", ("handlers",), "registered job types and the plugin load report"),
    Op("stats", (), "_op_stats", ("stats",), "counts by state, queues, throughput"),
    Op("raise_window", (), "_op_raise_window", ("raise_window",), "bring the app's window to the front"),
    Op("watch", ("job", "queue", "kinds", "since", "since_log"), "_op_watch", ("watch",),
       "a reply, then a stream of events on that connection (the server's, not in-process); a job watch "
       'replays the job\'s history after "since" (default "start") first', needs_app=True),
    Op("schedule_add", ("name", *_SCHEDULE, "allow_unknown"), "_op_schedule_add", ("schedule_add",),
       'a recurring schedule: a job of "type" every "every" seconds or on a "cron" line, with its catch-up mode'),
    Op("schedule_edit", ("name", *_SCHEDULE[:-1], "allow_unknown"), "_op_schedule_edit", ("schedule_edit",),
       "change a schedule's fields (only those given); its next run is planned again"),
    Op("schedule_list", (), "_op_schedule_list", ("schedule_list",), "every schedule, with its next and last run"),
    Op("schedule_get", ("name",), "_op_schedule_get", ("schedule_get",), "one schedule"),
    Op("schedule_remove", ("name",), "_op_schedule_remove", ("schedule_remove",),
       "delete a schedule (the jobs it enqueued stay)"),
    Op("schedule_pause", ("name",), "_op_schedule_pause", ("schedule_pause",), "stop a schedule enqueueing jobs"),
    Op("schedule_resume", ("name",), "_op_schedule_resume", ("schedule_resume",),
       "enqueue again from the next slot after now (the paused time is not caught up)"),
    Op("schedule_run_now", ("name",), "_op_schedule_run_now", ("schedule_run_now",),
       "enqueue one job of a schedule now; its next slot is unchanged"),
)  # fmt: skip

OPS_BY_NAME: dict[str, Op] = {op.name: op for op in OP_TABLE}
