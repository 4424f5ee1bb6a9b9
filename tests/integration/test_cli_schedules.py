"""`acacia schedule …` in real subprocesses: against a running `acacia serve` (through its
socket), and with no app (on the database directly). Bad input exits 2 with one line and
changes nothing; an unknown name exits as an unknown job id does (2, one line)."""

from __future__ import annotations

import json

import pytest

from acacia_gui.cli import parser as cli_parser
from acacia_gui.core import schedules as core_schedules
from acacia_gui.store.sqlite import SqliteJobStore

from ..conftest import wait_until
from .serve_process import Sandbox, ServeProcess, served_app


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    with served_app(tmp_path_factory, "cli-schedules") as app:
        yield app


@pytest.fixture
def app_box(served):
    return served[0]


@pytest.fixture
def box(tmp_path):
    sandbox = Sandbox(tmp_path)
    yield sandbox
    sandbox.cleanup()


def ok(box, *args: str):
    result = box.cli(*args)
    assert result.returncode == 0, (args, result.stdout, result.stderr)
    return result


def names(box) -> list[str]:
    return [s["name"] for s in json.loads(ok(box, "schedule", "list", "--json").stdout)["schedules"]]


def test_the_parser_spells_the_core_limits_as_the_core_does():
    assert cli_parser.CATCH_UP_MODES == core_schedules.CATCH_UP_MODES
    assert cli_parser.MAX_BACKLOG_LIMIT == core_schedules.MAX_BACKLOG_LIMIT


def test_every_schedule_action_has_help_and_examples():
    actions = cli_parser.subcommands(cli_parser.subcommands(cli_parser.build_parser())["schedule"])
    assert set(actions) == {"add", "list", "show", "edit", "remove", "pause", "resume", "run-now"}
    for name, sub in actions.items():
        assert sub.description and sub.epilog and sub.epilog.startswith(f"examples:\n  acacia schedule {name}"), name
        undocumented = [a.dest for a in sub._actions if not (a.help or "").strip()]
        assert undocumented == [], name


# -- with a running app ----------------------------------------------------------------------

def test_add_list_show_edit_pause_resume_remove_through_the_app(app_box):
    box = app_box
    added = ok(box, "schedule", "add", "nightly", "demo.sleep", "--payload", '{"seconds": 0}', "--cron", "0 3 * * *",
               "--timezone", "Europe/Paris", "--catch-up", "all", "--max-backlog", "24", "--queue", "cli-sched",
               "--priority", "2")  # fmt: skip
    assert added.stderr == ""  # through the app: no "database directly" notice
    assert added.stdout.startswith("schedule nightly: cron 0 3 * * * (Europe/Paris); next run ")
    with box.client() as client:
        schedule = client.schedule_get("nightly")
    assert (schedule["catch_up"], schedule["max_backlog"], schedule["queue"], schedule["priority"]) == ("all", 24, "cli-sched", 2)

    table = ok(box, "schedule", "list").stdout
    header, *rows = table.splitlines()
    assert header.split() == ["NAME", "TYPE", "RULE", "NEXT", "RUN", "LAST", "RUN", "LAST", "RESULT", "PAUSED"]
    row = next(line for line in rows if line.startswith("nightly "))
    assert "demo.sleep" in row and "cron 0 3 * * * (Europe/Paris)" in row and " (in " in row and row.endswith("no")
    listed = json.loads(ok(box, "schedule", "list", "--json").stdout)["schedules"]
    assert next(s for s in listed if s["name"] == "nightly") == schedule

    details = ok(box, "schedule", "show", "nightly").stdout
    assert details.startswith("schedule nightly\n")
    for words in ("type       demo.sleep", "rule       cron 0 3 * * * (Europe/Paris)", "catch-up   all (at most 24",
                  "last job   -", "dropped    0 missed run(s)", "paused     no"):  # fmt: skip
        assert words in details, details
    assert json.loads(ok(box, "schedule", "show", "nightly", "--json").stdout) == schedule

    edited = ok(box, "schedule", "edit", "nightly", "--every", "6h", "--catch-up", "skip")
    assert edited.stdout.startswith("schedule nightly: every 6h; next run ")
    edited = json.loads(ok(box, "schedule", "edit", "nightly", "--timezone", "local", "--cron", "30 2 * * *",
                           "--json").stdout)  # fmt: skip
    assert (edited["cron"], edited["every"], edited["timezone"], edited["catch_up"]) == ("30 2 * * *", None, None, "skip")

    assert ok(box, "schedule", "pause", "nightly").stdout == "schedule nightly: paused\n"
    assert "- (paused)" in ok(box, "schedule", "list").stdout
    assert json.loads(ok(box, "schedule", "show", "nightly", "--json").stdout)["paused"] is True
    resumed = ok(box, "schedule", "resume", "nightly").stdout
    assert resumed.startswith("schedule nightly: cron 30 2 * * *") and "(in " in resumed

    job_id = int(ok(box, "schedule", "run-now", "nightly").stdout)
    with box.client() as client:
        job = client.get(job_id)
    assert (job["type"], job["queue"], job["payload"]) == ("demo.sleep", "cli-sched", {"seconds": 0})
    assert job["scheduled_for"] is not None

    assert "removed" in ok(box, "schedule", "remove", "nightly").stdout
    assert "nightly" not in names(box)
    with box.client() as client:
        assert client.get(job_id)["type"] == "demo.sleep"  # the jobs it enqueued stay


def test_an_every_1s_schedule_added_by_the_cli_produces_jobs(app_box):
    box = app_box
    ok(box, "schedule", "add", "tick", "demo.sleep", "--payload", '{"seconds": 0}', "--every", "1s", "--queue", "cli-tick")
    with box.client() as client:
        page = wait_until(lambda: (lambda p: p if p["total"] >= 3 else None)(client.list(queue="cli-tick")), timeout=30,
                          message="three jobs of an every-1s schedule")  # fmt: skip
        ok(box, "schedule", "pause", "tick")
        jobs = [client.get(job["id"], events=True) for job in page["jobs"]]
        assert all(job["events"][0]["source"] == "schedule" for job in jobs)
        slots = [job["scheduled_for"] for job in jobs]
        assert len(set(slots)) == len(slots)  # one job per slot
        wait_until(lambda: client.get(jobs[0]["id"])["state"] == "succeeded", message="the first tick succeeded")
    shown = json.loads(ok(box, "schedule", "show", "tick", "--json").stdout)
    assert shown["last_job_id"] is not None and shown["last_slot"] is not None
    assert "tick" in ok(box, "schedule", "list").stdout
    ok(box, "schedule", "remove", "tick")


def test_the_names_for_completion_come_from_the_app(app_box, box):
    ok(app_box, "schedule", "add", "completed", "demo.sleep", "--every", "1h")
    assert "completed" in ok(app_box, "schedule", "list", "--names").stdout.split()
    ok(app_box, "schedule", "remove", "completed")
    quiet = ok(box, "schedule", "list", "--names")  # no app: nothing at all, quickly
    assert quiet.stdout == "" and quiet.stderr == ""


BAD_INPUT = [
    (["schedule", "add", "x", "demo.sleep", "--every", "10x"], "'10x' is not a duration"),
    (["schedule", "add", "x", "demo.sleep", "--cron", "* * * *"], "argument --cron"),
    (["schedule", "add", "x", "demo.sleep", "--cron", "0 3 * * *", "--timezone", "Mars/Olympus"], "unknown time zone"),
    (["schedule", "add", "x", "demo.sleep", "--every", "1m", "--cron", "0 3 * * *"], "not allowed with argument"),
    (["schedule", "add", "x", "demo.sleep"], "one of the arguments --every --cron is required"),
    (["schedule", "add", "x", "demo.sleep", "--every", "1m", "--catch-up", "sometimes"], "argument --catch-up"),
    (["schedule", "add", "x", "demo.sleep", "--every", "1m", "--max-backlog", "0"], "argument --max-backlog"),
    (["schedule", "add", "x", "demo.sleep", "--every", "1m", "--payload", "{nope"], "--payload is not valid JSON"),
    (["schedule", "add", "x", "demo.sleep", "--every", "0.5s"], "every"),
    (["schedule", "add", "bad name!", "demo.sleep", "--every", "1m"], "invalid schedule name"),
    (["schedule", "add", "x", "demo.slep", "--every", "1m"], "demo.slep"),
    (["schedule", "add", "x", "demo.sleep", "--every", "1m", "--payload", '{"seconds": -3}'], "seconds"),
    (["schedule", "add", "x"], "required: TYPE"),
    (["schedule", "show"], "required: NAME"),
    (["schedule", "remove"], "required: NAME"),
    (["schedule", "run-now"], "required: NAME"),
    (["schedule"], "required: ACTION"),
    (["schedule", "frob", "x"], "invalid choice: 'frob'"),
    (["schedule", "edit", "x"], "give at least one of"),
]


def _assert_bad(box, args, words):
    result = box.cli(*args)
    assert result.returncode == 2, (args, result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and words in result.stderr, (args, result.stderr)
    assert result.stdout == ""


@pytest.mark.parametrize(("args", "words"), BAD_INPUT, ids=lambda value: " ".join(value)[:60] if isinstance(value, list)
                         else None)  # fmt: skip
def test_bad_input_through_the_app_exits_2_with_one_line(app_box, args, words):
    _assert_bad(app_box, args, words)
    assert "x" not in names(app_box)


def test_unknown_and_taken_names_through_the_app(app_box):
    box = app_box
    for action in ("show", "remove", "pause", "resume", "run-now"):
        _assert_bad(box, ["schedule", action, "no-such"], "there is no schedule 'no-such'")
    _assert_bad(box, ["schedule", "edit", "no-such", "--priority", "1"], "there is no schedule 'no-such'")
    ok(box, "schedule", "add", "taken", "demo.sleep", "--every", "1h")
    _assert_bad(box, ["schedule", "add", "taken", "demo.sleep", "--every", "1m"], "schedule 'taken' already exists")
    _assert_bad(box, ["schedule", "edit", "taken", "--payload", '{"seconds": -3}'], "seconds")
    _assert_bad(box, ["schedule", "edit", "taken", "--type", "demo.slep"], "unknown job type 'demo.slep'")
    _assert_bad(box, ["schedule", "edit", "taken", "--every", "1m", "--cron", "* * * * *"], "not allowed with")
    assert json.loads(ok(box, "schedule", "show", "taken", "--json").stdout)["every"] == 3600.0
    ok(box, "schedule", "remove", "taken")


# -- with no app: the database directly ----------------------------------------------------------

def test_without_an_app_the_cli_works_on_the_database(box):
    added = ok(box, "schedule", "add", "offline", "demo.sleep", "--payload", '{"seconds": 0}', "--every", "10m")
    assert added.stdout.startswith("schedule offline: every 10m; next run ")
    assert added.stderr.count("\n") == 1 and "database directly" in added.stderr
    assert "starts when the app next starts" in added.stderr
    assert "offline" in ok(box, "schedule", "list").stdout
    assert json.loads(ok(box, "schedule", "show", "offline", "--json").stdout)["every"] == 600.0
    assert "every 1h" in ok(box, "schedule", "edit", "offline", "--every", "1h").stdout
    edited = json.loads(ok(box, "schedule", "edit", "offline", "--payload", '{"seconds": 1}', "--json").stdout)
    assert edited["payload"] == {"seconds": 1} and edited["every"] == 3600.0
    assert ok(box, "schedule", "pause", "offline").stdout == "schedule offline: paused\n"
    assert json.loads(ok(box, "schedule", "resume", "offline", "--json").stdout)["paused"] is False
    job_id = int(ok(box, "schedule", "run-now", "offline").stdout)
    store = SqliteJobStore(box.data_dir / "acacia.db")
    try:
        job = store.require_job(job_id)
        assert (job.type, job.state, job.scheduled_for is not None) == ("demo.sleep", "queued", True)
        assert store.get_schedule("offline").every == 3600.0
    finally:
        store.close()
    ok(box, "schedule", "remove", "offline")
    assert names(box) == []
    assert ok(box, "schedule", "list").stdout == "no schedules\n"


def test_a_schedule_added_without_an_app_fires_once_the_app_starts(box):
    ok(box, "schedule", "add", "later", "demo.sleep", "--payload", '{"seconds": 0}', "--every", "1s", "--queue", "later")
    with ServeProcess(box, "--workers", "1"):
        with box.client() as client:
            page = wait_until(lambda: (lambda p: p if p["total"] >= 2 else None)(client.list(queue="later")), timeout=30,
                              message="jobs of a schedule added while no app ran")  # fmt: skip
            client.schedule_pause("later")
            assert all(client.get(job["id"])["scheduled_for"] is not None for job in page["jobs"])


def test_without_an_app_bad_input_and_unknown_names_exit_2_and_write_nothing(box):
    ok(box, "schedule", "add", "kept", "demo.sleep", "--every", "1h")
    for args, words in BAD_INPUT:
        _assert_bad(box, args, words)
    for action in ("show", "remove", "pause", "resume", "run-now"):
        _assert_bad(box, ["schedule", action, "no-such"], "there is no schedule 'no-such'")
    _assert_bad(box, ["schedule", "add", "kept", "demo.sleep", "--every", "1m"], "schedule 'kept' already exists")
    assert names(box) == ["kept"]
    store = SqliteJobStore(box.data_dir / "acacia.db")
    try:
        assert store.count_jobs() == 0
    finally:
        store.close()


def test_without_a_database_a_read_says_so_and_creates_nothing(box):
    result = box.cli("schedule", "list")
    assert result.returncode == 1 and result.stderr.count("\n") == 1 and "does not exist yet" in result.stderr
    assert not (box.data_dir / "acacia.db").exists()
