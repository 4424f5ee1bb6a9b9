"""The wheel `pip install .` builds: scripts, version, and the package data the app needs.

Built once per session from a copy of the source (so the build never writes build/ or
*.egg-info into the shared tree), with pip's normal isolated build, as a user's
`pip install .` would.
"""

from __future__ import annotations

import configparser
import shutil
import subprocess
import sys
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

import acacia_gui

ROOT = Path(__file__).resolve().parents[2]
SOURCES = ("acacia_gui", "resources", "pyproject.toml", "setup.py", "README.md", "LICENSE")
APP_ICON_SIZES = (16, 24, 32, 48, 64, 128, 256, 512)


def build_wheel(tmp: Path) -> Path:
    """`pip wheel` on a copy of the source tree (also used by tests/integration/test_packaging.py)."""
    source = tmp / "src"
    source.mkdir(parents=True)
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info")
    for name in SOURCES:
        path = ROOT / name
        if path.is_dir():
            shutil.copytree(path, source / name, ignore=ignore)
        elif path.is_file():
            shutil.copy2(path, source / name)
    built = subprocess.run([sys.executable, "-m", "pip", "wheel", str(source), "--no-deps", "-q", "-w", str(tmp / "dist")],
                           capture_output=True, text=True, timeout=300)  # fmt: skip
    assert built.returncode == 0, built.stderr[-3000:]
    wheels = list((tmp / "dist").glob("*.whl"))
    assert len(wheels) == 1, wheels
    return wheels[0]


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Iterator[zipfile.ZipFile]:
    with zipfile.ZipFile(build_wheel(tmp_path_factory.mktemp("wheel"))) as archive:
        yield archive


def _dist_info(wheel: zipfile.ZipFile, name: str) -> str:
    matches = [n for n in wheel.namelist() if n.endswith(f".dist-info/{name}")]
    assert len(matches) == 1, matches
    return wheel.read(matches[0]).decode("utf-8")


def test_version_comes_from_the_package(wheel: zipfile.ZipFile) -> None:
    assert Path(wheel.filename).name.startswith(f"acacia_gui-{acacia_gui.__version__}-py3-none-any")
    assert f"\nVersion: {acacia_gui.__version__}\n" in _dist_info(wheel, "METADATA")


def test_console_and_gui_scripts(wheel: zipfile.ZipFile) -> None:
    entry_points = configparser.ConfigParser()
    entry_points.read_string(_dist_info(wheel, "entry_points.txt"))
    assert entry_points["console_scripts"]["acacia"] == "acacia_gui.__main__:main"
    assert entry_points["gui_scripts"]["acacia-gui"] == "acacia_gui.app:main"


def test_example_plugins_are_package_data(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    examples = sorted(p.name for p in (ROOT / "resources" / "plugins").glob("*.py"))
    assert "sleep.py" in examples
    for example in examples:
        assert f"acacia_gui/resources/plugins/{example}" in names


def test_icons_are_package_data(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for svg in (ROOT / "resources" / "icons").rglob("*.svg"):
        assert f"acacia_gui/resources/{svg.relative_to(ROOT / 'resources').as_posix()}" in names
    for size in APP_ICON_SIZES:
        assert f"acacia_gui/resources/icons/app/acacia-{size}.png" in names
    assert "acacia_gui/resources/icons/app/acacia.svg" in names


def test_migrations_are_package_data(wheel: zipfile.ZipFile) -> None:
    names = set(wheel.namelist())
    for folder in ("store/migrations", "store/postgres/migrations"):  # SQLite's, PostgreSQL's
        migrations = sorted((ROOT / "acacia_gui" / folder).glob("*.sql"))
        assert migrations, folder
        for sql in migrations:
            assert f"acacia_gui/{folder}/{sql.name}" in names


def test_no_tests_dev_files_or_bytecode(wheel: zipfile.ZipFile) -> None:
    top_levels = {n.split("/", 1)[0] for n in wheel.namelist()}
    assert top_levels == {"acacia_gui", f"acacia_gui-{acacia_gui.__version__}.dist-info"}
    assert not [n for n in wheel.namelist() if "__pycache__" in n or n.endswith((".pyc", ".pyo"))]
