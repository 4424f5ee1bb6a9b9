"""Handlers contributed by installed distributions through the `acacia.handlers` entry-point group.

The fixture installs a real distribution (a package plus its .dist-info) into a temporary
site folder on sys.path, which is exactly what importlib.metadata reads.
"""

from __future__ import annotations

import sys
import textwrap
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from acacia_gui.core.context import Context
from acacia_gui.core.job import Job
from acacia_gui.plugins.loader import load_plugins
from tests.unit.test_plugins_loader import GOOD, make_plugin_dir, write


class Distribution:
    def __init__(self, site: Path, package: str) -> None:
        self.site = site
        self.package = package
        self.name = package.replace("_", "-")


@pytest.fixture
def installed(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Distribution]:
    package = f"acacia_ep_{uuid.uuid4().hex[:8]}"
    site = tmp_path / "site"
    files = {
        f"{package}/__init__.py": """
            from acacia_gui.jobs import handler

            @handler("ep.module", title="From a module")
            def run(ctx, job):
                return "module"
        """,
        f"{package}/hooks.py": """
            def register(registry):
                registry.register_handler("ep.func", lambda ctx, job: "func", queue="ep")

            NOT_A_PLUGIN = 42
        """,
        f"{package}/broken.py": "raise ImportError('missing optional dependency frobnicate')\n",
        f"{package}/dupe.py": GOOD,
        f"{package}-1.0.dist-info/METADATA": f"Metadata-Version: 2.1\nName: {package.replace('_', '-')}\nVersion: 1.0\n",
        f"{package}-1.0.dist-info/entry_points.txt": f"""
            [acacia.handlers]
            module = {package}
            func = {package}.hooks:register
            broken = {package}.broken
            constant = {package}.hooks:NOT_A_PLUGIN
            dupe = {package}.dupe

            [console_scripts]
            unrelated = {package}:run
        """,
    }
    for relative, text in files.items():
        path = site / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(textwrap.dedent(text).lstrip())
    monkeypatch.syspath_prepend(str(site))
    yield Distribution(site, package)
    for name in [m for m in sys.modules if m == package or m.startswith(package + ".")]:
        del sys.modules[name]


def ours(report, dist: Distribution) -> dict:
    return {t: h for t, h in report.handlers.items() if h.plugin.startswith(dist.name + ":")}


def test_entry_points_contribute_handlers(tmp_path: Path, installed: Distribution) -> None:
    report = load_plugins(tmp_path / "no-plugins")
    handlers = ours(report, installed)
    assert sorted(handlers) == ["ep.func", "ep.module", "good.echo"]
    assert handlers["ep.module"].plugin == f"{installed.name}:module"
    assert handlers["ep.func"].queue == "ep"
    assert handlers["ep.func"].handle(Context.background(), Job("ep.func")) == "func"
    infos = {p.name: p for p in report.plugins if p.name.startswith(installed.name)}
    assert infos[f"{installed.name}:func"].source == "entry point"
    assert infos[f"{installed.name}:func"].path == f"{installed.package}.hooks:register"
    assert infos[f"{installed.name}:module"].handlers == ("ep.module",)


def test_broken_entry_points_are_problems_and_the_rest_load(tmp_path: Path, installed: Distribution) -> None:
    report = load_plugins(tmp_path / "no-plugins")
    problems = {p.plugin: p for p in report.problems if p.plugin.startswith(installed.name)}
    assert sorted(problems) == [f"{installed.name}:broken", f"{installed.name}:constant"]
    assert problems[f"{installed.name}:broken"].message == "ImportError: missing optional dependency frobnicate"
    assert "neither a module nor a register(registry) function" in problems[f"{installed.name}:constant"].message
    assert "ep.module" in report.handlers


def test_a_folder_plugin_wins_over_an_entry_point_with_the_same_type(tmp_path: Path,
                                                                     installed: Distribution) -> None:
    plugins = make_plugin_dir(tmp_path)
    write(plugins, "good.py", GOOD)
    report = load_plugins(plugins)
    assert report.handlers["good.echo"].plugin == "good.py"
    [dupe] = [p for p in report.problems if p.plugin == f"{installed.name}:dupe"]
    assert dupe.message == "job type 'good.echo' is already provided by plugin 'good.py'; this plugin was skipped"


def test_entry_points_can_be_turned_off(tmp_path: Path, installed: Distribution) -> None:
    report = load_plugins(tmp_path / "no-plugins", entry_points=False)
    assert report.handlers == {} and report.problems == []
    assert installed.package not in sys.modules
