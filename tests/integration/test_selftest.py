"""`acacia --self-test` from the development install: it passes, and it fails loudly and tidily.

(The frozen bundle's self-test is in test_packaging.py, marked `package`.)
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path


def _run(args: list[str], tmp_path: Path, **env: str) -> subprocess.CompletedProcess[str]:
    clean = {k: v for k, v in os.environ.items() if not k.startswith("ACACIA_")}
    return subprocess.run([sys.executable, "-m", "acacia_gui", *args], capture_output=True, text=True, timeout=120,
                          env={**clean, **env}, cwd=tmp_path)  # fmt: skip


def _gone(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    return False


def test_self_test_runs_a_job_through_the_socket_and_cleans_up(tmp_path: Path) -> None:
    result = _run(["--self-test"], tmp_path)
    assert result.returncode == 0, result.stdout + result.stderr
    out = result.stdout
    assert re.search(r"handlers: .*demo\.sleep", out)
    assert re.search(r"enqueued job \d+: demo\.sleep \{\"seconds\": 0\.2\} \(through the socket\)", out)
    assert re.search(r"job \d+ .*succeeded in [\d.]+ s, result \{\"slept\": 0\.2\}", out)
    assert "stopped the app with SIGTERM: exit status 0" in out
    pid = int(re.search(r"\(pid (\d+)\)", out).group(1))
    assert _gone(pid)
    worker = int(re.search(r"ran in worker process (\d+) \(the app is (\d+)\)", out).group(1))
    assert worker != pid and _gone(worker)
    cancelled = re.search(r"hard cancel: job \d+ spinning in worker (\d+) was cancelled in [\d.]+ s; its process is gone", out)
    assert cancelled and _gone(int(cancelled.group(1)))
    data_dir = Path(re.search(r"data dir (\S+) \(temporary\)", out).group(1))
    assert not data_dir.parent.exists(), "the temporary data dir was left behind"


def test_self_test_failure_says_why_and_leaves_no_app_running(tmp_path: Path) -> None:
    result = _run(["--self-test", "--timeout", "0"], tmp_path, TMPDIR=str(tmp_path))  # a kept work dir lands here
    assert result.returncode == 1
    assert "acacia --self-test: FAILED: waiting for the socket" in result.stderr
    pid = int(re.search(r"\(pid (\d+)\)", result.stdout).group(1))
    assert _gone(pid)


def test_self_test_rejects_unknown_options(tmp_path: Path) -> None:
    result = _run(["--self-test", "--bogus"], tmp_path)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == ["acacia --self-test: unrecognized arguments: --bogus"]
