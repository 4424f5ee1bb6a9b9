"""Who may write a plugin: unsafe modes and owners are refused; first-run plugin folder set-up."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from acacia_gui.plugins.loader import ensure_plugin_dir, examples_dir, load_plugins
from tests.unit.test_plugins_loader import GOOD, make_plugin_dir, write

posix_only = pytest.mark.skipif(os.name != "posix", reason="POSIX permission bits")
OTHER_UID = 54321  # a user that is neither us nor root


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    return make_plugin_dir(tmp_path)


@posix_only
@pytest.mark.parametrize(("mode", "whom"), [(0o666, "group and others"), (0o646, "others"), (0o664, "group")])
def test_plugin_file_writable_by_others_is_refused(plugins: Path, mode: int, whom: str) -> None:
    write(plugins, "good.py", GOOD)
    unsafe = write(plugins, "unsafe.py", "raise RuntimeError('must not be imported')\n", mode=mode)
    report = load_plugins(plugins, entry_points=False)
    assert sorted(report.handlers) == ["good.echo"]
    [problem] = report.problems
    assert problem.plugin == "unsafe.py"
    assert problem.message == (f"refused: the plugin file {unsafe.resolve()} is writable by {whom} "
                               f"(mode {mode:o}); run: chmod go-w {unsafe.resolve()}")


@posix_only
@pytest.mark.parametrize("mode", [0o770, 0o707, 0o777])
def test_plugin_folder_writable_by_others_loads_nothing(plugins: Path, mode: int) -> None:
    write(plugins, "good.py", GOOD)
    write(plugins, "other.py", GOOD.replace("good.echo", "other.echo"))
    os.chmod(plugins, mode)
    report = load_plugins(plugins, entry_points=False)
    assert report.handlers == {} and report.plugins == []
    [problem] = report.problems
    assert problem.path == str(plugins.resolve())
    assert problem.message.startswith(f"refused to load any plugin: the plugin folder {plugins.resolve()} is writable")
    assert "chmod go-w" in problem.message


@posix_only
@pytest.mark.parametrize("unsafe", ["pkg", "pkg/inner.py", "pkg/sub"])
def test_package_with_a_writable_part_is_refused(plugins: Path, unsafe: str) -> None:
    write(plugins, "pkg/__init__.py", "from .inner import X\nfrom .sub import Y\n")
    write(plugins, "pkg/inner.py", "X = 1\n")
    write(plugins, "pkg/sub/__init__.py", "Y = 1\n")
    write(plugins, "good.py", GOOD)
    os.chmod(plugins / unsafe, 0o777 if (plugins / unsafe).is_dir() else 0o666)
    report = load_plugins(plugins, entry_points=False)
    assert sorted(report.handlers) == ["good.echo"]
    [problem] = report.problems
    assert problem.plugin == "pkg" and str((plugins / unsafe).resolve()) in problem.message


@posix_only
@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0, reason="changing a file's owner needs root")
def test_plugin_owned_by_another_user_is_refused(plugins: Path) -> None:
    write(plugins, "good.py", GOOD)
    theirs = write(plugins, "theirs.py", "raise RuntimeError('must not be imported')\n")
    os.chown(theirs, OTHER_UID, -1)
    report = load_plugins(plugins, entry_points=False)
    assert sorted(report.handlers) == ["good.echo"]
    [problem] = report.problems
    assert problem.message == (f"refused: the plugin file {theirs.resolve()} is owned by another user "
                               f"(uid {OTHER_UID}); only your own plugins are loaded")
    os.chown(plugins, OTHER_UID, -1)
    report = load_plugins(plugins, entry_points=False)
    assert report.handlers == {}
    assert [p.message.split(":")[0] for p in report.problems] == ["refused to load any plugin"]


def test_a_plugin_folder_that_is_a_file_is_reported(tmp_path: Path) -> None:
    not_a_folder = tmp_path / "plugins"
    not_a_folder.write_text("")
    [problem] = load_plugins(not_a_folder, entry_points=False).problems
    assert problem.message == "the plugin folder is not a folder"


# -- first run -----------------------------------------------------------------------------

EXAMPLES = ["folder_process.py", "hash_file.py", "shell.py", "sleep.py"]


def test_examples_dir_finds_the_four_examples() -> None:
    found = examples_dir()
    assert found is not None
    assert sorted(p.name for p in found.glob("*.py")) == EXAMPLES


@posix_only
def test_first_run_creates_a_private_folder_with_the_examples(tmp_path: Path) -> None:
    target = tmp_path / "data" / "plugins"
    old_umask = os.umask(0o002)  # a permissive umask must not leak into the modes
    try:
        assert ensure_plugin_dir(target, examples_dir()) is True
    finally:
        os.umask(old_umask)
    assert stat.S_IMODE(target.stat().st_mode) == 0o700
    assert sorted(p.name for p in target.iterdir()) == EXAMPLES
    for example in target.iterdir():
        assert stat.S_IMODE(example.stat().st_mode) == 0o600
        assert example.read_bytes() == (examples_dir() / example.name).read_bytes()

    report = load_plugins(target, entry_points=False)
    assert report.problems == []
    assert sorted(report.handlers) == ["demo.sleep", "file.hash", "folder.process", "shell.run"]
    assert {h.plugin for h in report.handlers.values()} == set(EXAMPLES)


def test_an_existing_folder_is_left_alone(tmp_path: Path) -> None:
    target = tmp_path / "plugins"
    assert ensure_plugin_dir(target, examples_dir()) is True
    (target / "sleep.py").unlink()  # the user removed an example: it must not come back
    assert ensure_plugin_dir(target, examples_dir()) is False
    assert sorted(p.name for p in target.iterdir()) == ["folder_process.py", "hash_file.py", "shell.py"]


def test_first_run_without_examples_creates_an_empty_folder(tmp_path: Path) -> None:
    target = tmp_path / "plugins"
    assert ensure_plugin_dir(target, None) is True
    assert list(target.iterdir()) == []
