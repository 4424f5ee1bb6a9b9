"""What plugin authors import (through acacia_gui.jobs): the @handler decorator.

The decorator only marks the function; the loader finds marked functions in each
plugin module and registers them, so importing a plugin has no global side effects.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from ..core.registry import make_registered_handler

HANDLER_MARK = "__acacia_handlers__"
F = TypeVar("F", bound=Callable[..., Any])


def handler(job_type: str, **options: Any) -> Callable[[F], F]:
    """Declare `func(ctx, job)` as the handler of `job_type`.

    Options: title, description, queue, timeout, max_attempts, schema (a JSON schema of
    the payload), on_interrupt ('retry' or 'fail'), max_interruptions (app crashes a run
    may suffer before the job ends `interrupted`, default 3), retry_backoff (seconds);
    isolation ('process', the default: a supervised worker process; 'thread': inside the
    app), cancel_grace (seconds a cancelled handler gets before its process is killed,
    default 5), memory_limit (bytes or '512MB'), cpu_time_limit (seconds), nice (0-19),
    log_limit (bytes or '2MB' of log text stored per run, head and tail; default 1 MiB).
    rate_limit ('10/min', '3/2s': starts of this type over every queue and instance),
    max_running (jobs of this type running at once over every queue and instance),
    stall_after (seconds: a running job with no progress and no log line for that long is
    flagged stalled, with an event and a badge; it is not killed).
    Bad options raise at import, so the loader reports them against the plugin file.
    """
    def mark(func: F) -> F:
        entry = make_registered_handler(job_type, func, **options)
        marks = list(getattr(func, HANDLER_MARK, ()))
        marks.append(entry)
        try:
            setattr(func, HANDLER_MARK, marks)
        except AttributeError:  # e.g. a bound method or builtin: wrap it
            def wrapper(ctx: Any, job: Any) -> Any:
                return func(ctx, job)

            setattr(wrapper, HANDLER_MARK, marks)
            return wrapper  # type: ignore[return-value]
        return func

    return mark
