"""`acacia autostart enable|disable|status [--serve]`: start Acacia at login.

- Linux and other XDG desktops: the window through an XDG autostart entry,
  `$XDG_CONFIG_HOME/autostart/io.github.acacia.Acacia.desktop`; headless (`--serve`)
  through a systemd user unit, `$XDG_CONFIG_HOME/systemd/user/acacia.service`, enabled
  with `systemctl --user` when that works (else the commands to run are printed).
- macOS: a LaunchAgent, `~/Library/LaunchAgents/io.github.acacia.Acacia[.serve].plist`.
- Windows: not automated; packaging/README.md says how (a shortcut in `shell:startup`).

One app runs per data dir, so enabling one kind removes the other. Files are written
owner-only (0600), atomically, and only files carrying our marker are removed. Standard
library only; `ACACIA_SYSTEMCTL` names the systemctl to use (empty: none), for tests.
"""

from __future__ import annotations

import os
import plistlib
import shutil
import subprocess
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import AcaciaError

APP_ID = "io.github.acacia.Acacia"
UNIT = "acacia.service"
MARKER = "X-Acacia-Autostart"
UNIT_MARKER = "# Installed by `acacia autostart enable --serve`; removed by `acacia autostart disable`."
KINDS = ("window", "serve")
_DESKTOP_RESERVED = set(" \t\n\"'\\><~|&;$*?#()`")


class AutostartError(AcaciaError):
    code = "autostart_error"


@dataclass
class Report:
    """What an action did (lines for the user) and the state afterwards (for --json)."""

    lines: list[str] = field(default_factory=list)
    entries: dict[str, dict[str, Any]] = field(default_factory=dict)


def config_home() -> Path:
    value = os.environ.get("XDG_CONFIG_HOME", "")
    return Path(value) if value and os.path.isabs(value) else Path.home() / ".config"


def entry_path(kind: str, platform: str = sys.platform) -> Path:
    if platform == "darwin":
        name = f"{APP_ID}.serve.plist" if kind == "serve" else f"{APP_ID}.plist"
        return Path.home() / "Library" / "LaunchAgents" / name
    if kind == "serve":
        return config_home() / "systemd" / "user" / UNIT
    return config_home() / "autostart" / f"{APP_ID}.desktop"


def launch_command(extra: list[str]) -> list[str]:
    """How to start this installation of Acacia: the bundle's binary, the venv's `acacia` script,
    `acacia` on PATH, or this Python with `-m acacia_gui`; then `extra` (e.g. --data-dir DIR)."""
    if getattr(sys, "frozen", False):
        base = [sys.executable]
    elif (script := Path(sys.executable).with_name("acacia")).is_file():
        base = [str(script)]
    elif found := shutil.which("acacia"):
        base = [found]
    else:
        base = [sys.executable, "-m", "acacia_gui"]
    return [*base, *extra]


# -- file contents ---------------------------------------------------------------------
def _desktop_exec(argv: list[str]) -> str:
    """An Exec value: quoted per the Desktop Entry spec, then escaped as a string value."""

    def quote(arg: str) -> str:
        arg = arg.replace("%", "%%")
        if arg and not _DESKTOP_RESERVED & set(arg):
            return arg
        inner = "".join("\\" + c if c in '"`$\\' else c for c in arg)
        return f'"{inner}"'

    return " ".join(quote(a) for a in argv).replace("\\", "\\\\")


def _systemd_exec(argv: list[str]) -> str:
    def quote(arg: str) -> str:
        arg = arg.replace("%", "%%").replace("$", "$$")
        if arg and not set(arg) & set(" \t\n\"'\\;"):
            return arg
        return '"' + arg.replace("\\", "\\\\").replace('"', '\\"').replace("\n", "\\n") + '"'

    return " ".join(quote(a) for a in argv)


def desktop_entry(argv: list[str]) -> str:
    return "\n".join([
        "[Desktop Entry]", "Type=Application", "Name=Acacia", "Comment=Start the Acacia job manager at login",
        f"Exec={_desktop_exec(argv)}", f"Icon={APP_ID}", "Terminal=false", "X-GNOME-Autostart-enabled=true",
        f"{MARKER}=true", "",
    ])  # fmt: skip


def systemd_unit(argv: list[str]) -> str:
    return "\n".join([
        UNIT_MARKER, "[Unit]", "Description=Acacia job manager (headless: acacia serve)", "",
        "[Service]", "Type=simple", f"ExecStart={_systemd_exec([*argv, 'serve'])}",
        "# SIGTERM to acacia only: it stops its jobs itself (a second SIGTERM stops at once)",
        "KillMode=mixed", "TimeoutStopSec=90", "Restart=on-failure", "RestartSec=5", "",
        "[Install]", "WantedBy=default.target", "",
    ])  # fmt: skip


def launch_agent(argv: list[str], kind: str) -> bytes:
    label = f"{APP_ID}.serve" if kind == "serve" else APP_ID
    agent: dict[str, Any] = {"Label": label, "ProgramArguments": [*argv, *(["serve"] if kind == "serve" else [])],
                             "RunAtLoad": True, "ProcessType": "Background" if kind == "serve" else "Interactive"}
    if kind == "serve":
        agent["KeepAlive"] = {"SuccessfulExit": False}
    return plistlib.dumps(agent)


def _content(kind: str, argv: list[str], platform: str) -> bytes:
    if platform == "darwin":
        return launch_agent(argv, kind)
    return (systemd_unit(argv) if kind == "serve" else desktop_entry(argv)).encode()


def _is_ours(path: Path, platform: str) -> bool:
    try:
        data = path.read_bytes()
    except OSError:
        return False
    if platform == "darwin":
        try:
            return str(plistlib.loads(data).get("Label", "")).startswith(APP_ID)
        except Exception:  # noqa: BLE001 - anything unreadable is not ours
            return False
    return MARKER.encode() in data or UNIT_MARKER.encode() in data


def _command_in(path: Path, platform: str) -> str | None:
    try:
        data = path.read_bytes()
    except OSError:
        return None
    if platform == "darwin":
        try:
            return " ".join(plistlib.loads(data).get("ProgramArguments", []))
        except Exception:  # noqa: BLE001
            return None
    for line in data.decode(errors="replace").splitlines():
        if line.startswith(("Exec=", "ExecStart=")):
            return line.split("=", 1)[1]
    return None


def write_private(path: Path, data: bytes) -> None:
    """Owner-only (0600), atomically: a temporary file beside it, then renamed over it."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    temporary = path.with_name(f".{path.name}.tmp")
    fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_TRUNC | getattr(os, "O_NOFOLLOW", 0), 0o600)
    try:
        os.fchmod(fd, 0o600)
        os.write(fd, data)
    finally:
        os.close(fd)
    os.replace(temporary, path)


# -- systemctl --user --------------------------------------------------------------------
def _systemctl() -> str | None:
    configured = os.environ.get("ACACIA_SYSTEMCTL")
    if configured is not None:
        return configured or None
    return shutil.which("systemctl")


def _run_systemctl(*args: str) -> subprocess.CompletedProcess[str] | None:
    """`systemctl --user ARGS`, or None if there is no systemctl or no user manager to talk to."""
    program = _systemctl()
    if program is None:
        return None
    try:
        return subprocess.run([program, "--user", *args], capture_output=True, text=True, timeout=15, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return None


def _user_manager_works() -> bool:
    result = _run_systemctl("show-environment")
    return result is not None and result.returncode == 0


# -- the actions ---------------------------------------------------------------------------
def _check_platform(platform: str) -> None:
    if platform == "win32":
        raise AutostartError("autostart is not automated on Windows: put a shortcut to acacia-gui.exe (or "
                             "`acacia serve`) in the Startup folder (Win+R, shell:startup); see packaging/README.md")


def status(platform: str = sys.platform) -> Report:
    _check_platform(platform)
    report = Report()
    for kind in KINDS:
        path = entry_path(kind, platform)
        info: dict[str, Any] = {"path": str(path), "installed": path.exists(), "command": _command_in(path, platform)}
        if kind == "serve" and platform != "darwin" and info["installed"]:
            enabled, active = _run_systemctl("is-enabled", UNIT), _run_systemctl("is-active", UNIT)
            info["enabled"] = enabled.stdout.strip() or None if enabled is not None else None
            info["active"] = active.stdout.strip() or None if active is not None else None
        report.entries[kind] = info
        what = "the window" if kind == "window" else "headless (acacia serve)"
        if info["installed"]:
            extra = "".join(f", {key} {info[key]}" for key in ("enabled", "active") if info.get(key))
            report.lines.append(f"{kind}: installed: {path} starts {what}{extra}; runs: {info['command']}")
        else:
            report.lines.append(f"{kind}: not installed ({path})")
    return report


def enable(kind: str, argv: list[str], platform: str = sys.platform) -> Report:
    """Install the entry for `kind` (replacing the other kind's: one app per data dir)."""
    _check_platform(platform)
    report = Report()
    other = "window" if kind == "serve" else "serve"
    if entry_path(other, platform).exists():
        report.lines += disable(other, platform).lines
    path = entry_path(kind, platform)
    write_private(path, _content(kind, argv, platform))
    report.lines.append(f"installed {path}: {'acacia serve' if kind == 'serve' else 'the window'} starts at login")
    if kind == "serve" and platform != "darwin":
        report.lines += _enable_unit()
    elif platform == "darwin":
        report.lines.append(f"to start it now as well: launchctl load -w {path}")
    report.entries = status(platform).entries
    return report


def _enable_unit() -> list[str]:
    if not _user_manager_works():
        return [f"systemctl --user is not available here; to enable it, run: systemctl --user daemon-reload && "
                f"systemctl --user enable {UNIT}  (add --now to start it now)"]  # fmt: skip
    reload, enabled = _run_systemctl("daemon-reload"), _run_systemctl("enable", UNIT)
    if enabled is None or enabled.returncode != 0 or reload is None or reload.returncode != 0:
        why = " ".join(((enabled.stderr if enabled is not None else "") or "systemctl failed").split())
        return [f"could not enable it ({why}); run: systemctl --user daemon-reload && systemctl --user enable {UNIT}"]
    return [f"enabled {UNIT} (systemctl --user); start it now with: systemctl --user start {UNIT}"]


def disable(kind: str | None, platform: str = sys.platform) -> Report:
    """Remove the entry of `kind` (None: both). A file that is not ours is left alone."""
    _check_platform(platform)
    report = Report()
    for each in KINDS if kind is None else (kind,):
        path = entry_path(each, platform)
        if not path.exists():
            report.lines.append(f"{each}: nothing installed ({path})")
            continue
        if not _is_ours(path, platform):
            report.lines.append(f"{each}: {path} was not written by acacia autostart; left alone")
            continue
        managed = each == "serve" and platform != "darwin" and _user_manager_works()
        if managed:
            _run_systemctl("disable", UNIT)
        path.unlink()
        if managed:
            _run_systemctl("daemon-reload")
            report.lines.append(f"if it runs now, it goes on until stopped: systemctl --user stop {UNIT}")
        elif platform == "darwin":
            report.lines.append(f"if it runs now, stop it with: launchctl remove {APP_ID}{'.serve' if each == 'serve' else ''}")
        report.lines.append(f"{each}: removed {path}")
    report.entries = status(platform).entries
    return report
