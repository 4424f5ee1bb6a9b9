"""Packaging end to end: the PyInstaller bundle, the wheel in a fresh venv, the desktop files.

Slow (a bundle build is ~20 s), so marked `package`: `make test` skips it, `make
package-test` (and CI, after `make test`) runs it alone. Everything is built in
tmp_path, never in the shared dist/ or build/ folders.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

import acacia_gui
from acacia_gui.config import load_config
from acacia_gui.ipc.client import probe
from tests.conftest import wait_until
from tests.unit.test_wheel import build_wheel

pytestmark = pytest.mark.package

ROOT = Path(__file__).resolve().parents[2]
LINUX = ROOT / "packaging" / "linux"
APP_ID = "io.github.acacia.Acacia"
DEV_MODULES = {"pytest", "_pytest", "pytestqt", "pytest_timeout", "ruff", "importlinter", "grimp", "huey", "PyInstaller",
               "pip", "setuptools", "tests", "bench"}  # fmt: skip
SELF_TEST_TIMEOUT = 120


def _clean_env() -> dict[str, str]:
    """No ACACIA_* from the test session: the self-test must pick its own temporary data dir."""
    return {k: v for k, v in os.environ.items() if not k.startswith("ACACIA_")}


def _assert_self_test_passed(result: subprocess.CompletedProcess[str]) -> None:
    assert result.returncode == 0, f"stdout:\n{result.stdout}\nstderr:\n{result.stderr}"
    assert "handlers: " in result.stdout and "demo.sleep" in result.stdout
    assert "succeeded" in result.stdout
    assert "stopped the app with SIGTERM: exit status 0" in result.stdout
    assert "ran in worker process" in result.stdout  # a handler ran in a worker process started from the bundle
    assert "hard cancel: job" in result.stdout and "its process is gone" in result.stdout
    assert "self-test passed" in result.stdout


@pytest.fixture(scope="module")
def bundle(tmp_path_factory: pytest.TempPathFactory) -> Path:
    pytest.importorskip("PyInstaller", reason="PyInstaller is not installed: run `make package-test`")
    tmp = tmp_path_factory.mktemp("bundle")
    build = subprocess.run(
        [sys.executable, "-m", "PyInstaller", "--noconfirm", "--log-level", "WARN", "--distpath", str(tmp / "dist"),
         "--workpath", str(tmp / "build"), str(ROOT / "packaging" / "acacia.spec")],
        capture_output=True, text=True, timeout=600, cwd=tmp,
    )  # fmt: skip
    assert build.returncode == 0, build.stderr[-5000:]
    return tmp / "dist" / "acacia"


@pytest.mark.timeout(900)
def test_bundle_self_test_runs_a_job_through_the_socket(bundle: Path, tmp_path: Path) -> None:
    result = subprocess.run([str(bundle / "acacia"), "--self-test"], capture_output=True, text=True,
                            timeout=SELF_TEST_TIMEOUT, env=_clean_env(), cwd=tmp_path)  # fmt: skip
    _assert_self_test_passed(result)
    assert f"bundle {bundle}" in result.stdout  # it really ran frozen, and `serve` was the bundle's binary too


@pytest.mark.timeout(900)
def test_bundle_cli_answers(bundle: Path, tmp_path: Path) -> None:
    version = subprocess.run([str(bundle / "acacia"), "--version"], capture_output=True, text=True, timeout=60,
                             env=_clean_env(), cwd=tmp_path)  # fmt: skip
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"acacia {acacia_gui.__version__}"
    bad = subprocess.run([str(bundle / "acacia"), "no-such-command"], capture_output=True, text=True, timeout=60,
                         env=_clean_env(), cwd=tmp_path)  # fmt: skip
    assert bad.returncode == 2 and len(bad.stderr.strip().splitlines()) == 1


@pytest.mark.timeout(900)
def test_bundle_opens_the_window_offscreen(bundle: Path, tmp_path: Path) -> None:
    """The window path (QtWidgets, QtSvg icons, the main window) works frozen, not only `serve`."""
    data_dir = tmp_path / "data"
    log = tmp_path / "window.log"
    env = {**_clean_env(), "QT_QPA_PLATFORM": "offscreen"}
    with open(log, "wb") as out:
        app = subprocess.Popen([str(bundle / "acacia"), "--data-dir", str(data_dir)], env=env, cwd=tmp_path,
                               stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
    try:
        def hello() -> dict | None:
            if app.poll() is not None:
                raise AssertionError(f"the window exited with {app.returncode}:\n{log.read_text()}")
            return probe(load_config(data_dir).socket_address, timeout=1.0)

        info = wait_until(hello, timeout=60, message="the bundled window's socket")
        assert info.get("pid") == app.pid
        app.send_signal(signal.SIGTERM)
        assert app.wait(timeout=30) == 0, log.read_text()
    finally:
        if app.poll() is None:
            app.kill()
            app.wait()
    output = log.read_text()
    assert "running headless" not in output and "Traceback" not in output, output


@pytest.mark.timeout(900)
def test_bundle_carries_resources_and_no_dev_modules(bundle: Path) -> None:
    from PyInstaller.archive.readers import CArchiveReader

    data = bundle / "_internal" / "acacia_gui"
    for example in (ROOT / "resources" / "plugins").glob("*.py"):
        assert (data / "resources" / "plugins" / example.name).is_file()
    for icon in (ROOT / "resources" / "icons").rglob("*.svg"):
        assert (data / "resources" / icon.relative_to(ROOT / "resources")).is_file()
    for sql in (ROOT / "acacia_gui" / "store" / "migrations").glob("*.sql"):
        assert (data / "store" / "migrations" / sql.name).is_file()
    for sql in (ROOT / "acacia_gui" / "store" / "postgres" / "migrations").glob("*.sql"):
        assert (data / "store" / "postgres" / "migrations" / sql.name).is_file()
    assert (bundle / "linux" / f"{APP_ID}.desktop").is_file()
    modules = set(CArchiveReader(str(bundle / "acacia")).open_embedded_archive("PYZ.pyz").toc)
    assert {"acacia_gui.jobs", "acacia_gui.app", "acacia_gui.selftest", "acacia_gui.gui.main_window"} <= modules
    assert not {m for m in modules if m.split(".")[0] in DEV_MODULES}
    assert not [p for p in (bundle / "_internal").iterdir() if p.name.split("-")[0].split(".")[0] in DEV_MODULES]


@pytest.mark.timeout(900)
def test_bundle_migrates_and_runs_a_job_on_postgres(bundle: Path, tmp_path: Path) -> None:
    """The frozen app on PostgreSQL: its migrations are in the bundle (an empty database is
    migrated by `db migrate`), psycopg's C implementation loads, and `serve` runs a job enqueued
    by the bundle's CLI straight into the database (no local app asked)."""
    import psycopg

    from tests.integration.test_postgres_instances import as_url
    from tests.support.postgres_server import server_or_skip

    server = server_or_skip("the bundle's PostgreSQL test")
    env = {**_clean_env(), "QT_QPA_PLATFORM": "offscreen", "XDG_RUNTIME_DIR": str(tmp_path)}
    with server.database() as conninfo_text:
        with psycopg.connect(conninfo_text, autocommit=True) as conn:  # the test databases come migrated: start empty
            conn.execute("DROP SCHEMA public CASCADE")
            conn.execute("CREATE SCHEMA public")
        url = as_url(conninfo_text)
        acacia = [str(bundle / "acacia"), "--database", url]

        def cli(*args: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([*acacia, *args], capture_output=True, text=True, timeout=120, env=env, cwd=tmp_path)

        migrated = cli("db", "migrate")
        assert migrated.returncode == 0, migrated.stderr
        with psycopg.connect(conninfo_text) as conn:
            assert conn.execute("SELECT max(version) FROM schema_version").fetchone()[0] >= 3
        enqueued = cli("--data-dir", str(tmp_path / "cli"), "enqueue", "demo.sleep", "--allow-unknown",
                       "--payload", '{"seconds": 0.1}')  # no plugin folder yet: the app installs the examples
        assert enqueued.returncode == 0, enqueued.stderr
        job_id = int(enqueued.stdout.split()[0])
        with open(tmp_path / "serve.log", "wb") as out:
            app = subprocess.Popen([*acacia, "--data-dir", str(tmp_path / "data"), "serve"], env=env, cwd=tmp_path,
                                   stdout=out, stderr=subprocess.STDOUT)  # fmt: skip
        try:
            def succeeded() -> bool:
                if app.poll() is not None:
                    raise AssertionError(f"serve exited with {app.returncode}:\n{(tmp_path / 'serve.log').read_text()}")
                with psycopg.connect(conninfo_text) as conn:
                    return conn.execute("SELECT state FROM jobs WHERE id = %s", (job_id,)).fetchone()[0] == "succeeded"

            wait_until(succeeded, timeout=90, message="the job run by the bundle on PostgreSQL")
            app.send_signal(signal.SIGTERM)
            assert app.wait(timeout=30) == 0, (tmp_path / "serve.log").read_text()
        finally:
            if app.poll() is None:
                app.kill()
                app.wait()


@pytest.mark.timeout(600)
def test_wheel_in_a_fresh_venv_finds_its_resources_and_passes_self_test(tmp_path: Path) -> None:
    wheel = build_wheel(tmp_path / "wheel")
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True, timeout=120)
    python = venv / "bin" / "python"
    site = Path(subprocess.run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                               capture_output=True, text=True, check=True).stdout.strip())  # fmt: skip
    # The dependencies (PySide6 alone is 260 MB) come from the test venv by a plain path entry, which
    # does not run that venv's .pth files, so its editable acacia_gui stays invisible.
    (site / "_acacia_test_deps.pth").write_text(sysconfig.get_paths()["purelib"] + "\n")
    install = subprocess.run([str(python), "-m", "pip", "install", "--no-deps", "--no-index", "-q", str(wheel)],
                             capture_output=True, text=True, timeout=300)  # fmt: skip
    assert install.returncode == 0, install.stderr
    env = {**_clean_env(), "QT_QPA_PLATFORM": "offscreen"}
    where = subprocess.run(
        [str(python), "-c", "import acacia_gui\nfrom acacia_gui.plugins.loader import examples_dir\n"
         "from acacia_gui.gui.icons import icons_dir\nprint(acacia_gui.__file__, examples_dir(), icons_dir(), sep='\\n')"],
        capture_output=True, text=True, timeout=60, env=env, cwd=tmp_path,
    )  # fmt: skip
    assert where.returncode == 0, where.stderr
    package, examples, icons = (Path(line) for line in where.stdout.splitlines())
    assert package == site / "acacia_gui" / "__init__.py"
    assert examples == site / "acacia_gui" / "resources" / "plugins" and (examples / "sleep.py").is_file()
    assert icons == site / "acacia_gui" / "resources" / "icons" and (icons / "app" / "acacia.svg").is_file()
    assert (venv / "bin" / "acacia-gui").is_file()
    result = subprocess.run([str(venv / "bin" / "acacia"), "--self-test"], capture_output=True, text=True,
                            timeout=SELF_TEST_TIMEOUT, env=_clean_env(), cwd=tmp_path)  # fmt: skip
    _assert_self_test_passed(result)
    assert str(venv / "bin" / "python") in result.stdout


def _validator(command: str, apt_package: str) -> str:
    """The validator's path; installs it with apt when that is possible (root, apt-get), else skips."""
    found = shutil.which(command)
    if found:
        return found
    if not shutil.which("apt-get") or os.geteuid() != 0:
        pytest.skip(f"{command} is not installed and apt-get is not usable here (install {apt_package} to run this check)")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    apt = ["apt-get", "install", "-y", "-qq", "--no-install-recommends", apt_package]
    if subprocess.run(apt, capture_output=True, env=env, timeout=300).returncode != 0:
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, env=env, timeout=300)
        installed = subprocess.run(apt, capture_output=True, text=True, env=env, timeout=300)
        if installed.returncode != 0:
            pytest.skip(f"could not install {apt_package} with apt-get: {installed.stderr.strip()[-300:]}")
    found = shutil.which(command)
    assert found, f"{apt_package} installed but {command} is not on PATH"
    return found


@pytest.mark.timeout(600)
def test_desktop_entry_validates() -> None:
    validate = _validator("desktop-file-validate", "desktop-file-utils")
    result = subprocess.run([validate, str(LINUX / f"{APP_ID}.desktop")], capture_output=True, text=True, timeout=60)
    assert result.returncode == 0 and not result.stdout.strip(), result.stdout + result.stderr


@pytest.mark.timeout(600)
def test_appstream_metainfo_validates() -> None:
    appstreamcli = _validator("appstreamcli", "appstream")
    result = subprocess.run([appstreamcli, "validate", "--no-net", str(LINUX / f"{APP_ID}.metainfo.xml")],
                            capture_output=True, text=True, timeout=60)  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.timeout(600)
def test_install_script_installs_and_uninstalls_exactly_its_files(tmp_path: Path) -> None:
    prefix = tmp_path / "share"
    script = LINUX / "install-desktop-entry.sh"
    exe = tmp_path / "my apps" / "acacia"
    installed = subprocess.run(["sh", str(script), "--prefix", str(prefix), "--exec", str(exe)],
                               capture_output=True, text=True, timeout=60)  # fmt: skip
    assert installed.returncode == 0, installed.stderr
    files = sorted(p.relative_to(prefix).as_posix() for p in prefix.rglob("*") if p.is_file())
    assert f"applications/{APP_ID}.desktop" in files
    assert f"metainfo/{APP_ID}.metainfo.xml" in files
    assert f"icons/hicolor/scalable/apps/{APP_ID}.svg" in files
    assert f"icons/hicolor/256x256/apps/{APP_ID}.png" in files
    entry = (prefix / "applications" / f"{APP_ID}.desktop").read_text()
    assert f'Exec="{exe}"\n' in entry and f"TryExec={exe}\n" in entry
    if shutil.which("desktop-file-validate"):
        check = subprocess.run(["desktop-file-validate", str(prefix / "applications" / f"{APP_ID}.desktop")],
                               capture_output=True, text=True, timeout=60)  # fmt: skip
        assert check.returncode == 0, check.stdout
    removed = subprocess.run(["sh", str(script), "--prefix", str(prefix), "--uninstall"], capture_output=True,
                             text=True, timeout=60)  # fmt: skip
    assert removed.returncode == 0, removed.stderr
    leftovers = [p for p in prefix.rglob("*") if p.is_file() and not p.name.startswith(("mimeinfo.cache", "icon-theme.cache"))]
    assert leftovers == []
    bad = subprocess.run(["sh", str(script), "--bogus"], capture_output=True, text=True, timeout=60)
    assert bad.returncode == 2 and "unknown option --bogus" in bad.stderr
