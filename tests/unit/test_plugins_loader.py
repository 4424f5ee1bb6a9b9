"""The plugin loader on real plugin folders: both plugin forms, packages, broken plugins, reload."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from acacia_gui.core.context import Context
from acacia_gui.core.job import Job
from acacia_gui.plugins.loader import MODULE_PREFIX, LoadReport, load_plugins

GOOD = """
    from acacia_gui.jobs import handler

    @handler("good.echo", title="Echo")
    def echo(ctx, job):
        return job.payload
"""


def make_plugin_dir(root: Path) -> Path:
    folder = root / "plugins"
    folder.mkdir()
    os.chmod(folder, 0o700)
    return folder


def write(folder: Path, relative: str, source: str, mode: int = 0o644) -> Path:
    """A real plugin file (dedented source); package folders are created with mode 0o755."""
    path = folder / relative
    for parent in reversed(Path(relative).parents[:-1]):
        directory = folder / parent
        if not directory.exists():
            directory.mkdir()
            os.chmod(directory, 0o755)
    path.write_text(textwrap.dedent(source))
    os.chmod(path, mode)
    return path


def load(folder: Path) -> LoadReport:
    return load_plugins(folder, entry_points=False)


def call(report: LoadReport, job_type: str, payload: object = None) -> object:
    return report.handlers[job_type].handle(Context.background(), Job(job_type, payload))


@pytest.fixture
def plugins(tmp_path: Path) -> Path:
    return make_plugin_dir(tmp_path)


# -- the two plugin forms -------------------------------------------------------------------

def test_decorated_handlers_are_found_with_their_options(plugins: Path) -> None:
    write(plugins, "good.py", GOOD + """
    @handler("good.slow", queue="slow", timeout=30, max_attempts=3, on_interrupt="fail",
             schema={"type": "object"}, description="takes a while")
    def slow(ctx, job):
        return "slow"
    """)
    report = load(plugins)
    assert report.problems == []
    assert sorted(report.handlers) == ["good.echo", "good.slow"]
    slow = report.handlers["good.slow"]
    assert (slow.queue, slow.timeout, slow.max_attempts, slow.on_interrupt) == ("slow", 30, 3, "fail")
    assert slow.plugin == "good.py" and report.handlers["good.echo"].title == "Echo"
    [info] = report.plugins
    assert (info.name, info.path, info.handlers, info.source) == (
        "good.py", str(plugins.resolve() / "good.py"), ("good.echo", "good.slow"), "folder")
    assert call(report, "good.echo", {"x": 1}) == {"x": 1}


def test_register_function_form_and_both_forms_together(plugins: Path) -> None:
    write(plugins, "reg.py", """
        from acacia_gui.jobs import handler

        class Doubler:
            def handle(self, ctx, job):
                return job.payload * 2

        @handler("reg.marked")
        def marked(ctx, job):
            return "marked"

        def register(registry):
            registry.register_handler("reg.double", Doubler(), title="Double")

            @registry.handler("reg.decorated", queue="q2")
            def decorated(ctx, job):
                return "decorated"
    """)
    report = load(plugins)
    assert report.problems == []
    assert sorted(report.handlers) == ["reg.decorated", "reg.double", "reg.marked"]
    assert call(report, "reg.double", 21) == 42
    assert report.handlers["reg.decorated"].queue == "q2"
    assert {h.plugin for h in report.handlers.values()} == {"reg.py"}


def test_package_plugin_with_relative_imports(plugins: Path) -> None:
    write(plugins, "pkg/__init__.py", """
        from acacia_gui.jobs import handler
        from .helpers import double
        from .sub.deep import PREFIX

        @handler("pkg.double")
        def run(ctx, job):
            from . import helpers  # a lazy relative import at run time works too
            return PREFIX + str(helpers.double(job.payload))
    """)
    write(plugins, "pkg/helpers.py", "def double(x):\n    return 2 * x\n")
    write(plugins, "pkg/sub/__init__.py", "")
    write(plugins, "pkg/sub/deep.py", "from ..helpers import double\nPREFIX = 'x' * double(1)\n")
    report = load(plugins)
    assert report.problems == []
    assert report.plugins[0].name == "pkg" and report.plugins[0].source == "folder"
    assert call(report, "pkg.double", 4) == "xx8"


def test_private_hidden_and_non_plugin_entries_are_ignored(plugins: Path) -> None:
    write(plugins, "_private.py", "raise RuntimeError('must not be imported')\n")
    write(plugins, ".hidden.py", "raise RuntimeError('must not be imported')\n")
    write(plugins, "notes.txt", "not a plugin")
    write(plugins, "data/readme.py", "raise RuntimeError('a folder without __init__.py is not a plugin')\n")
    write(plugins, "good.py", GOOD)
    report = load(plugins)
    assert report.problems == []
    assert [p.name for p in report.plugins] == ["good.py"]


def test_loading_does_not_touch_sys_path(plugins: Path) -> None:
    write(plugins, "good.py", GOOD)
    write(plugins, "pkg/__init__.py", "from .helpers import X\n")
    write(plugins, "pkg/helpers.py", "X = 1\n")
    before = list(sys.path)
    report = load(plugins)
    assert report.problems == []
    assert sys.path == before
    assert "good" not in sys.modules and "pkg" not in sys.modules
    assert all(name.startswith(MODULE_PREFIX + "._") for name in _plugin_modules())


def test_missing_plugin_folder_is_not_an_error(tmp_path: Path) -> None:
    report = load(tmp_path / "does-not-exist")
    assert (report.handlers, report.plugins, report.problems) == ({}, [], [])


def test_report_to_dict_is_json(plugins: Path) -> None:
    write(plugins, "good.py", GOOD)
    write(plugins, "bad.py", "raise ValueError('boom')\n")
    data = json.loads(json.dumps(load(plugins).to_dict()))
    assert [h["type"] for h in data["handlers"]] == ["good.echo"]
    assert data["handlers"][0]["plugin"] == "good.py"
    assert data["plugins"] == [{"name": "good.py", "path": str(plugins.resolve() / "good.py"),
                                "handlers": ["good.echo"], "source": "folder"}]
    [problem] = data["problems"]
    assert problem["plugin"] == "bad.py" and problem["message"] == "ValueError: boom"
    assert "raise ValueError('boom')" in problem["traceback"]


# -- broken plugins -----------------------------------------------------------------------

BROKEN = {
    "syntax error": ("def broken(:\n", "SyntaxError"),
    "import error": ("import acacia_no_such_module_xyz\n", "No module named 'acacia_no_such_module_xyz'"),
    "exception at import": ("raise ValueError('bad config')\n", "ValueError: bad config"),
    "SystemExit at import": ("import sys\nsys.exit(3)\n", "the plugin called sys.exit() (SystemExit: 3)"),
    "KeyboardInterrupt at import": ("raise KeyboardInterrupt\n", "KeyboardInterrupt"),
    "exception in register": ("def register(registry):\n    raise RuntimeError('no luck')\n", "RuntimeError: no luck"),
    "SystemExit in register": ("import sys\ndef register(registry):\n    sys.exit('bye')\n",
                               "the plugin called sys.exit() (SystemExit: bye)"),
    "register with a wrong signature": ("def register():\n    pass\n", "TypeError"),
    "register not callable": ("register = 5\n", "'register' must be a function"),
    "invalid @handler option": (
        "from acacia_gui.jobs import handler\n@handler('bad.opt', timeout=-1)\ndef f(ctx, job):\n    pass\n",
        "timeout"),
    "unknown @handler option": (
        "from acacia_gui.jobs import handler\n@handler('bad.opt', colour='red')\ndef f(ctx, job):\n    pass\n",
        "unknown handler option(s) for 'bad.opt': colour"),
    "invalid job type": ("from acacia_gui.jobs import handler\n@handler('has space')\ndef f(ctx, job):\n    pass\n",
                         "invalid job type 'has space'"),
    "invalid schema": (
        "from acacia_gui.jobs import handler\n@handler('bad.schema', schema={'type': 'nonsense'})\n"
        "def f(ctx, job):\n    pass\n",
        "the payload schema of 'bad.schema' is not a valid JSON schema: schema.type:"),
    "invalid schema in register": (
        "def register(registry):\n    registry.register_handler('bad.s', print, schema={'minimum': 'one'})\n",
        "is not a valid JSON schema"),
    "same type twice in one plugin": (
        "from acacia_gui.jobs import handler\n@handler('twice.x')\ndef f(ctx, job):\n    pass\n"
        "@handler('twice.x')\ndef g(ctx, job):\n    pass\n",
        "job type 'twice.x' is declared twice in this plugin"),
}


@pytest.mark.parametrize("case", sorted(BROKEN))
def test_broken_plugin_is_reported_and_the_others_still_load(plugins: Path, case: str) -> None:
    source, expected = BROKEN[case]
    write(plugins, "a_good.py", GOOD)
    broken = write(plugins, "broken.py", source)
    write(plugins, "pkg/__init__.py", "from acacia_gui.jobs import handler\n"
                                      "@handler('z.pkg')\ndef f(ctx, job):\n    return 'pkg'\n")
    report = load(plugins)
    assert sorted(report.handlers) == ["good.echo", "z.pkg"]
    assert [p.name for p in report.plugins] == ["a_good.py", "pkg"]
    [problem] = report.problems
    assert problem.plugin == "broken.py" and problem.path == str(broken.resolve())
    assert expected in problem.message
    assert "\n" not in problem.message
    assert problem.traceback and "Traceback" in problem.traceback
    assert not any("_broken_" in name for name in _plugin_modules()), "a failed plugin's module must be dropped"


def test_half_registered_handlers_do_not_leak(plugins: Path) -> None:
    write(plugins, "half.py", """
        from acacia_gui.jobs import handler

        @handler("half.marked")
        def marked(ctx, job):
            pass

        def register(registry):
            registry.register_handler("half.one", marked)
            raise RuntimeError("failed after registering one")
    """)
    write(plugins, "good.py", GOOD)
    report = load(plugins)
    assert sorted(report.handlers) == ["good.echo"]
    assert [p.plugin for p in report.problems] == ["half.py"]


def test_duplicate_job_type_across_plugins_skips_the_second_plugin(plugins: Path) -> None:
    write(plugins, "a.py", GOOD)
    write(plugins, "b.py", GOOD.replace("Echo", "Echo again") + """
    @handler("b.other")
    def other(ctx, job):
        pass
    """)
    write(plugins, "c.py", "def register(registry):\n    registry.register_handler('c.own', print)\n")
    report = load(plugins)
    assert sorted(report.handlers) == ["c.own", "good.echo"]
    assert report.handlers["good.echo"].plugin == "a.py"
    [problem] = report.problems
    assert problem.plugin == "b.py"
    assert problem.message == "job type 'good.echo' is already provided by plugin 'a.py'; this plugin was skipped"


# -- reload -------------------------------------------------------------------------------

def test_reload_picks_up_edited_files_without_stale_bytecode(plugins: Path) -> None:
    source = "from acacia_gui.jobs import handler\nfrom .helper import N\n" \
             "@handler('r.value')\ndef f(ctx, job):\n    return [VALUE, N]\nVALUE = 1\n"
    write(plugins, "pkg/__init__.py", source)
    write(plugins, "pkg/helper.py", "N = 1\n")
    write(plugins, "plain.py", "from acacia_gui.jobs import handler\n@handler('r.plain')\n"
                               "def f(ctx, job):\n    return 1\n")
    before = set(_plugin_modules())
    first = load(plugins)
    assert call(first, "r.value") == [1, 1] and call(first, "r.plain") == 1
    old_modules = set(_plugin_modules()) - before
    assert len(old_modules) == 3  # pkg, pkg.helper, plain

    # Same sizes, same second: a bytecode cache keyed on mtime and size would serve the old code.
    write(plugins, "pkg/__init__.py", source.replace("VALUE = 1", "VALUE = 2"))
    write(plugins, "pkg/helper.py", "N = 2\n")
    write(plugins, "plain.py", (plugins / "plain.py").read_text().replace("return 1", "return 2"))
    write(plugins, "added.py", GOOD)
    second = load(plugins)
    assert second.problems == []
    assert call(second, "r.value") == [2, 2] and call(second, "r.plain") == 2
    assert "good.echo" in second.handlers
    assert call(first, "r.value") == [1, 1], "handlers of the old generation keep working"
    assert not old_modules & set(_plugin_modules()), "the previous generation is unloaded"
    assert not list(plugins.rglob("__pycache__")), "plugin code is never cached as bytecode"


def test_reload_after_a_plugin_is_deleted_or_broken(plugins: Path) -> None:
    write(plugins, "a.py", GOOD)
    write(plugins, "b.py", "def register(registry):\n    registry.register_handler('b.x', print)\n")
    assert sorted(load(plugins).handlers) == ["b.x", "good.echo"]
    (plugins / "a.py").unlink()
    write(plugins, "b.py", "def register(registry):\n    raise RuntimeError('now broken')\n")
    report = load(plugins)
    assert report.handlers == {} and [p.plugin for p in report.problems] == ["b.py"]


# -- no Qt ----------------------------------------------------------------------------------

def test_loader_imports_without_qt() -> None:
    code = ("import sys, acacia_gui.plugins.loader, acacia_gui.plugins.schema\n"
            "assert not [m for m in sys.modules if m.startswith('PySide6')], 'Qt imported'\n")
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def _plugin_modules() -> list[str]:
    return [name for name in sys.modules if name.startswith(MODULE_PREFIX + ".")]
