"""The window on a real X server (Xvfb, Qt's xcb platform plugin), clicked with real input.

On a fresh machine the window used to abort because libxcb-cursor0 was missing; `make run`
now installs the xcb libraries when there is a display, and `make test` installs them with
Xvfb and xdotool (TEST_SYSTEM_PACKAGES). Nothing is skipped: without Xvfb or xdotool these
tests fail, saying how to install them.

The scenarios (xcb_scenarios.py) start the app as `acacia` does, in a child process on the
Xvfb screen, and drive it with xdotool: the X server delivers the presses, releases and keys
as it would a user's. Each writes a verdict; the database and the settings file are checked
here, after the app has quit.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from tests.conftest import wait_until
from tests.integration.conftest import require_xdotool, running_xvfb
from tests.integration.serve_process import REPO, Sandbox


def test_window_starts_on_xcb_under_xvfb(tmp_path, xvfb):
    box = Sandbox(tmp_path)
    env = {key: value for key, value in box.env.items() if key not in ("QT_QPA_PLATFORM", "WAYLAND_DISPLAY")}
    env.update(DISPLAY=xvfb, XDG_CONFIG_HOME=str(tmp_path / "config"))  # the window's settings stay in tmp_path
    log_path = tmp_path / "window.log"
    with open(log_path, "wb") as log:
        proc = subprocess.Popen([sys.executable, "-m", "acacia_gui", *box.where], stdout=log, stderr=subprocess.STDOUT,
                                env=env)  # fmt: skip
    try:
        wait_until(lambda: "Acacia is running" in log_path.read_text(errors="replace") or proc.poll() is not None,
                   timeout=60, message="the window to start")  # fmt: skip
        text = log_path.read_text(errors="replace")
        assert proc.poll() is None, f"the window exited with {proc.returncode} (134: Qt aborted):\n{text[-3000:]}"
        assert "window on Qt platform xcb" in text, text[-3000:]
        assert "Could not load the Qt platform plugin" not in text
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(30) == 0, log_path.read_text(errors="replace")[-3000:]
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        box.cleanup()


def xcb_env(box: Sandbox, display: str, config_home: Path) -> dict[str, str]:
    env = {key: value for key, value in box.env.items() if key not in ("WAYLAND_DISPLAY", "XAUTHORITY")}
    env.update(DISPLAY=display, QT_QPA_PLATFORM="xcb", XDG_CONFIG_HOME=str(config_home),
               XDG_SESSION_TYPE="x11", QT_ACCESSIBILITY="0")  # fmt: skip
    return env


def run_scenario(name: str, box: Sandbox, env: dict[str, str], out: Path) -> dict:
    """Run one scenario to its end (the app quits); return its verdict, with how long it took."""
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "scenario.log"
    started = time.monotonic()
    with open(log_path, "wb") as log:
        proc = subprocess.run([sys.executable, "-m", "tests.integration.xcb_scenarios", name, *box.where,
                               "--out", str(out)], cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT,
                              timeout=240)  # fmt: skip
    log_text = log_path.read_text(errors="replace")[-4000:]
    verdict_path = out / "verdict.json"
    assert verdict_path.exists(), f"{name}: no verdict (exit {proc.returncode}):\n{log_text}"
    verdict = json.loads(verdict_path.read_text())
    assert verdict.get("ok"), f"{name} failed: {verdict.get('error')}\n{json.dumps(verdict, indent=1)[:3000]}\n{log_text}"
    assert verdict["platform"] == "xcb"
    assert proc.returncode == 0, f"{name}: the app exited with {proc.returncode}:\n{log_text}"
    verdict["seconds"] = round(time.monotonic() - started, 1)
    print(f"{name}: {verdict['seconds']} s")
    return verdict


def stored_states(box: Sandbox) -> dict[int, str]:
    from acacia_gui.config import load_config
    from acacia_gui.store.sqlite import SqliteJobStore

    store = SqliteJobStore(load_config(box.data_dir, box.plugins_dir).database)
    try:
        return {job.id: job.state for job in store.list_jobs(limit=1000)}
    finally:
        store.close()


@pytest.fixture
def sandbox(tmp_path):
    box = Sandbox(tmp_path)
    yield box
    box.cleanup()


@pytest.mark.timeout(300)
def test_real_clicks_cancel_the_pressed_job_and_nothing_when_rows_move_in_between(tmp_path, sandbox, xvfb, xdotool):
    verdict = run_scenario("cancel-under-churn", sandbox, xcb_env(sandbox, xvfb, tmp_path / "config"), tmp_path / "out")
    default = verdict["default_size"]  # 1280 x 800 with the sidebar: the cancel column is whole in view, unscrolled
    assert default["window"] == [1280, 800] and default["sidebar_shown"] and default["scrolled_right"] == 0, default
    assert 0 <= default["cancel_column_x"]
    assert default["cancel_column_x"] + default["cancel_column_width"] <= default["viewport"], default
    a, b = verdict["a"], verdict["b"]
    to_int = lambda states: {int(k): v for k, v in states.items()}  # noqa: E731 — JSON keys are strings
    for press in verdict["presses"]:  # the X server delivered each press inside the pressed job's painted button
        (x, y), (left, top, width, height) = press["at"], press["button"]
        assert left <= x < left + width and top <= y < top + height, press
    assert [p["job"] for p in verdict["presses"]] == [a, b, b]
    # (a) pressed and released on job a's button, nothing moving: a is cancelled, and only a
    after_a = to_int(verdict["after_a"])
    assert after_a[a] == "cancelled"
    assert [i for i, s in after_a.items() if s != "queued"] == [a]
    # (b) pressed on b, two jobs inserted above (b's row moved down two rows), released: nothing cancelled,
    # neither b nor the job that slid under the pointer
    assert len(verdict["inserted"]) == 2
    under = verdict["under_cursor_at_release"]
    assert under is not None and under != b
    after_churn = to_int(verdict["after_churn"])
    assert [i for i, s in after_churn.items() if s != "queued"] == [a], after_churn
    # (c) pressed and released on b where it is now: b is cancelled. The database agrees, after the app quit.
    final = stored_states(sandbox)
    assert {i for i, s in final.items() if s == "cancelled"} == {a, b}
    assert all(s == "queued" for i, s in final.items() if i not in (a, b)), final
    assert len(final) == 14


@pytest.fixture(scope="module")
def small_window(tmp_path_factory) -> tuple[dict, Path]:
    """The small-window scenario, run once for the tests below: (its verdict, its output folder)."""
    require_xdotool()
    root = tmp_path_factory.mktemp("small-window")
    box = Sandbox(root)
    try:
        with running_xvfb() as display:
            return run_scenario("small-window", box, xcb_env(box, display, root / "config"), root / "out"), root / "out"
    finally:
        box.cleanup()


@pytest.mark.timeout(300)
def test_at_800_by_500_on_x11_the_sidebar_collapses_progress_fits_and_a_real_click_pauses(small_window):
    verdict, out = small_window
    assert verdict["minimum_width"] <= 800
    progress = verdict["progress"]  # with the sidebar collapsed by itself
    assert progress["width"] >= progress["min"]
    assert 0 <= progress["x"] and progress["x"] + progress["width"] <= progress["viewport"], progress
    label = verdict["progress_label"]
    assert label == verdict["progress_full_label"] and "%" in label, label  # not elided, let alone to "…"
    assert verdict["progress_cell_colours"] >= 3  # the bar and its words are on the screen, not an empty cell
    assert verdict["screenshot_colours"] >= 10  # the X screen shows the window, not a blank
    toolbar = verdict["toolbar"]  # every toolbar action is on screen, or behind Qt's » button, which is
    assert "&New job…" in toolbar["shown"] and len(toolbar["shown"]) >= len(toolbar["overflow"]), toolbar
    assert toolbar["extension_reachable"] or not toolbar["overflow"], toolbar
    # Ctrl+B showed the sidebar; a real click on what shows of "other"'s Pause paused it, in the database
    assert verdict["pause_at_800"]["button_shown"] >= 8, verdict["pause_at_800"]
    assert verdict["queues"] == {"default": False, "other": True}
    assert verdict["pause_at_1280"]["button_shown"] == verdict["pause_at_1280"]["button"]  # whole at the default size
    for name in ("800x500.png", "800x500-sidebar.png", "1280x800-sidebar.png"):
        assert (out / name).stat().st_size > 5000


@pytest.mark.timeout(300)
def test_at_800_by_500_a_sidebar_shown_by_hand_shows_whole_pause_buttons(small_window):
    clipping = small_window[0]["pause_at_800"]
    assert clipping["button_shown"] == clipping["button"], clipping


@pytest.mark.timeout(300)
def test_settings_chosen_with_real_clicks_and_keys_are_back_after_a_restart(tmp_path, sandbox, xvfb, xdotool):
    config_home = tmp_path / "config"
    env = xcb_env(sandbox, xvfb, config_home)
    first = run_scenario("settings-change", sandbox, env, tmp_path / "first")
    chosen = first["chosen"]
    assert chosen["theme"] == "dark" and chosen["workers"] == 5
    assert chosen["notify_queue_empty"] is (not first["queue_empty_before"])
    assert first["palette_window_lightness"] < 100  # dark at once
    assert first.get("quit_by_user")  # Ctrl+Q quit the app
    ini = (config_home / "Acacia" / "Acacia.ini").read_text()
    assert "dark" in ini
    second = run_scenario("settings-back", sandbox, env, tmp_path / "second")
    assert second["dialog"] == {"theme": "dark", "workers": 5, "notify_queue_empty": chosen["notify_queue_empty"]}
    assert second["workers_spin"] == 5 and second["worker_concurrency"] == 5
    assert second["theme_in_force"] == "dark" and second["palette_window_lightness"] < 100
