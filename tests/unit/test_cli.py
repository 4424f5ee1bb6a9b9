"""The CLI in-process: what `acacia` and `acacia serve` hand to the app, parsing, rendering."""

from __future__ import annotations

import logging

import pytest

from acacia_gui import cli
from acacia_gui.cli.live import LiveTable, apply_event
from acacia_gui.cli.render import bar, jobs_table, table
from acacia_gui.config import AppOptions


class Launcher:
    """Records the AppOptions the CLI would start the app with (the app itself is app.py's business)."""

    def __init__(self) -> None:
        self.calls: list[AppOptions] = []

    def __call__(self, options: AppOptions) -> int:
        self.calls.append(options)
        return 7


def test_no_command_opens_the_window(tmp_path):
    launch = Launcher()
    assert cli.main(["--data-dir", str(tmp_path)], launch_app=launch) == 7
    (options,) = launch.calls
    assert options.headless is False and options.data_dir == str(tmp_path)
    assert options.stop_timeout == AppOptions().stop_timeout and options.max_line_bytes == 1024 * 1024


def test_serve_is_headless_with_its_options(tmp_path):
    handlers = list(logging.getLogger().handlers)
    launch = Launcher()
    argv = ["serve", "--workers", "3", "--stop-timeout", "2.5", "--max-line-bytes", "4096",
            "--data-dir", str(tmp_path), "--plugins-dir", str(tmp_path / "p"), "--durability", "full"]  # fmt: skip
    assert cli.main(argv, launch_app=launch) == 7
    (options,) = launch.calls
    assert options.headless is True and options.workers == 3 and options.stop_timeout == 2.5
    assert options.max_line_bytes == 4096 and options.durability == "full"
    assert options.plugins_dir == str(tmp_path / "p")
    assert logging.getLogger().handlers == handlers  # the app configures logging itself


def test_global_options_before_the_command(tmp_path):
    launch = Launcher()
    cli.main(["--data-dir", str(tmp_path), "--durability", "normal", "serve"], launch_app=launch)
    assert launch.calls[0].data_dir == str(tmp_path) and launch.calls[0].headless


@pytest.mark.parametrize(
    "argv",
    [["serve", "--workers", "0"], ["serve", "--stop-timeout", "-1"], ["serve", "--stop-timeout", "inf"],
     ["serve", "--bogus"], ["--durability", "sometimes"]],
)  # fmt: skip
def test_bad_app_options_exit_2_with_one_line(argv, capsys):
    launch = Launcher()
    assert cli.main(argv, launch_app=launch) == 2
    assert launch.calls == []
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("acacia")


def test_bad_durability_from_the_environment(monkeypatch, capsys):
    monkeypatch.setenv("ACACIA_DURABILITY", "sloppy")
    launch = Launcher()
    assert cli.main(["serve"], launch_app=launch) == 2 and launch.calls == []
    assert "durability must be 'normal' or 'full'" in capsys.readouterr().err


def test_version(capsys):
    assert cli.main(["--version"], launch_app=Launcher()) == 0
    assert capsys.readouterr().out.startswith("acacia ")


def test_bar_and_table():
    assert bar(0.5, 10, fancy=False) == "#####-----  50%"
    assert bar(None, 4, fancy=False) == "----    ?"
    assert bar(7, 4, fancy=False).endswith("100%")
    text = table(("A", "LONG"), [(1, "x" * 50)], max_width=20)
    assert all(len(line) <= 20 for line in text.splitlines()) and text.endswith("…")


def test_jobs_table_shows_progress_only_for_running_jobs():
    base = {"type": "t", "queue": "q", "priority": 0, "attempts": 1, "max_attempts": 1, "created_at": 0,
            "progress_message": "", "error": None}  # fmt: skip
    text = jobs_table([{**base, "id": 1, "state": "running", "progress": 0.5},
                       {**base, "id": 2, "state": "failed", "progress": 0.5, "error": "boom"}], fancy=False)  # fmt: skip
    running, failed = text.splitlines()[1:]
    assert "#####" in running and "#" not in failed and failed.endswith("boom")


def test_live_table_folds_events():
    live = LiveTable("t", [{"id": 1, "type": "a", "queue": "q", "state": "queued", "progress": None}])
    live.apply({"kind": "state", "job_id": 1, "queue": "q", "state": "running", "type": "a"})
    live.apply({"kind": "progress", "job_id": 1, "queue": "q", "progress": 0.25, "message": "working"})
    live.apply({"kind": "enqueued", "job_id": 2, "queue": "q", "state": "queued", "type": "b"})
    live.apply({"kind": "state", "job_id": 3, "queue": "q", "state": "failed", "type": "c", "error": "bad"})
    live.apply({"kind": "queue", "job_id": None, "queue": "q", "paused": True})
    assert [j["id"] for j in live.ordered()] == [1, 2, 3]
    screen = live.render(100, 20, fancy=False)
    assert "1 failed · 1 queued · 1 running" in screen
    assert "working" in screen and "bad" in screen and "#####" in screen
    live.apply({"kind": "deleted", "job_id": 3})
    assert 3 not in live.jobs
    assert len(live.render(100, 4, fancy=False).splitlines()) <= 4


def test_apply_event_marks_cancelling_and_final_states():
    job = {"id": 1, "state": "running"}
    apply_event(job, {"kind": "cancel_requested", "job_id": 1, "state": "running"})
    assert job["cancelling"]
    apply_event(job, {"kind": "state", "job_id": 1, "state": "cancelled", "error": "cancelled"})
    assert job["state"] == "cancelled" and job["finished_at"] and job["error"] == "cancelled"


def test_apply_event_shows_a_state_it_does_not_know():
    job = {"id": 1, "state": "queued"}
    apply_event(job, {"kind": "state", "job_id": 1, "state": "hibernating"})  # a newer app's state
    assert job["state"] == "hibernating" and "finished_at" not in job


@pytest.mark.parametrize(
    ("argv", "words"),
    [(["show", "1", "--logs", "99999999"], "argument --logs: must be from 0 to 10000, got '99999999'"),
     (["list", "--limit", "999999999999"], "argument --limit: must be from 0 to 10000000"),
     (["concurrency", "default", "999999999"], "argument N: must be from 0 to 10000"),
     (["concurrency", "--workers", "5000"], "argument --workers: must be from 1 to 1024"),
     (["enqueue", "x.y", "--priority", "9" * 5000], "argument --priority: '" + "9" * 40 + "…' is not a whole number")],
)  # fmt: skip
def test_out_of_range_flags_are_named_and_long_values_cut(argv, words, tmp_path, capsys):
    assert cli.main([*argv, "--data-dir", str(tmp_path)], launch_app=Launcher()) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and words in err, err
    assert len(err) < 300 and not (tmp_path / "acacia.db").exists()
