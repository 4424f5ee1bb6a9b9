"""--database / $ACACIA_DATABASE and --lease / $ACACIA_LEASE: which backend, and a URL shown without its password."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from acacia_gui.config import DEFAULT_LEASE, is_postgres_url, load_config, redact_url
from acacia_gui.core.errors import InvalidOptionError


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch):
    for name in ("ACACIA_DATABASE", "ACACIA_LEASE", "ACACIA_DATA_DIR"):
        monkeypatch.delenv(name, raising=False)


def test_no_setting_or_a_path_keeps_sqlite(tmp_path):
    config = load_config(tmp_path)
    assert config.database_url is None and config.database == tmp_path / "acacia.db"
    config = load_config(tmp_path, database=str(tmp_path / "other.db"))
    assert config.database_url is None and config.database == tmp_path / "other.db"
    assert config.describe()["database"] == str(tmp_path / "other.db") and config.lease == DEFAULT_LEASE


def test_a_url_selects_postgresql_and_is_shown_without_its_password(tmp_path, monkeypatch):
    monkeypatch.setenv("ACACIA_DATABASE", "postgresql://acacia:s3cret@db.example:6543/jobs?sslmode=require")
    config = load_config(tmp_path)
    assert config.database_url is not None and is_postgres_url(config.database_url)
    assert config.describe()["database"] == "postgresql://acacia@db.example:6543/jobs?sslmode=require"
    assert "s3cret" not in repr(config.describe())
    assert redact_url("postgres://u@/db?host=/run/pg&port=5433&password=x") == "postgresql://u@/db?host=/run/pg&port=5433"
    assert load_config(tmp_path, database=str(tmp_path / "x.db")).database_url is None  # the option wins


@pytest.mark.parametrize("value", ["postgresql://x:y@[::1/oops", "host=db dbname=jobs user=me"])
def test_a_bad_database_value_is_one_clear_error_without_the_secret(tmp_path, value):
    with pytest.raises(InvalidOptionError) as caught:
        load_config(tmp_path, database=value)
    assert "y@" not in str(caught.value) and caught.value.code == "invalid_option"


def test_the_lease_comes_from_the_option_or_the_environment(tmp_path, monkeypatch):
    assert load_config(tmp_path, lease=2).lease == 2.0
    monkeypatch.setenv("ACACIA_LEASE", "7.5")
    assert load_config(tmp_path).lease == 7.5
    for bad in ("abc", "0.5", "99999"):
        monkeypatch.setenv("ACACIA_LEASE", bad)
        with pytest.raises(InvalidOptionError):
            load_config(tmp_path)


def test_the_settings_dialogs_database_is_used_unless_the_flag_or_the_environment_names_one(tmp_path):
    """app.with_stored_database, in a process of its own with its own XDG_CONFIG_HOME (QSettings
    keeps its paths per process): the stored URL is taken; --database and $ACACIA_DATABASE win."""
    script = (
        "import os\n"
        "from PySide6.QtCore import QCoreApplication\n"
        "app = QCoreApplication([])\n"
        "from acacia_gui.app import with_stored_database\n"
        "from acacia_gui.config import AppOptions\n"
        "from acacia_gui.gui.dialogs.settings_database import DATABASE_KEY\n"
        "from acacia_gui.gui.window_state import default_settings\n"
        "s = default_settings(); s.setValue(DATABASE_KEY, 'postgresql://me@db.lan/acacia'); s.sync()\n"
        "print(with_stored_database(AppOptions()).database)\n"
        "print(with_stored_database(AppOptions(database='/tmp/x.db')).database)\n"
        "os.environ['ACACIA_DATABASE'] = 'postgresql://env@db/acacia'\n"
        "print(with_stored_database(AppOptions()).database)\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "ACACIA_DATABASE"}
    env.update(XDG_CONFIG_HOME=str(tmp_path / "config"), QT_QPA_PLATFORM="offscreen")
    out = subprocess.run([sys.executable, "-c", script], env=env, capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["postgresql://me@db.lan/acacia", "/tmp/x.db", "None"]
