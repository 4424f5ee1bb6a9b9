"""`acacia open ID`: open a job's output folder in the desktop's file manager.

Why its own module: it is the one command that starts a desktop program. Without one (no
xdg-open, no display: a server over ssh) it prints the folder and says so, exit 0, so a
script can still use the path. A job that wrote nothing has no folder: exit 1.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from ..config import Config
from .backend import connect
from .output import echo


def desktop_opener() -> list[str] | None:
    """The command that opens a folder here, or None (no such program, or no display)."""
    if sys.platform == "darwin":
        return ["open"]
    if os.name == "nt":
        return ["explorer"]
    if not (os.environ.get("DISPLAY") or os.environ.get("WAYLAND_DISPLAY")):
        return None
    found = shutil.which("xdg-open")
    return [found] if found else None


def cmd_open(args: argparse.Namespace, config: Config) -> int:
    with closing(connect(config, fallback=True)) as backend:
        job = backend.ops.get(args.id)
    folder = job.get("output_dir")
    if not folder or not Path(folder).is_dir():
        echo(f"acacia open: job {args.id} has no output folder (it wrote nothing there){': ' + folder if folder else ''}",
             err=True)  # fmt: skip
        return 1
    opener = desktop_opener()
    if opener is None:
        echo(folder)
        echo("acacia open: no desktop to open it on (no display or no xdg-open); the folder is printed above", err=True)
        return 0
    subprocess.Popen([*opener, folder], stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                     stderr=subprocess.DEVNULL, start_new_session=True, close_fds=True)  # fmt: skip
    echo(f"opened {folder}")
    return 0
