"""The CLI with no app running: it works on the database file directly, in real subprocesses."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from acacia_gui.store.sqlite import SqliteJobStore

from .serve_process import Sandbox


@pytest.fixture
def box(tmp_path):
    sandbox = Sandbox(tmp_path)
    yield sandbox
    sandbox.cleanup()


def job_count(box: Sandbox) -> int:
    if not (box.data_dir / "acacia.db").exists():
        return 0
    store = SqliteJobStore(box.data_dir / "acacia.db")
    try:
        return store.count_jobs()
    finally:
        store.close()


def ok(box: Sandbox, *args: str, input: str | None = None):
    result = box.cli(*args, input=input)
    assert result.returncode == 0, result.stderr
    return result


def test_info_needs_no_app_and_creates_nothing(box):
    info = json.loads(ok(box, "info", "--json").stdout)
    assert info["data_dir"] == str(box.data_dir) and info["database"] == str(box.data_dir / "acacia.db")
    assert info["plugins_dir"] == str(box.plugins_dir) and info["socket"] == box.address
    assert info["running"] is False
    assert not box.data_dir.exists()
    assert "running:     no" in ok(box, "info").stdout


def test_handlers_without_app_list_handlers_and_broken_plugins(box):
    (box.plugins_dir / "broken.py").write_text("import does_not_exist_anywhere\n")
    (box.plugins_dir / "broken.py").chmod(0o600)
    result = json.loads(ok(box, "handlers", "--json").stdout)
    types = [h["type"] for h in result["handlers"]]
    assert {"demo.sleep", "file.hash", "shell.run"} <= set(types)
    demo = next(h for h in result["handlers"] if h["type"] == "demo.sleep")
    assert demo["schema"]["properties"]["seconds"]["type"] == "number"
    problems = result["plugins"]["problems"]
    assert len(problems) == 1 and "does_not_exist_anywhere" in problems[0]["message"]
    text = ok(box, "handlers").stdout
    assert "demo.sleep" in text and "failed to load" in text and "broken" in text


def test_enqueue_list_show_cancel_retry_on_the_database(box):
    result = ok(box, "enqueue", "demo.sleep", "--payload", '{"seconds": 1}', "--priority", "5", "--queue", "q1")
    job_id = int(result.stdout.strip())
    assert result.stderr.count("\n") == 1 and "database directly" in result.stderr
    assert "runs when the app next starts" in result.stderr
    listed = json.loads(ok(box, "list", "--json").stdout)
    assert listed["total"] == 1 and listed["jobs"][0]["id"] == job_id and listed["jobs"][0]["priority"] == 5
    shown = json.loads(ok(box, "show", str(job_id), "--json").stdout)
    assert shown["payload"] == {"seconds": 1} and shown["queue"] == "q1"
    assert shown["events"][0]["source"] == "cli"
    assert "demo.sleep" in ok(box, "show", str(job_id)).stdout
    assert "cancelled" in ok(box, "cancel", str(job_id)).stdout
    store = SqliteJobStore(box.data_dir / "acacia.db")
    assert store.require_job(job_id).state == "cancelled"  # a queued job cancelled this way never runs
    store.close()
    assert "queued again" in ok(box, "retry", str(job_id)).stdout
    table = ok(box, "list").stdout
    assert "demo.sleep" in table and "queued" in table


def test_enqueue_json_defaults_and_list_filters(box):
    ids = [json.loads(ok(box, "enqueue", "demo.sleep", "--json", "--queue", q).stdout)["id"] for q in ("a", "b", "a")]
    ok(box, "enqueue", "later.type", "--allow-unknown", "--delay", "3600")
    assert [j["id"] for j in json.loads(ok(box, "list", "--json", "--queue", "a").stdout)["jobs"]] == [ids[0], ids[2]]
    assert json.loads(ok(box, "list", "--json", "--state", "scheduled").stdout)["total"] == 1
    assert json.loads(ok(box, "list", "--json", "--state", "queued,scheduled").stdout)["total"] == 4
    page = json.loads(ok(box, "list", "--json", "--limit", "2", "--desc").stdout)
    assert len(page["jobs"]) == 2 and page["total"] == 4 and page["jobs"][0]["id"] > page["jobs"][1]["id"]
    assert "(2 of 4 matching jobs)" in ok(box, "list", "--limit", "2").stdout
    assert json.loads(ok(box, "show", str(ids[0]), "--json").stdout)["payload"] == {}


def test_batch_from_stdin_and_file(box, tmp_path):
    lines = "\n".join(json.dumps({"type": "demo.sleep", "payload": {"seconds": i}, "priority": i}) for i in range(3))
    ids = [int(x) for x in ok(box, "enqueue", "--batch", "-", input=lines + "\n\n").stdout.split()]
    assert len(ids) == 3
    batch = tmp_path / "jobs.jsonl"
    batch.write_text('{"type": "demo.sleep"}\n\n{"type": "demo.sleep", "queue": "other"}\n')
    more = json.loads(ok(box, "enqueue", "--batch", str(batch), "--json").stdout)["ids"]
    assert len(more) == 2 and job_count(box) == 5


BAD_INPUTS = [
    (["enqueue", "demo.sleep", "--payload", "{bad"], "not valid JSON"),
    (["enqueue", "demo.sleep", "--payload", "NaN"], "NaN"),
    (["enqueue", "demo.sleep", "--payload", '{"seconds": Infinity}'], "Infinity"),
    (["enqueue", "", "--allow-unknown"], "non-empty"),
    (["enqueue", "demo.sleep", "--timeout", "-1"], "timeout"),
    (["enqueue", "demo.sleep", "--timeout", "nan"], "timeout"),
    (["enqueue", "demo.sleep", "--max-attempts", "0"], "max_attempts"),
    (["enqueue", "demo.sleep", "--priority", "high"], "priority"),
    (["enqueue", "demo.sleep", "--delay", "-5"], "delay"),
    (["enqueue", "demo.sleep", "--queue", "no spaces"], "queue"),
    (["enqueue", "demo.sleep", "--frobnicate"], "unrecognized arguments: --frobnicate"),
    (["enqueue", "no.such.type"], "known types: demo.sleep, file.hash, folder.process, shell.run"),
    (["enqueue", "demo.sleep", "--payload", '{"seconds": -1}'], "payload.seconds"),
    (["enqueue", "demo.sleep", "--payload", '{"sconds": 1}'], "sconds"),
    (["enqueue"], "TYPE"),
    (["enqueue", "demo.sleep", "--cancel-on-interrupt"], "--wait"),
    (["list", "--state", "sleeping"], "unknown state"),
    (["list", "--limit", "-1"], "--limit"),
    (["show", "abc"], "not a job id"),
    (["frobnicate"], "invalid choice"),
    (["--durability", "maybe", "list"], "durability"),
]


@pytest.mark.parametrize(("args", "words"), BAD_INPUTS, ids=[" ".join(a) or "none" for a, _ in BAD_INPUTS])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(box, args, words):
    result = box.cli(*args)
    assert result.returncode == 2, (result.stdout, result.stderr)
    assert result.stderr.count("\n") == 1 and words in result.stderr, result.stderr
    assert result.stdout == ""
    assert job_count(box) == 0


def test_bad_ids_change_nothing(box):
    first = int(ok(box, "enqueue", "demo.sleep").stdout)
    for args in (["show", "999"], ["cancel", "999"], ["retry", "999"], ["delete", "999"]):  # several ids: test_cli_per_id.py
        result = box.cli(*args)
        assert result.returncode == 2 and result.stderr.count("\n") == 1, result.stderr
        assert "no job with id 999" in result.stderr
    assert json.loads(ok(box, "show", str(first), "--json").stdout)["state"] == "queued"
    result = box.cli("retry", str(first))  # a queued job cannot be retried
    assert result.returncode == 1 and f"job {first} is queued; only failed, cancelled or interrupted" in result.stderr


def test_bad_batch_line_inserts_nothing(box):
    good = json.dumps({"type": "demo.sleep", "payload": {"seconds": 1}})
    cases = [
        ("{not json}", "batch line 3: malformed JSON"),
        ("[1, 2]", "batch line 3: expected an object"),
        (json.dumps({"type": "demo.sleep", "priority": "x"}), "batch line 3: priority"),
        (json.dumps({"type": "demo.sleep", "payload": {"seconds": "long"}}), "batch line 3: invalid payload"),
        (json.dumps({"type": "demo.sleep", "colour": "red"}), "batch line 3: "),
        (json.dumps({"type": "nope"}), "batch line 3: unknown job type"),
        (json.dumps({"payload": {}}), "batch line 3: "),
    ]
    for bad, words in cases:
        result = box.cli("enqueue", "--batch", "-", input=f"{good}\n\n{bad}\n{good}\n")
        assert result.returncode == 2, (bad, result.stderr)
        assert result.stderr.count("\n") == 1 and words in result.stderr, (bad, result.stderr)
        assert job_count(box) == 0
    empty = box.cli("enqueue", "--batch", "-", input="\n \n")
    assert empty.returncode == 2 and "has no jobs" in empty.stderr
    missing = box.cli("enqueue", "--batch", "/nonexistent/jobs.jsonl")
    assert missing.returncode == 2 and "cannot read batch file" in missing.stderr
    mixed = box.cli("enqueue", "demo.sleep", "--batch", "-", input=good)
    assert mixed.returncode == 2 and "drop demo.sleep" in mixed.stderr
    assert job_count(box) == 0


def test_commands_that_need_the_app_say_how_to_start_it(box):
    ok(box, "enqueue", "demo.sleep")  # the database exists; still no app
    for args in (["enqueue", "demo.sleep", "--wait"], ["watch"], ["concurrency", "--workers", "2"]):
        result = box.cli(*args)
        assert result.returncode == 1, (args, result.stderr)
        assert result.stderr.count("\n") == 1
        assert f"No Acacia is running for data dir {box.data_dir}. Start it with `acacia` or `acacia serve`." in (
            result.stderr
        )
    assert job_count(box) == 1  # --wait without an app queued nothing


def test_reads_do_not_create_a_database(box):
    for args in (["list"], ["show", "1"], ["stats"]):
        result = box.cli(*args)
        assert result.returncode == 1 and "does not exist yet" in result.stderr
    assert not (box.data_dir / "acacia.db").exists()


def test_queue_commands_and_delete_on_the_database(box):
    ids = [int(ok(box, "enqueue", "demo.sleep").stdout) for _ in range(3)]
    assert json.loads(ok(box, "pause", "default", "--json").stdout)["paused"] is True
    assert "active" in ok(box, "resume", "default").stdout
    assert json.loads(ok(box, "concurrency", "default", "2", "--json").stdout)["concurrency"] == 2
    ok(box, "cancel", str(ids[0]))
    assert json.loads(ok(box, "delete", "--finished", "--json").stdout)["ids"] == [ids[0]]
    assert "deleted 1 job(s)" in ok(box, "delete", str(ids[1])).stdout
    stats = json.loads(ok(box, "stats", "--json").stdout)
    assert stats["counts"]["queued"] == 1 and stats["concurrency"] is None
    assert "no app running" in ok(box, "stats").stdout


def test_unusable_data_dir_or_database_is_one_line_not_a_traceback(box):
    box.data_dir.parent.mkdir(parents=True, exist_ok=True)
    box.data_dir.write_text("a file, not a folder")
    inside_a_file = box.data_dir / "sub"
    for data_dir in (box.data_dir, inside_a_file):
        result = subprocess.run([sys.executable, "-m", "acacia_gui", "enqueue", "demo.sleep", "--data-dir",
                                 str(data_dir)], capture_output=True, text=True, env=box.env, timeout=60)  # fmt: skip
        assert result.returncode == 1, result.stderr
        assert result.stderr.count("\n") == 1 and "Traceback" not in result.stderr, result.stderr
        assert result.stderr.startswith(f"acacia: cannot use {data_dir}: "), result.stderr
    box.data_dir.unlink()
    box.data_dir.mkdir()
    (box.data_dir / "acacia.db").write_bytes(b"this is not an SQLite database, not at all" * 10)
    for args in (["list"], ["enqueue", "demo.sleep"], ["stats"]):
        result = box.cli(*args)
        assert result.returncode == 1, result.stderr
        assert result.stderr == f"acacia: cannot use the database {box.data_dir / 'acacia.db'}: file is not a database\n"
