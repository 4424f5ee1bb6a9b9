"""Plugin files are checked where they are read: symlinks, and a swap race run by another uid.

The attack (issue 10): a plugin in our plugin folder is a symlink into a folder that
another user can write to; that user swaps the file behind it between our benign plugin
and theirs, racing the permission check against the read. The evil plugin would create a
marker file; it must never run, in any of many loads (app and worker-process loads).
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from acacia_gui.core.errors import PluginError
from acacia_gui.plugins.loader import load_origin, load_plugins

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and symlinks")

BENIGN = """\
from acacia_gui.jobs import handler

@handler("race.job")
def job(ctx, job):
    return "benign"
"""

EVIL = """\
open({marker!r}, "w").close()
from acacia_gui.jobs import handler

@handler("race.job")
def job(ctx, job):
    return "evil"
"""

# Run as nobody: keep x.py always present, atomically pointing at our benign file or at theirs.
SWAPPER = """\
import os, sys
shared, stop = sys.argv[1], sys.argv[2]
os.chdir(shared)
n = 0
while not os.path.exists(stop):
    for target in ("benign.py", "evil.py"):
        os.symlink(target, "tmp_link")
        os.rename("tmp_link", "x.py")
    n += 1
    if n == 50:
        open("swapping", "w").close()
"""


def _plugin_dir(root: Path) -> Path:
    folder = root / "plugins"
    folder.mkdir()
    os.chmod(folder, 0o700)
    return folder


@pytest.fixture
def open_folder() -> Iterator[Path]:
    """A 0777 folder (no sticky bit) that any user can reach: the other user's playground."""
    shared = Path(tempfile.mkdtemp(prefix="acacia-shared-", dir="/tmp"))
    os.chmod(shared, 0o777)
    yield shared
    shutil.rmtree(shared, ignore_errors=True)


@posix_only
def test_symlink_into_a_world_writable_folder_is_refused(tmp_path: Path, open_folder: Path) -> None:
    target = open_folder / "mine.py"
    target.write_text(BENIGN)
    os.chmod(target, 0o644)  # our own file, safe mode: only its folder is open to others
    plugins = _plugin_dir(tmp_path)
    (plugins / "linked.py").symlink_to(target)
    report = load_plugins(plugins, entry_points=False)
    assert report.handlers == {}
    [problem] = report.problems
    assert problem.plugin == "linked.py"
    assert problem.message == (f"refused: the symlink {plugins / 'linked.py'} leads through an unsafe place: the folder "
                               f"{open_folder} is writable by group and others (mode 777); run: chmod go-w {open_folder}")
    with pytest.raises(PluginError, match=r"refused: .*writable by group and others"):
        load_origin(f"file:{plugins / 'linked.py'}")


@posix_only
def test_symlink_into_a_safe_folder_loads(tmp_path: Path) -> None:
    safe = tmp_path / "elsewhere"
    safe.mkdir(mode=0o755)
    (safe / "real.py").write_text(BENIGN)
    os.chmod(safe / "real.py", 0o644)
    pkg = safe / "pkg"
    pkg.mkdir(mode=0o755)
    (pkg / "__init__.py").write_text("from .inner import VALUE\n" + BENIGN.replace("race.job", "race.pkg"))
    (pkg / "inner.py").write_text("VALUE = 42\n")
    plugins = _plugin_dir(tmp_path)
    (plugins / "linked.py").symlink_to(safe / "real.py")
    (plugins / "linkedpkg").symlink_to(pkg)
    report = load_plugins(plugins, entry_points=False)
    assert report.problems == []
    assert sorted(report.handlers) == ["race.job", "race.pkg"]
    assert sorted(load_origin(f"file:{plugins / 'linkedpkg'}")) == ["race.pkg"]


@posix_only
def test_a_symlink_inside_a_package_into_a_writable_folder_is_refused(tmp_path: Path, open_folder: Path) -> None:
    plugins = _plugin_dir(tmp_path)
    pkg = plugins / "pkg"
    pkg.mkdir(mode=0o755)
    (pkg / "__init__.py").write_text("from .inner import VALUE\n" + BENIGN)
    (open_folder / "inner.py").write_text("VALUE = 1\n")
    os.chmod(open_folder / "inner.py", 0o644)
    (pkg / "inner.py").symlink_to(open_folder / "inner.py")
    report = load_plugins(plugins, entry_points=False)
    assert report.handlers == {}
    [problem] = report.problems
    assert problem.plugin == "pkg" and "writable by group and others" in problem.message


def _require_second_uid() -> list[str]:
    if not hasattr(os, "geteuid") or os.geteuid() != 0:
        pytest.skip("running code as a second uid (setpriv to nobody) needs root")
    setpriv = shutil.which("setpriv")
    try:
        import pwd

        pwd.getpwnam("nobody")
        import grp

        grp.getgrnam("nogroup")
    except KeyError:
        pytest.fail("this test needs the user 'nobody' and the group 'nogroup' (to act as a second uid)")
    if setpriv is None:
        pytest.fail("this test needs setpriv (util-linux) to act as a second uid: apt-get install util-linux")
    return [setpriv, "--reuid=nobody", "--regid=nogroup", "--clear-groups"]


@posix_only
def test_another_user_racing_a_plugin_swap_never_runs_code(tmp_path: Path, open_folder: Path) -> None:
    as_nobody = _require_second_uid()
    marker = tmp_path / "EVIL-RAN"
    benign = open_folder / "benign.py"
    benign.write_text(BENIGN)
    os.chmod(benign, 0o644)  # ours (root's), safe mode
    stop = open_folder / "stop"  # where nobody can see it
    python = "/usr/bin/python3" if os.access("/usr/bin/python3", os.X_OK) else sys.executable  # nobody must run it
    attacker = subprocess.Popen([*as_nobody, python, "-c", textwrap.dedent(SWAPPER), str(open_folder), str(stop)],
                                stderr=subprocess.PIPE, text=True)  # fmt: skip
    try:
        # the evil plugin is theirs: written by nobody
        subprocess.run([*as_nobody, python, "-c",
                        f"open({str(open_folder / 'evil.py')!r}, 'w').write({EVIL.format(marker=str(marker))!r})"],
                       check=True)  # fmt: skip
        deadline = time.monotonic() + 20
        while not (open_folder / "swapping").exists():
            assert attacker.poll() is None, f"the attacker (as nobody) died: {attacker.stderr.read()}"
            assert time.monotonic() < deadline, "the attacker never started swapping"
            time.sleep(0.01)
        plugins = _plugin_dir(tmp_path)
        (plugins / "x.py").symlink_to(open_folder / "x.py")
        loaded = 0
        for i in range(400):
            if i % 2:
                report = load_plugins(plugins, entry_points=False)
                loaded += "race.job" in report.handlers
            else:
                try:
                    loaded += "race.job" in load_origin(f"file:{plugins / 'x.py'}")
                except Exception:  # refused (or the file was mid-swap): not loaded
                    pass
            assert not marker.exists(), f"another user's code ran as us (load {i + 1})"
        assert loaded == 0, "a plugin behind a symlink into a world-writable folder was loaded"
    finally:
        stop.touch()
        try:
            attacker.wait(timeout=10)
        except subprocess.TimeoutExpired:
            attacker.kill()
            attacker.wait()
    assert not marker.exists()
