"""`acacia autostart enable|disable|status [--serve]`: the XDG autostart entry, the systemd user
unit and the macOS LaunchAgent, written owner-only under a temporary XDG_CONFIG_HOME / HOME."""

from __future__ import annotations

import json
import os
import plistlib
import shutil
import stat
import subprocess
import sys

import pytest

from acacia_gui import cli
from acacia_gui.cli import autostart


@pytest.fixture
def home(tmp_path, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", str(tmp_path / "config"))
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    monkeypatch.setenv("ACACIA_SYSTEMCTL", "")  # no systemctl: never touch the real user manager
    monkeypatch.delenv("ACACIA_DATA_DIR", raising=False)
    monkeypatch.delenv("ACACIA_PLUGINS_DIR", raising=False)
    return tmp_path


@pytest.fixture
def fake_systemctl(home, monkeypatch):
    """A systemctl that works and records its arguments, one call a line."""
    calls = home / "systemctl-calls"
    program = home / "systemctl"
    program.write_text(f'#!/bin/sh\necho "$@" >> {calls}\ncase "$2" in is-enabled) echo enabled;; '
                       'is-active) echo inactive;; esac\nexit 0\n')  # fmt: skip
    program.chmod(0o700)
    monkeypatch.setenv("ACACIA_SYSTEMCTL", str(program))
    return calls


def acacia(*args: str) -> int:
    return cli.main(list(args), launch_app=lambda options: 99)


def mode(path) -> int:
    return stat.S_IMODE(os.stat(path).st_mode)


def test_enable_installs_the_window_entry_owner_only(home, capsys):
    data = home / "my data"
    assert acacia("autostart", "enable", "--data-dir", str(data)) == 0
    entry = home / "config" / "autostart" / "io.github.acacia.Acacia.desktop"
    assert f"installed {entry}" in capsys.readouterr().out
    assert mode(entry) == 0o600
    text = entry.read_text()
    assert text.startswith("[Desktop Entry]\n") and "Type=Application" in text and "X-Acacia-Autostart=true" in text
    exec_line = next(line for line in text.splitlines() if line.startswith("Exec="))
    assert f'--data-dir "{data}"' in exec_line  # a path with a space, quoted as the spec says
    assert exec_line.split()[0].removeprefix("Exec=").endswith(("acacia", "python", "python3"))
    if shutil.which("desktop-file-validate"):  # installed with the packaging tools (make package-test)
        checked = subprocess.run(["desktop-file-validate", str(entry)], capture_output=True, text=True)
        assert checked.returncode == 0 and checked.stdout == "", checked.stdout
    assert not (home / "config" / "systemd" / "user" / "acacia.service").exists()

    assert acacia("autostart", "status", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["window"]["installed"] is True and status["serve"]["installed"] is False
    assert acacia("autostart", "disable") == 0
    assert not entry.exists() and "window: removed" in capsys.readouterr().out


def test_serve_without_a_user_manager_writes_the_unit_and_says_what_to_run(home, capsys):
    assert acacia("autostart", "enable", "--serve") == 0
    out = capsys.readouterr().out
    unit = home / "config" / "systemd" / "user" / "acacia.service"
    assert mode(unit) == 0o600
    text = unit.read_text()
    assert "[Service]" in text and "KillMode=mixed" in text and "WantedBy=default.target" in text
    assert next(line for line in text.splitlines() if line.startswith("ExecStart=")).endswith(" serve")
    assert "systemctl --user daemon-reload && systemctl --user enable acacia.service" in out
    assert acacia("autostart", "status") == 0
    out = capsys.readouterr().out
    assert f"serve: installed: {unit}" in out and "window: not installed" in out


def test_serve_with_a_working_user_manager_enables_it(home, fake_systemctl, capsys):
    assert acacia("autostart", "enable") == 0  # the window first: enabling serve replaces it (one app per data dir)
    assert acacia("autostart", "enable", "--serve") == 0
    out = capsys.readouterr().out
    assert "window: removed" in out and "enabled acacia.service" in out
    calls = fake_systemctl.read_text().splitlines()
    assert "--user daemon-reload" in calls and "--user enable acacia.service" in calls
    assert acacia("autostart", "status", "--json") == 0
    status = json.loads(capsys.readouterr().out)
    assert status["serve"]["enabled"] == "enabled" and status["window"]["installed"] is False
    assert acacia("autostart", "disable", "--serve") == 0
    assert "--user disable acacia.service" in fake_systemctl.read_text().splitlines()
    assert not (home / "config" / "systemd" / "user" / "acacia.service").exists()


def test_disable_leaves_a_file_it_did_not_write(home, capsys):
    entry = home / "config" / "autostart" / "io.github.acacia.Acacia.desktop"
    entry.parent.mkdir(parents=True)
    entry.write_text("[Desktop Entry]\nType=Application\nExec=my-own-acacia\n")
    assert acacia("autostart", "disable") == 0
    assert entry.exists() and "left alone" in capsys.readouterr().out


def test_relative_xdg_config_home_is_ignored(home, monkeypatch):
    monkeypatch.setenv("XDG_CONFIG_HOME", "relative/config")
    assert autostart.entry_path("window") == home / "home" / ".config" / "autostart" / "io.github.acacia.Acacia.desktop"


def test_macos_launch_agents(home):
    argv = ["/Applications/Acacia.app/Contents/MacOS/acacia"]
    autostart.enable("serve", argv, platform="darwin")
    path = home / "home" / "Library" / "LaunchAgents" / "io.github.acacia.Acacia.serve.plist"
    agent = plistlib.loads(path.read_bytes())
    assert agent["ProgramArguments"] == [*argv, "serve"] and agent["RunAtLoad"] is True
    assert mode(path) == 0o600
    report = autostart.status(platform="darwin")
    assert report.entries["serve"]["installed"] and not report.entries["window"]["installed"]
    autostart.disable(None, platform="darwin")
    assert not path.exists()


def test_windows_says_how_instead(home):
    with pytest.raises(autostart.AutostartError, match="shell:startup"):
        autostart.enable("window", ["acacia"], platform="win32")


@pytest.mark.parametrize("arg", ["/opt/my $HOME/acacia", 'say "hi"', "50%", "back\\slash"])
def test_exec_quoting_round_trips(arg):
    """What a desktop launcher / systemd would read back equals the argument."""
    desktop = autostart._desktop_exec(["acacia", arg]).replace("\\\\", "\\").replace("%%", "%")
    assert desktop.startswith("acacia ")
    quoted = desktop.removeprefix("acacia ")
    if quoted.startswith('"'):
        inner = quoted[1:-1]
        unescaped, i = "", 0
        while i < len(inner):
            if inner[i] == "\\":
                i += 1
            unescaped += inner[i]
            i += 1
        quoted = unescaped
    assert quoted == arg
    unit = autostart._systemd_exec(["acacia", arg])
    assert "%%" in unit if "%" in arg else True
    assert "$$" in unit if "$" in arg else True


def test_launch_command_prefers_the_installed_script():
    command = autostart.launch_command(["--data-dir", "/x"])
    assert command[-2:] == ["--data-dir", "/x"]
    assert command[0] != "" and (command[0].endswith("acacia") or command[:3] == [sys.executable, "-m", "acacia_gui"])
