"""The `acacia` command line: argparse, with errors on one line and exit status 2.

Global options (--data-dir, --plugins-dir, --durability) are accepted before or after
the subcommand. Numbers are checked here for what argparse can check (finite, whole),
and flags that map to a shared limit (core/definitions) are checked against that same
limit here, so the message names the flag; job fields (priority, delay…) are checked by
the validators the app uses, so both paths agree.
"""

from __future__ import annotations

import argparse
import math
from collections.abc import Callable
from typing import Any, NoReturn

from ..core.definitions import (
    MAX_LIST_LIMIT,
    MAX_LOG_LINES,
    MAX_OFFSET,
    MAX_QUEUE_CONCURRENCY,
    MAX_WORKERS,
    SORT_FIELDS,
    AfterPolicy,
    JobState,
    OnConflict,
)
from ..core.durations import parse_duration, parse_keep
from ..core.errors import InvalidOptionError
from ..core.limits import parse_memory_limit
from ..core.rates import parse_rate
from .examples import epilog

STATES = [s.value for s in JobState]
ECHO_LIMIT = 40  # characters of a bad value repeated in a message


class UsageError(Exception):
    """Bad command-line input: one line on stderr, exit status 2."""


class Parser(argparse.ArgumentParser):
    """argparse that raises UsageError (one line) instead of printing usage and exiting."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{self.prog}: {message} (see `{self.prog} --help`)")


def shown(text: str) -> str:
    """A value for a message: quoted, and cut short (a 5000-digit number is not worth echoing)."""
    return repr(text if len(text) <= ECHO_LIMIT else f"{text[:ECHO_LIMIT]}…")


def finite_float(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a number") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a finite number")
    return value


def whole_number(text: str) -> int:
    try:
        return int(text, 10)
    except ValueError:  # also for more than 4300 digits
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a whole number (or is far too long)") from None


def memory_size(text: str) -> int:
    """An argparse type for --memory-limit: bytes or a size such as 512MB or 2GiB."""
    try:
        return parse_memory_limit(int(text) if text.strip().isdigit() else text)
    except InvalidOptionError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("memory_limit ")) from None


def rate_arg(text: str) -> str:
    """--rate: a rate (30/h, 10/min, 3/2s) in its short form, or 'none'."""
    if text.strip().lower() == "none":
        return "none"
    try:
        return str(parse_rate(text))
    except InvalidOptionError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


rate_arg.__name__ = "rate"


def bounded(low: int, high: int) -> Callable[[str], int]:
    """An argparse type for a whole number in [low, high]: `argument --logs: must be …`."""

    def check(text: str) -> int:
        value = whole_number(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low} to {high}, got {shown(text)}")
        return value

    check.__name__ = f"whole number from {low} to {high}"
    return check


def positive_int(text: str) -> int:
    value = whole_number(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {shown(text)}")
    return value


def non_negative_float(text: str) -> float:
    value = finite_float(text)
    if value < 0:
        raise argparse.ArgumentTypeError(f"must be 0 or more, got {shown(text)}")
    return value


def bounded_float(low: float, high: float) -> Callable[[str], float]:
    """An argparse type for a number of seconds in [low, high]."""

    def check(text: str) -> float:
        value = finite_float(text)
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be from {low:g} to {high:g}, got {shown(text)}")
        return value

    check.__name__ = f"number from {low:g} to {high:g}"
    return check


def keep_period(text: str) -> str:
    """--keep-finished/--keep-failed: a duration (30d, 12h, 90m, 45s) or "forever"; kept as typed."""
    try:
        parse_keep(text)
    except InvalidOptionError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None
    return text


def duration(text: str) -> float:
    """--older-than: a duration (30d, 12h, 90m, 45s), in seconds."""
    try:
        return parse_duration(text)
    except InvalidOptionError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def job_id(text: str) -> int:
    try:
        value = int(text, 10)
    except ValueError:
        value = 0
    if not 1 <= value < 2**63:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a job id (a whole number >= 1)")
    return value


def id_list(text: str) -> list[int]:
    """--after 12,14: job ids, comma-separated."""
    return [job_id(part.strip()) for part in text.split(",")] if text.strip() else [job_id(text)]


def state_list(text: str) -> list[str]:
    states = [part.strip() for part in text.split(",") if part.strip()]
    bad = [s for s in states if s not in STATES]
    if bad or not states:
        raise argparse.ArgumentTypeError(f"unknown state {(bad or [text])[0]!r}; choose from {', '.join(STATES)}")
    return states


def _globals(parser: argparse.ArgumentParser, default: Any) -> None:
    group = parser.add_argument_group("where")
    group.add_argument("--data-dir", metavar="DIR", default=default,
                       help="data folder (database, socket name); env ACACIA_DATA_DIR")  # fmt: skip
    group.add_argument("--plugins-dir", metavar="DIR", default=default, help="plugin folder; env ACACIA_PLUGINS_DIR")
    group.add_argument("--durability", choices=("normal", "full"), default=default,
                       help="full: fsync every commit (survives power loss); env ACACIA_DURABILITY")  # fmt: skip
    group.add_argument("--database", metavar="URL|FILE", default=default,
                       help="postgresql://user@host/dbname (shared by every instance pointed at it) or a SQLite "
                            "file (default: acacia.db in the data folder); env ACACIA_DATABASE")  # fmt: skip


def _app_options(parser: argparse.ArgumentParser, default: Any) -> None:
    parser.add_argument("--workers", type=bounded(1, MAX_WORKERS), metavar="N", default=default,
                        help="jobs run at once (default: the number of CPUs)")  # fmt: skip
    parser.add_argument("--stop-timeout", type=non_negative_float, metavar="S", default=default,
                        help="seconds running jobs get to finish on Ctrl-C/SIGTERM (default 10)")  # fmt: skip
    parser.add_argument("--max-line-bytes", type=positive_int, metavar="N", default=default,
                        help="largest request the socket accepts (default 1 MiB)")  # fmt: skip
    parser.add_argument("--keep-finished", type=keep_period, metavar="DURATION", default=default,
                        help="delete succeeded and cancelled jobs this long after they end (30d, 12h, 90m, 45s, "
                             "forever); env ACACIA_KEEP_FINISHED; default: the Settings dialog's, else forever")  # fmt: skip
    parser.add_argument("--keep-failed", type=keep_period, metavar="DURATION", default=default,
                        help="the same for failed and interrupted jobs; env ACACIA_KEEP_FAILED (default forever)")
    parser.add_argument("--lease", type=bounded_float(1.0, 3600.0), metavar="S", default=default,
                        help="PostgreSQL: an instance with no heartbeat for S seconds counts as dead and its jobs "
                             "are recovered (default 30); env ACACIA_LEASE")  # fmt: skip


def build_parser() -> Parser:
    parser = Parser(prog="acacia", description="Acacia job manager. Without a command, opens the window.",
                    epilog=epilog("acacia"), formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
    parser.add_argument("--version", action="store_true", help="print the version and exit")
    parser.add_argument("--self-test", action="store_true", help=argparse.SUPPRESS)
    _globals(parser, None)
    _app_options(parser, None)
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", parser_class=Parser)

    def command(name: str, help_text: str, *, data: bool = True) -> Parser:
        sub = commands.add_parser(name, help=help_text, description=help_text, epilog=epilog(name),
                                  formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        _globals(sub, argparse.SUPPRESS)
        if data:
            sub.add_argument("--json", action="store_true", help="print JSON instead of a table")
        return sub

    serve = command("serve", "run headless: plugins, worker and socket, no window", data=False)
    _app_options(serve, argparse.SUPPRESS)

    enqueue = command("enqueue", "queue a job (or --batch: any number of them)")
    enqueue.add_argument("type", nargs="?", metavar="TYPE", help="job type, e.g. demo.sleep")
    enqueue.add_argument("--payload", metavar="JSON", help="the job's payload as JSON (default {})")
    enqueue.add_argument("--queue", metavar="Q", help="the queue to put it in (default: default; created if new)")
    enqueue.add_argument("--priority", type=whole_number, metavar="N", help="higher runs first (default 0)")
    enqueue.add_argument("--delay", type=finite_float, metavar="S", help="run no sooner than S seconds from now")
    enqueue.add_argument("--max-attempts", type=whole_number, metavar="N",
                         help="runs allowed in all, retries after a failure included (default: the handler's)")
    enqueue.add_argument("--timeout", type=finite_float, metavar="S", help="cancel the run after S seconds")
    enqueue.add_argument("--cancel-grace", type=finite_float, metavar="S",
                         help="seconds a cancelled handler gets before its process is killed (default: the handler's, 5)")
    enqueue.add_argument("--memory-limit", type=memory_size, metavar="SIZE", help="e.g. 512MB or 2GiB (default: the handler's)")
    enqueue.add_argument("--cpu-time-limit", type=finite_float, metavar="S", help="seconds of CPU the run may use")
    enqueue.add_argument("--nice", type=bounded(0, 19), metavar="N", help="0 (normal) to 19 (lowest CPU priority)")
    enqueue.add_argument("--after", type=id_list, action="append", metavar="ID[,ID]",
                         help="run only after these jobs (see --after-policy); it waits meanwhile")  # fmt: skip
    enqueue.add_argument("--after-policy", choices=tuple(AfterPolicy), metavar="success|finished",
                         help="success (default): once they all succeeded, and cancelled if one fails; "
                              "finished: once they all ended, however")  # fmt: skip
    enqueue.add_argument("--unique-key", metavar="KEY",
                         help="no two jobs that are not finished share KEY (see --on-conflict)")  # fmt: skip
    enqueue.add_argument("--on-conflict", choices=tuple(OnConflict), metavar="return|reject|replace",
                         help="when a job holds KEY: return its id (default), reject (exit 1), or replace its "
                              "payload if it has not started")  # fmt: skip
    enqueue.add_argument("--batch", metavar="FILE",
                         help='JSON lines {"type": ..., "payload": ...}; - for stdin. Every line is checked before '
                              "any is enqueued (a bad one: exit 2, nothing enqueued). Up to one request to the app "
                              "(1 MiB), or without an app, it is one transaction; a larger batch is written in "
                              "chunks, one transaction each: if that fails part-way, the ids enqueued are printed, "
                              "stderr says which lines were not, and the exit status is 1")  # fmt: skip
    enqueue.add_argument("--allow-unknown", action="store_true", help="queue even if no plugin handles TYPE yet")
    enqueue.add_argument("--wait", action="store_true", help="show progress; exit 0 on success, 1 on failure")
    enqueue.add_argument("--cancel-on-interrupt", action="store_true", help="with --wait: Ctrl-C cancels the job")

    listing = command("list", "list jobs (all matching ones unless --limit)")
    listing.add_argument("--state", type=state_list, action="append", metavar="S[,S]", help=", ".join(STATES))
    listing.add_argument("--queue", action="append", metavar="Q", help="only jobs of this queue (repeat for several)")
    listing.add_argument("--type", action="append", metavar="T", help="only jobs of this type (repeat for several)")
    listing.add_argument("--search", metavar="TEXT", help="in type, payload, error, progress message")
    listing.add_argument("--limit", type=bounded(0, MAX_LIST_LIMIT), metavar="N", help="at most N jobs")
    listing.add_argument("--offset", type=bounded(0, MAX_OFFSET), metavar="N", help="skip the first N matching jobs")
    listing.add_argument("--sort", choices=SORT_FIELDS, default="id", help="the field to sort by (default id)")
    listing.add_argument("--desc", action="store_true", help="newest/largest first")
    listing.add_argument("--stalled", action="store_true",
                         help="only running jobs flagged stalled (no progress or log line for their stall_after)")

    show = command("show", "one job: its fields, history and last log lines")
    show.add_argument("id", type=job_id, metavar="ID", help="the job's id")
    show.add_argument("--logs", type=bounded(0, MAX_LOG_LINES), default=20, metavar="N", help="log lines to show (default 20)")

    logs = command("logs", "a job's whole log, from its first line (-f: follow it until the job ends)")
    logs.add_argument("id", type=job_id, metavar="ID", help="the job's id")
    logs.add_argument("-f", "--follow", action="store_true",
                      help="keep printing new lines until the job ends, then exit 0 if it succeeded, 1 if not "
                           "(needs the running app)")  # fmt: skip
    logs.add_argument("-t", "--timestamps", action="store_true", help="start each line with its time and level")

    command("info", "where Acacia keeps its data, and whether it runs")
    handlers = command("handlers", "the job types plugins provide, and plugins that failed to load")
    handlers.add_argument("--names", action="store_true",
                          help="only the running app's job types, one a line; prints nothing if no app runs (for completion)")
    for name, text in (("cancel", "cancel jobs (queued: never run; running: stopped)"),
                       ("retry", "queue failed, cancelled or interrupted jobs again")):  # fmt: skip
        sub = command(name, text)
        sub.add_argument("ids", type=job_id, nargs="+", metavar="ID", help="job ids; each is acted on and reported alone")
        if name == "retry":
            sub.add_argument("--with-dependents", action="store_true",
                             help="also return the jobs its failure cancelled (dependency N failed) to waiting")  # fmt: skip
    kill = command("kill", "hard-cancel a job: a running one's worker process is killed at once (needs the app)")
    kill.add_argument("id", type=job_id, metavar="ID", help="the job's id")
    extend = command("extend", "postpone a running job's stall detection by its stall_after, clearing the flag")
    extend.add_argument("id", type=job_id, metavar="ID", help="the job's id (running, its handler has stall_after)")
    why = command("why", "why a job is not running yet, in one line")
    why.add_argument("id", type=job_id, metavar="ID", help="the job's id")
    edit = command("edit", "change a queued or scheduled job: priority, queue, payload, or move it to the front")
    edit.add_argument("id", type=job_id, metavar="ID", help="the job's id (it must be queued or scheduled)")
    edit.add_argument("--priority", type=whole_number, metavar="N", help="its new priority (higher runs first)")
    edit.add_argument("--queue", metavar="Q", help="move it to this queue (created if new)")
    edit.add_argument("--payload", metavar="JSON", help="its new payload as JSON, checked against the handler's schema")
    edit.add_argument("--front", action="store_true",
                      help="move it to the front of its queue: priority one above the queue's other waiting jobs")
    delete = command("delete", "delete jobs that are not running (or --finished: all finished ones)")
    delete.add_argument("ids", type=job_id, nargs="*", metavar="ID", help="job ids; each is deleted and reported alone")
    delete.add_argument("--finished", action="store_true", help="delete every succeeded/failed/cancelled job")
    delete.add_argument("--queue", metavar="Q", help="with --finished: only this queue")
    delete.add_argument("--older-than", type=duration, metavar="DURATION",
                        help="with --finished: only jobs that finished longer ago than this (7d, 12h, 90m, 45s)")  # fmt: skip
    delete.add_argument("--state", type=state_list, metavar="S",
                        help="with --finished: only jobs in these final states (comma-separated)")  # fmt: skip
    delete.add_argument("--outputs", action="store_true", help="also remove the jobs' output folders (their files)")
    opener = command("open", "open a job's output folder (prints it where there is no desktop)")
    opener.add_argument("id", type=job_id, metavar="ID", help="the job's id")
    for name, text in (("pause", "stop starting jobs of a queue"), ("resume", "start a paused queue's jobs again")):
        queue_command = command(name, text)
        queue_command.add_argument("queue", metavar="QUEUE", help="the queue's name (`acacia stats` lists them)")
        queue_command.add_argument("--create", action="store_true", help="create QUEUE if there is no such queue yet")
    concurrency = command("concurrency", "jobs of QUEUE that may run at once (0: no limit); --workers: overall")
    concurrency.add_argument("queue", nargs="?", metavar="QUEUE", help="the queue's name (`acacia stats` lists them)")
    concurrency.add_argument("limit", nargs="?", type=bounded(0, MAX_QUEUE_CONCURRENCY), metavar="N",
                             help="jobs of QUEUE that may run at once; 0: no limit")  # fmt: skip
    concurrency.add_argument("--create", action="store_true", help="create QUEUE if there is no such queue yet")
    concurrency.add_argument("--workers", type=bounded(1, MAX_WORKERS), metavar="N", help="jobs the app runs at once overall")
    concurrency.add_argument("--rate", type=rate_arg, metavar="RATE",
                             help="most starts of QUEUE's jobs in a window: 30/h, 10/min, 3/2s; none: no rate")  # fmt: skip
    watch = command("watch", "a live table of jobs (one job, a queue, or everything)")
    watch.add_argument("id", nargs="?", type=job_id, metavar="ID", help="watch this job until it ends")
    watch.add_argument("--queue", metavar="Q", help="watch the jobs of this queue")
    command("stats", "counts by state, queues, workers")
    command("instances", "the live app instances on this database: host, pid, last heartbeat, running jobs")
    db = command("db", "create or upgrade the schema (migrate), check the database for damage, or save what is "
                       "readable into a new file", data=False)  # fmt: skip
    db.add_argument("action", choices=("migrate", "check", "recover"),
                    help="migrate: create or upgrade the schema (SQLite or PostgreSQL); check: PRAGMA quick_check, "
                         "exit 0 ok / 1 damaged; recover OUT: save what is readable into OUT (SQLite)")  # fmt: skip
    db.add_argument("out", nargs="?", metavar="OUT", help="recover: the new database file to write (must not exist)")
    db.add_argument("--full", action="store_true", help="check: the full integrity_check (slower) instead of quick_check")
    _schedule_commands(command)
    _shell_commands(command)
    return parser


def subcommands(parser: argparse.ArgumentParser) -> dict[str, Parser]:
    """The parser's commands by name (`acacia help CMD`, completion, the help test)."""
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            return dict(action.choices)
    return {}


def every_arg(text: str) -> float:
    """--every: a duration (30s, 10m, 2h, 1d, 1w) or a number of seconds; the range is the schedule's."""
    try:
        return finite_float(text)
    except argparse.ArgumentTypeError:
        pass
    try:
        return parse_duration(text)
    except InvalidOptionError:
        raise argparse.ArgumentTypeError(f"{shown(text)} is not a duration; write a number and a unit, "
                                         "like 30s, 10m, 2h or 1d") from None  # fmt: skip


every_arg.__name__ = "duration"


def cron_arg(text: str) -> str:
    """--cron: five fields (minute hour day month weekday), checked by the parser the schedules use."""
    from ..core.schedules import validate_cron  # cronsim: imported only by the commands that need it

    try:
        validate_cron(text)
    except InvalidOptionError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("cron: ")) from None
    return text


def timezone_arg(text: str) -> str:
    """--timezone: an IANA zone name (zoneinfo), or "local" for the machine's zone."""
    if text.strip().lower() == "local":
        return "local"
    from ..core.schedules import zone_of

    try:
        zone_of(text)
    except InvalidOptionError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("timezone: ")) from None
    return text


timezone_arg.__name__ = "time zone"
# core/schedules' CATCH_UP_MODES and MAX_BACKLOG_LIMIT, spelled out so that building the parser does not import
# cronsim and zoneinfo for every command (tests/integration/test_cli_schedules.py checks that they agree)
CATCH_UP_MODES = ("once", "all", "skip")
MAX_BACKLOG_LIMIT = 10_000


def _schedule_options(sub: argparse.ArgumentParser, *, adding: bool) -> None:
    """The fields of `schedule add` and `schedule edit` (edit: only those given change)."""
    sub.add_argument("--payload", metavar="JSON", help="the payload of each job, as JSON" + (" (default {})" if adding else ""))
    rule = sub.add_mutually_exclusive_group(required=adding)
    rule.add_argument("--every", type=every_arg, metavar="DURATION",
                      help="a job every DURATION (30s, 10m, 2h, 1d; at least 1s), counted from when it was added")
    rule.add_argument("--cron", type=cron_arg, metavar="EXPR",
                      help='a job at each time of a cron line, e.g. "0 3 * * *" (minute hour day month weekday)')
    sub.add_argument("--catch-up", choices=CATCH_UP_MODES, metavar="|".join(CATCH_UP_MODES),
                     help="what the runs missed while the app was off become: once (one job, the default), "
                          "all (one each, see --max-backlog) or skip (none)")  # fmt: skip
    sub.add_argument("--max-backlog", type=bounded(1, MAX_BACKLOG_LIMIT), metavar="N",
                     help="with --catch-up all: the most missed runs enqueued at once (default 100)")
    sub.add_argument("--queue", metavar="Q", help="the queue of its jobs (default: the handler's, else default)")
    sub.add_argument("--priority", type=whole_number, metavar="N", help="the priority of its jobs (default 0)")
    sub.add_argument("--timezone", type=timezone_arg, metavar="ZONE",
                     help="the IANA zone the cron line is read in, e.g. Europe/Paris (default: the machine's; "
                          "local: the machine's)")  # fmt: skip
    sub.add_argument("--allow-unknown", action="store_true", help="accept a TYPE no loaded plugin handles (yet)")
    if adding:
        sub.add_argument("--paused", action="store_true", help="add it paused (`acacia schedule resume NAME` starts it)")


def _schedule_commands(command: Callable[..., Parser]) -> None:
    """`acacia schedule ACTION …`: recurring jobs. Each action is a parser of its own, with --json."""
    schedule = command("schedule", "recurring jobs: add, list, show, edit, remove, pause, resume, run-now", data=False)
    actions = schedule.add_subparsers(dest="schedule_command", metavar="ACTION", parser_class=Parser, required=True)

    def action(name: str, help_text: str) -> Parser:
        sub = actions.add_parser(name, help=help_text, description=help_text, epilog=epilog(f"schedule {name}"),
                                 formatter_class=argparse.RawDescriptionHelpFormatter)  # fmt: skip
        _globals(sub, argparse.SUPPRESS)
        sub.add_argument("--json", action="store_true", help="print JSON instead of text")
        if name != "list":
            sub.add_argument("name", metavar="NAME", help="the schedule's name (`acacia schedule list` lists them)")
        return sub

    add = action("add", "add a schedule: a job of TYPE every DURATION (--every) or at cron times (--cron)")
    add.add_argument("type", metavar="TYPE", help="the job type, e.g. demo.sleep")
    _schedule_options(add, adding=True)
    listing = action("list", "every schedule: its rule, next run, last run and result")
    listing.add_argument("--names", action="store_true",
                         help="only the running app's schedule names, one a line; prints nothing if no app runs "
                              "(for completion)")  # fmt: skip
    action("show", "one schedule: every field, its last job and what its last catch-up dropped")
    edit = action("edit", "change a schedule: only the options given change (--every/--cron replace its rule)")
    edit.add_argument("--type", metavar="TYPE", help="a new job type")
    _schedule_options(edit, adding=False)
    action("remove", "delete a schedule (the jobs it enqueued stay)")
    action("pause", "stop a schedule enqueueing jobs")
    action("resume", "enqueue again from its next run after now (the paused time is not caught up)")
    action("run-now", "enqueue one job of the schedule now and print its id (its next run is unchanged)")


COMPLETION_SHELLS = ("bash", "zsh", "fish", "tcsh")
AUTOSTART_ACTIONS = ("enable", "disable", "status")


def _shell_commands(command: Callable[..., Parser]) -> None:
    """completion, autostart and help: for living in the shell, not for jobs."""
    completion = command("completion", "print a shell completion script (job types complete from the running app)",
                         data=False)  # fmt: skip
    completion.add_argument("shell", choices=COMPLETION_SHELLS, help=f"the shell: {', '.join(COMPLETION_SHELLS)}")
    autostart = command("autostart", "start Acacia at login: the window, or headless (--serve) as a user service")
    autostart.add_argument("action", choices=AUTOSTART_ACTIONS,
                           help="enable: install the login entry; disable: remove it; status: say what is installed")
    autostart.add_argument("--serve", action="store_true",
                           help="headless `acacia serve` as a systemd user unit (macOS: a LaunchAgent) instead of the "
                                "window's autostart entry; with disable: remove only that")  # fmt: skip
    helper = command("help", "show a command's help, with examples (or the overview)", data=False)
    helper.add_argument("topic", nargs="?", metavar="COMMAND", help="the command to explain, e.g. enqueue")
