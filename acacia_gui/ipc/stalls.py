"""The socket's side of stalled jobs: the `stalled` field of `get` (and `show`); the `kill` and
`extend` ops call core.stalls, as the window's actions do."""

from __future__ import annotations

from typing import Any

from ..core.stalls import extend_stall as extend_stall
from ..core.stalls import kill_job as kill_job


def stalled_field(stall: dict[str, Any] | None) -> dict[str, float] | None:
    """`get`'s and `show`'s `stalled`: null, or {"since": epoch seconds, "for": seconds}."""
    if stall is None:
        return None
    return {"since": stall["since"], "for": stall["for"]}
