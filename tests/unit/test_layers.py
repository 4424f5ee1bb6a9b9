"""The layer rules: the public jobs module and the CLI import no Qt; import-linter contracts hold."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_jobs_module_and_cli_do_not_import_qt():
    code = (
        "import sys, acacia_gui.jobs, acacia_gui.cli, acacia_gui.config, acacia_gui.store.sqlite, "
        "acacia_gui.plugins.loader, acacia_gui.ipc.client; "
        "bad = sorted(m for m in sys.modules if m.startswith('PySide6')); "
        "assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_unit_tests_do_not_use_qt():
    qt_use = re.compile(r"^\s*(from|import)\s+(PySide6|pytestqt|acacia_gui\.(qt|gui|app)\b)|\bqtbot\b", re.MULTILINE)
    for path in Path(__file__).parent.glob("*.py"):
        found = qt_use.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{path.name} uses Qt ({found.group(0).strip()}): move it to tests/integration or tests/gui"


def test_import_linter_contracts_hold():
    linter = Path(sys.executable).with_name("lint-imports")
    result = subprocess.run([str(linter), "--no-cache"], cwd=ROOT, capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_engine_and_the_worker_process_import_no_qt_and_the_child_no_jsonschema():
    code = (
        "import sys, acacia_gui.engine.scheduler, acacia_gui.engine.processes.pool; "
        "bad = sorted(m for m in sys.modules if m.startswith('PySide6')); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)
    child = (  # what a worker process imports before it runs a handler (jsonschema alone costs ~10 MB of RSS)
        "import sys, acacia_gui.engine.processes.child, acacia_gui.plugins.loader; "
        "bad = sorted(m for m in sys.modules if m.startswith(('PySide6', 'jsonschema', 'platformdirs'))); assert not bad, bad"
    )
    subprocess.run([sys.executable, "-c", child], check=True, cwd=ROOT)


def test_qt_holds_no_scheduling_logic():
    """qt/ adapts the engine to Qt; claims, completions, recovery and the watchdog live in engine/."""
    engine_only = re.compile(r"complete_and_claim|recover_instance|promote_due|cancel_requested_among|_watchdog|ClaimAhead")
    for path in (ROOT / "acacia_gui" / "qt").glob("*.py"):
        found = engine_only.search(path.read_text(encoding="utf-8"))
        assert found is None, f"{path.name} does the engine's work ({found.group(0)}): it belongs in acacia_gui/engine"
