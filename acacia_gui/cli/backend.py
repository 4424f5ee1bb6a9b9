"""Where a command's ops go: the running app's socket, or the database directly.

Both are an ipc OpsMixin (Client or LocalClient), so commands do not care which. The
direct path builds the same JobQueue + Dispatcher the app uses (source "cli"), so its
validation is the app's; jobs it queues run when the app next starts. With `--database URL`
the direct path works on that PostgreSQL database (what it queues runs on whichever instance
shares it); the local socket still comes first: each machine's CLI talks to its own app.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..config import Config
from ..ipc.client import Client, LocalClient, OpsMixin
from ..ipc.protocol import NotRunningError
from .output import echo


@dataclass
class Backend:
    ops: OpsMixin
    direct: bool
    config: Config

    def close(self) -> None:
        self.ops.close()  # type: ignore[attr-defined]

    def notice(self, what: str) -> None:
        """After a direct write/read succeeded: say that no app was involved (stderr, one line)."""
        if self.direct:
            where = f" (working on {self.config.shown_database} directly)" if self.config.database_url else ""
            echo(f"acacia: no app is running for data dir {self.config.data_dir}{where}; {what}", err=True)


def connect(config: Config, *, fallback: bool, plugins: bool = False, create: bool = False) -> Backend:
    """The app's socket if one answers; else (when allowed) the database. Raises NotRunningError.

    Without `create`, a data dir that has no database yet is not created by a mere read.
    """
    client = Client(config.socket_address, data_dir=config.data_dir)
    try:
        client.connect()
        return Backend(client, False, config)
    except NotRunningError as exc:
        if not fallback:
            raise
        if not create and config.database_url is None and not config.database.exists():
            raise NotRunningError(f"{exc} (and {config.database} does not exist yet)") from None
    return Backend(open_direct(config, plugins=plugins), True, config)


def open_direct(config: Config, *, plugins: bool) -> LocalClient:
    """A LocalClient on the database file; with `plugins`, the plugin folder is loaded for validation."""
    from ..core.definitions import Source
    from ..core.queue import JobQueue
    from ..core.registry import Registry
    from ..ipc.dispatch import Dispatcher, StandaloneServices
    from ..store.open import open_config_store

    registry = Registry()
    report: Any = None
    validator = None
    if plugins:
        from ..plugins.loader import load_plugins
        from ..plugins.schema import validate_payload

        report = load_plugins(config.plugins_dir)
        registry.replace_all(report.handlers)
        validator = validate_payload
    store = open_config_store(config)  # the SQLite file, or the PostgreSQL database of --database URL
    queue = JobQueue(store, registry, payload_validator=validator)
    dispatcher = Dispatcher(queue, StandaloneServices(config, report), source=Source.CLI)
    return LocalClient(dispatcher, on_close=store.close)
