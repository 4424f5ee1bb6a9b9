"""Where things live: data dir, database, plugin dir, socket address — and the durability level.

Precedence for each path: command-line option, then environment variable, then the
platform default from platformdirs (the maintained successor of appdirs, same API).

The database (`--database`, $ACACIA_DATABASE): nothing or a plain path keeps SQLite (the
file, by default `<data dir>/acacia.db`); a `postgresql://` (or `postgres://`) URL puts the
store on that PostgreSQL database, shared by every instance pointed at it. The URL is only
ever shown without its password (`shown_database`): logs, `acacia info`, errors.
"""

from __future__ import annotations

import hashlib
import os
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import platformdirs

from .core.definitions import DEFAULT_MAX_LINE_BYTES
from .core.durations import FOREVER, RetentionPolicy, parse_keep
from .core.errors import InvalidOptionError

APP_NAME = "acacia"
DURABILITY_LEVELS = ("normal", "full")
POSTGRES_SCHEMES = ("postgresql://", "postgres://")
DEFAULT_LEASE = 30.0  # seconds: a PostgreSQL instance whose heartbeat is older counts as dead (store/postgres/liveness.py)
MIN_LEASE, MAX_LEASE = 1.0, 3600.0


def is_postgres_url(value: str | None) -> bool:
    return bool(value) and str(value).strip().lower().startswith(POSTGRES_SCHEMES)


def redact_url(url: str) -> str:
    """A PostgreSQL URL without its password (psycopg's conninfo parser; libpq options such as
    sslmode are kept). A URL that does not parse raises InvalidOptionError, naming no secret."""
    from psycopg import ProgrammingError, conninfo  # only when a URL is given: plain commands stay light

    try:
        params = conninfo.conninfo_to_dict(url)
    except ProgrammingError:
        raise InvalidOptionError("--database: not a valid PostgreSQL URL (postgresql://[user@]host[:port]/dbname"
                                 "[?option=value…])") from None  # fmt: skip
    params.pop("password", None)
    user = params.pop("user", None)
    host = params.pop("host", None) or ""
    port = params.pop("port", None)
    dbname = params.pop("dbname", None) or ""
    from urllib.parse import quote, urlencode

    if host.startswith("/"):  # a Unix-socket folder: as an option, as libpq writes it
        params["host"], host = host, ""
        if port:
            params["port"], port = port, None
    netloc = (f"{quote(str(user))}@" if user else "") + host + (f":{port}" if port else "")
    query = urlencode(sorted((k, str(v)) for k, v in params.items()), safe="/")
    return f"postgresql://{netloc}/{quote(str(dbname))}" + (f"?{query}" if query else "")


@dataclass(frozen=True)
class Config:
    data_dir: Path
    plugins_dir: Path
    durability: str = "normal"
    database_setting: str | None = None  # --database / $ACACIA_DATABASE as given: a path or a PostgreSQL URL
    lease: float = DEFAULT_LEASE  # PostgreSQL: --lease / $ACACIA_LEASE

    @property
    def database_url(self) -> str | None:
        """The PostgreSQL URL (with its password: never print it; see shown_database), or None for SQLite."""
        return self.database_setting if is_postgres_url(self.database_setting) else None

    @property
    def database(self) -> Path:
        """The SQLite file (also the default when a URL is set: the data dir's own files sit next to it)."""
        if self.database_setting and not self.database_url:
            return Path(self.database_setting).expanduser().absolute()
        return self.data_dir / "acacia.db"

    @property
    def shown_database(self) -> str:
        """What to print for the database: the file, or the URL without its password."""
        return redact_url(self.database_url) if self.database_url else str(self.database)

    @property
    def socket_address(self) -> str:
        return socket_address_for(self.data_dir)

    @property
    def instances_dir(self) -> Path:
        return self.data_dir / "instances"

    def describe(self) -> dict[str, str]:
        return {
            "data_dir": str(self.data_dir),
            "database": self.shown_database,
            "plugins_dir": str(self.plugins_dir),
            "socket": self.socket_address,
            "durability": self.durability,
        }


def load_config(data_dir: str | os.PathLike[str] | None = None, plugins_dir: str | os.PathLike[str] | None = None,
                durability: str | None = None, database: str | None = None, lease: float | None = None) -> Config:  # fmt: skip
    """Resolve the paths (without creating anything). A bad database URL or lease raises InvalidOptionError."""
    data = Path(data_dir or os.environ.get("ACACIA_DATA_DIR") or platformdirs.user_data_dir(APP_NAME, appauthor=False))
    data = data.expanduser().absolute()
    plugins = plugins_dir or os.environ.get("ACACIA_PLUGINS_DIR") or data / "plugins"
    level = (durability or os.environ.get("ACACIA_DURABILITY") or "normal").lower()
    if level not in DURABILITY_LEVELS:
        raise InvalidOptionError(f"durability must be 'normal' or 'full', got {level!r}")
    setting = (str(database) if database else os.environ.get("ACACIA_DATABASE") or "").strip() or None
    if is_postgres_url(setting):
        redact_url(setting)  # parses, or says why not (exit 2)
    elif setting and any(f"{key}=" in setting for key in ("dbname", "host", "user", "sslmode")):
        raise InvalidOptionError("--database: write the PostgreSQL connection as a URL, "
                                 "postgresql://user@host[:port]/dbname[?option=value…], not as key=value pairs")  # fmt: skip
    return Config(data_dir=data, plugins_dir=Path(plugins).expanduser().absolute(), durability=level,
                  database_setting=setting, lease=_lease(lease))  # fmt: skip


def _lease(value: float | None) -> float:
    if value is None:
        text = os.environ.get("ACACIA_LEASE", "").strip()
        if not text:
            return DEFAULT_LEASE
        try:
            value = float(text)
        except ValueError:
            raise InvalidOptionError(f"ACACIA_LEASE must be a number of seconds, got {text[:40]!r}") from None
    if not MIN_LEASE <= value <= MAX_LEASE:
        raise InvalidOptionError(f"the lease must be from {MIN_LEASE:g} to {MAX_LEASE:g} seconds, got {value:g}")
    return float(value)


def runtime_dir() -> Path:
    """One rule for sockets: $XDG_RUNTIME_DIR if set, else a private folder in the temp dir."""
    xdg = os.environ.get("XDG_RUNTIME_DIR")
    if xdg and Path(xdg).is_dir():
        return Path(xdg)
    uid = os.getuid() if hasattr(os, "getuid") else os.getlogin()
    return Path(tempfile.gettempdir()) / f"acacia-{uid}"


def socket_address_for(data_dir: Path) -> str:
    """A short, stable address per data directory (Unix socket paths are limited to ~104 bytes)."""
    digest = hashlib.sha256(str(data_dir).encode("utf-8")).hexdigest()[:16]
    if sys.platform == "win32":
        return f"acacia-{digest}"
    return str(runtime_dir() / f"acacia-{digest}.sock")


@dataclass(frozen=True)
class AppOptions:
    """What `acacia` / `acacia serve` pass to app.run()."""

    data_dir: str | None = None
    plugins_dir: str | None = None
    durability: str | None = None
    database: str | None = None  # a SQLite path or a PostgreSQL URL; None: $ACACIA_DATABASE, else <data dir>/acacia.db
    lease: float | None = None  # PostgreSQL heartbeat lease in seconds; None: $ACACIA_LEASE, else DEFAULT_LEASE
    workers: int | None = None  # default: the number of CPUs
    stop_timeout: float = 10.0  # seconds running jobs get to finish on a graceful stop
    headless: bool = False
    self_test: bool = False
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES  # the socket's request size limit
    keep_finished: str | None = None  # "30d" or "forever"; None: $ACACIA_KEEP_FINISHED, else the Settings dialog's
    keep_failed: str | None = None  # None: $ACACIA_KEEP_FAILED, else forever

    def config(self) -> Config:
        return load_config(self.data_dir, self.plugins_dir, self.durability, self.database, self.lease)

    def retention(self) -> tuple[RetentionPolicy, bool]:
        """The retention policy of this run, and whether the flag or the environment set how long
        finished jobs stay (then it wins over the Settings dialog for this run, like --workers).
        A bad value raises InvalidOptionError."""
        finished = self.keep_finished or os.environ.get("ACACIA_KEEP_FINISHED") or None
        failed = self.keep_failed or os.environ.get("ACACIA_KEEP_FAILED") or FOREVER
        policy = RetentionPolicy(keep_finished=parse_keep(finished) if finished else None, keep_failed=parse_keep(failed))
        return policy, finished is not None
