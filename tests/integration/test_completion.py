"""`acacia completion SHELL`: a script for each shell (bash's passes `bash -n`), and completing
a job type in bash lists the running app's types, through `acacia handlers --names`."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import pytest

from acacia_gui.cli.parser import COMPLETION_SHELLS
from tests.integration.serve_process import Sandbox, ServeProcess

BIN = Path(sys.executable).parent  # the virtualenv's bin: `acacia` is there, as the script calls it


@pytest.fixture
def box(tmp_path):
    box = Sandbox(tmp_path)
    box.env = {**box.env, "PATH": f"{BIN}{os.pathsep}{box.env.get('PATH', '')}", "ACACIA_DATA_DIR": str(box.data_dir),
               "ACACIA_PLUGINS_DIR": str(box.plugins_dir)}  # fmt: skip
    yield box
    box.cleanup()


def script(box, shell: str) -> str:
    result = subprocess.run([sys.executable, "-m", "acacia_gui", "completion", shell], capture_output=True, text=True,
                            env=box.env, timeout=60)  # fmt: skip
    assert result.returncode == 0 and result.stderr == "", result.stderr
    return result.stdout


@pytest.mark.parametrize("shell", COMPLETION_SHELLS)
def test_a_script_for_each_shell(box, shell):
    text = script(box, shell)
    assert "acacia" in text and "enqueue" in text and "autostart" in text
    assert "acacia handlers --names" in text  # job types come from the running app


def test_bash_script_is_valid_bash(box, tmp_path):
    path = tmp_path / "acacia.bash"
    path.write_text(script(box, "bash"))
    result = subprocess.run(["bash", "-n", str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


@pytest.mark.parametrize(("shell", "check"), [("zsh", ["zsh", "-n"]), ("fish", ["fish", "--no-execute"])])
def test_other_scripts_parse_where_that_shell_is_installed(box, tmp_path, shell, check):
    if shutil.which(check[0]) is None:
        pytest.skip(f"{check[0]} is not installed here; its script is only checked where it is")
    path = tmp_path / f"acacia.{shell}"
    path.write_text(script(box, shell))
    result = subprocess.run([*check, str(path)], capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stderr


def complete_in_bash(box, tmp_path, words: list[str]) -> list[str]:
    """What bash offers for the last (partial) word of `words`, using the generated script."""
    path = tmp_path / "acacia.bash"
    path.write_text(script(box, "bash"))
    line = " ".join(words)
    program = (f'source {path}\nCOMP_WORDS=({" ".join(repr(w) for w in words)})\nCOMP_CWORD={len(words) - 1}\n'
               f'COMP_LINE={line!r}\nCOMP_POINT={len(line)}\n_shtab_acacia\nprintf "%s\\n" "${{COMPREPLY[@]}}"\n')  # fmt: skip
    result = subprocess.run(["bash", "-c", program], capture_output=True, text=True, env=box.env, timeout=60)
    assert result.returncode == 0, result.stderr
    return [w for w in result.stdout.split("\n") if w]


def test_job_types_complete_from_the_running_app(box, tmp_path):
    with ServeProcess(box):
        assert complete_in_bash(box, tmp_path, ["acacia", "enqueue", ""]) == ["demo.sleep", "file.hash", "folder.process",
                                                                           "shell.run"]
        assert complete_in_bash(box, tmp_path, ["acacia", "enqueue", "de"]) == ["demo.sleep"]
        assert complete_in_bash(box, tmp_path, ["acacia", "list", "--type", "fi"]) == ["file.hash"]
    assert "autostart" in complete_in_bash(box, tmp_path, ["acacia", "au"])


def test_job_types_complete_in_fish_where_it_is_installed(box, tmp_path):
    if shutil.which("fish") is None:
        pytest.skip("fish is not installed here; bash's completion is tested above")
    path = tmp_path / "acacia.fish"
    path.write_text(script(box, "fish"))
    with ServeProcess(box):
        result = subprocess.run(["fish", "--no-config", "-c", f"source {path}; complete -C 'acacia enqueue de'"],
                                capture_output=True, text=True, env=box.env, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert [line.split("\t")[0] for line in result.stdout.splitlines()] == ["demo.sleep"]


def test_handler_names_is_quick_and_silent_without_an_app(box):
    started = time.monotonic()
    result = subprocess.run([sys.executable, "-m", "acacia_gui", "handlers", "--names"], capture_output=True, text=True,
                            env=box.env, timeout=30)  # fmt: skip
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
    assert time.monotonic() - started < 5
    assert not box.data_dir.exists()  # asked nothing of the database, created nothing
