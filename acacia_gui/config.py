"""Where things live: data dir, database, plugin dir, socket address — and the durability level.

Precedence for each path: command-line option, then environment variable, then the
platform default from platformdirs (the maintained successor of appdirs, same API).
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


@dataclass(frozen=True)
class Config:
    data_dir: Path
    plugins_dir: Path
    durability: str = "normal"

    @property
    def database(self) -> Path:
        return self.data_dir / "acacia.db"

    @property
    def socket_address(self) -> str:
        return socket_address_for(self.data_dir)

    @property
    def instances_dir(self) -> Path:
        return self.data_dir / "instances"

    def describe(self) -> dict[str, str]:
        return {
            "data_dir": str(self.data_dir),
            "database": str(self.database),
            "plugins_dir": str(self.plugins_dir),
            "socket": self.socket_address,
            "durability": self.durability,
        }


def load_config(data_dir: str | os.PathLike[str] | None = None, plugins_dir: str | os.PathLike[str] | None = None,
                durability: str | None = None) -> Config:  # fmt: skip
    """Resolve the paths (without creating anything)."""
    data = Path(data_dir or os.environ.get("ACACIA_DATA_DIR") or platformdirs.user_data_dir(APP_NAME, appauthor=False))
    data = data.expanduser().absolute()
    plugins = plugins_dir or os.environ.get("ACACIA_PLUGINS_DIR") or data / "plugins"
    level = (durability or os.environ.get("ACACIA_DURABILITY") or "normal").lower()
    if level not in DURABILITY_LEVELS:
        raise InvalidOptionError(f"durability must be 'normal' or 'full', got {level!r}")
    return Config(data_dir=data, plugins_dir=Path(plugins).expanduser().absolute(), durability=level)


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
    workers: int | None = None  # default: the number of CPUs
    stop_timeout: float = 10.0  # seconds running jobs get to finish on a graceful stop
    headless: bool = False
    self_test: bool = False
    max_line_bytes: int = DEFAULT_MAX_LINE_BYTES  # the socket's request size limit
    keep_finished: str | None = None  # "30d" or "forever"; None: $ACACIA_KEEP_FINISHED, else the Settings dialog's
    keep_failed: str | None = None  # None: $ACACIA_KEEP_FAILED, else forever

    def config(self) -> Config:
        return load_config(self.data_dir, self.plugins_dir, self.durability)

    def retention(self) -> tuple[RetentionPolicy, bool]:
        """The retention policy of this run, and whether the flag or the environment set how long
        finished jobs stay (then it wins over the Settings dialog for this run, like --workers).
        A bad value raises InvalidOptionError."""
        finished = self.keep_finished or os.environ.get("ACACIA_KEEP_FINISHED") or None
        failed = self.keep_failed or os.environ.get("ACACIA_KEEP_FAILED") or FOREVER
        policy = RetentionPolicy(keep_finished=parse_keep(finished) if finished else None, keep_failed=parse_keep(failed))
        return policy, finished is not None
