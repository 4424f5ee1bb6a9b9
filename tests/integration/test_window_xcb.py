"""The window on a real X server (Xvfb, Qt's xcb platform plugin): it starts without aborting.

On a fresh machine the window used to abort because libxcb-cursor0 was missing; `make run`
now installs the xcb libraries when there is a display, and `make test` installs them with
Xvfb (TEST_SYSTEM_PACKAGES). Nothing is skipped: without Xvfb this test fails, saying how
to install it.
"""

from __future__ import annotations

import os
import select
import shutil
import signal
import subprocess
import sys

import pytest

from tests.conftest import wait_until
from tests.integration.serve_process import Sandbox


@pytest.fixture
def xvfb():
    program = shutil.which("Xvfb")
    if program is None:
        pytest.fail("Xvfb is not installed: run `make test-system-deps` (Debian packages xvfb and the xcb "
                    "libraries in the Makefile's TEST_SYSTEM_PACKAGES); the window's X11 start is tested on it")  # fmt: skip
    read, write = os.pipe()
    server = subprocess.Popen([program, "-displayfd", str(write), "-screen", "0", "1280x800x24", "-nolisten", "tcp"],
                              pass_fds=(write,), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)  # fmt: skip
    os.close(write)
    try:
        ready, _, _ = select.select([read], [], [], 30)
        number = os.read(read, 64).decode().strip() if ready else ""
        if not number.isdigit():
            server.kill()
            pytest.fail(f"Xvfb did not start: {server.communicate(timeout=10)[1].decode(errors='replace')[-2000:]}")
        yield f":{number}"
    finally:
        os.close(read)
        if server.poll() is None:
            server.terminate()
            server.wait(10)


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
