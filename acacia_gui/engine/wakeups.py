"""Wake-ups from other instances: what makes an idle Scheduler claim at once when another
process, on this machine or another, made work claimable.

The store says how (WorkerStore.listen_for_wakeups): PostgreSQL listens for NOTIFY on a
connection of its own (store/postgres/notify.py); SQLite has nothing to listen to, as the
poll's `PRAGMA data_version` read (engine/upkeep.py) sees other processes' commits.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any


def start_wakeups(store: Any, wake: Callable[[], None]) -> Callable[[], None]:
    """Listen for other instances' wake-ups, calling `wake` on the listening thread for each
    burst (thread-safe; the app passes PoolWorker.claim_here, which claims on that thread);
    returns the function that stops listening."""
    return store.listen_for_wakeups(wake)
