"""`acacia instances`: the live app instances on the database, with their running jobs and last heartbeat.

Reads the database directly (both backends), whether or not an app runs here: on PostgreSQL
it lists every machine's instances (alive = its advisory lock held and a heartbeat within
the lease); on SQLite, this machine's (alive = its lock file held).
"""

from __future__ import annotations

import argparse
import json

from ..config import Config
from .output import echo
from .render import table


def cmd_instances(args: argparse.Namespace, config: Config) -> int:
    from ..store.instances import describe_instances
    from ..store.open import open_config_store

    if config.database_url is None and not config.database.exists():
        found: list[dict] = []
    else:
        store = open_config_store(config)
        try:
            found = describe_instances(store, config.instances_dir)
        finally:
            store.close()
    live = [entry for entry in found if entry["alive"]]
    if args.json:
        echo(json.dumps(live, ensure_ascii=False, allow_nan=False))
        return 0
    if not live:
        echo(f"no live instance on {config.shown_database}")
        return 0
    rows = [(f"{e['host']}:{e['pid']}", _ago(e["heartbeat_age"]), len(e["running"]),
             ", ".join(map(str, e["running"][:20])) + (" …" if len(e["running"]) > 20 else ""))
            for e in live]  # fmt: skip
    echo(table(["INSTANCE", "HEARTBEAT", "RUNNING", "JOBS"], rows))
    return 0


def _ago(age: float | None) -> str:
    return "?" if age is None else f"{age:.1f} s ago"
