"""instance_place: 'host:pid' of the instance that runs a job, for the details pane's header.

Read from store.instances() (the JobStore's recorded instances, both backends) and remembered:
an instance id names one process for ever, so a place once found never changes. An id the table
no longer knows (the instance stopped) is asked again at most every MISS_RETRY seconds, so a
header redrawn every second costs no read per redraw.
"""

from __future__ import annotations

import time
from typing import Any

MISS_RETRY = 10.0
KEPT = 512  # places remembered (ids of instances long gone are dropped first)

_places: dict[str, str] = {}
_misses: dict[str, float] = {}


def instance_place(store: Any, instance_id: str | None) -> str | None:
    """'host:pid' of `instance_id`, or None (no id, or the instances table no longer has it)."""
    if not instance_id:
        return None
    found = _places.get(instance_id)
    if found is not None:
        return found
    now = time.monotonic()
    if now - _misses.get(instance_id, -MISS_RETRY) < MISS_RETRY:
        return None
    try:
        rows = store.instances()
    except Exception:  # noqa: BLE001 - a failed read (database away) only leaves the line out
        rows = []
    for row in rows:
        _places[str(row["id"])] = f"{row['hostname']}:{row['pid']}"
    while len(_places) > KEPT:
        del _places[next(iter(_places))]
    found = _places.get(instance_id)
    if found is None:
        _misses[instance_id] = now
        while len(_misses) > KEPT:
            del _misses[next(iter(_misses))]
    return found
