"""open_store: the one place that turns a database setting into a store.

A `postgresql://` (or `postgres://`) URL opens a PostgresJobStore (psycopg is imported only
then); anything else is a SQLite file path. Both create or upgrade their schema on opening
(`migrate=False` leaves a PostgreSQL schema alone) and refuse one written by a newer Acacia,
naming both versions.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from ..config import DEFAULT_LEASE, Config, is_postgres_url
from ..core.outputs import OUTPUTS_FOLDER


def open_store(database: str | os.PathLike[str], *, synchronous: str = "normal", lease: float = DEFAULT_LEASE,
               migrate: bool = True) -> Any:  # fmt: skip
    """SqliteJobStore for a path, PostgresJobStore for a PostgreSQL URL."""
    if is_postgres_url(str(database)):
        from .postgres.store import PostgresJobStore

        return PostgresJobStore(with_keepalives(str(database)), lease=lease, migrate=migrate)
    from .sqlite import SqliteJobStore

    return SqliteJobStore(Path(database), synchronous=synchronous)


def with_keepalives(url: str) -> str:
    """`url` with TCP keepalives (liveness.KEEPALIVES) unless it sets them itself: a connection
    to a server that vanished (a partition) fails in ~25 s instead of hanging for the system's
    TCP timeout (minutes). Returns a libpq key=value string; the password stays a parameter."""
    from psycopg import conninfo

    from .postgres.liveness import KEEPALIVES

    extra = {key: value for key, value in KEEPALIVES.items() if key not in conninfo.conninfo_to_dict(url)}
    return conninfo.make_conninfo(url, **extra) if extra else url


def open_config_store(config: Config, *, migrate: bool = True) -> Any:
    """The store `config` names (--database / $ACACIA_DATABASE, else the data dir's acacia.db), with
    its job output folders in the data dir (`outputs_root`; core/outputs.outputs_root_of), on both
    backends: a PostgreSQL store has no file whose folder could hold them."""
    store = open_store(config.database_url or config.database, synchronous=config.durability, lease=config.lease,
                       migrate=migrate)  # fmt: skip
    store.outputs_root = config.data_dir / OUTPUTS_FOLDER
    return store
