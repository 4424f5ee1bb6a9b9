"""JobFilter: what the filter bar selects, turned into the store's list_jobs/count_jobs arguments."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ...core.definitions import ACTIVE_STATES, FINAL_STATES, PROBLEM_STATES, JobState, state_names

STATE_NAMES = tuple(s.value for s in JobState)

# The filter bar's "state" choices: one state, or a group that users think in. Plain
# strings (state_names): they are saved in the window's settings.
STATE_GROUPS: dict[str, tuple[str, ...]] = {
    "active": state_names(ACTIVE_STATES),
    "finished": state_names(FINAL_STATES),
    "problems": state_names(PROBLEM_STATES),
}


@dataclass(frozen=True)
class JobFilter:
    """Empty fields mean "any"; `search` matches type, payload, error, progress message or the id."""

    states: tuple[str, ...] = ()
    queue: str | None = None
    type: str | None = None
    search: str = ""

    def store_kwargs(self) -> dict[str, Any]:
        return {
            "state": list(self.states) or None,
            "queue": self.queue or None,
            "type": self.type or None,
            "search": self.search.strip() or None,
        }

    @property
    def is_empty(self) -> bool:
        return not (self.states or self.queue or self.type or self.search.strip())

    def to_settings(self) -> dict[str, Any]:
        return {"states": list(self.states), "queue": self.queue or "", "type": self.type or "", "search": self.search}

    @classmethod
    def from_settings(cls, value: Any) -> JobFilter:
        """Tolerates anything (an old or hand-edited settings file): unknown parts are dropped."""
        if not isinstance(value, dict):
            return cls()
        states = value.get("states") or ()
        if isinstance(states, str):
            states = (states,)
        states = tuple(s for s in states if s in STATE_NAMES) if isinstance(states, list | tuple) else ()
        text = value.get("search")
        return cls(
            states=states,
            queue=str(value.get("queue") or "") or None,
            type=str(value.get("type") or "") or None,
            search=text if isinstance(text, str) else "",
        )
