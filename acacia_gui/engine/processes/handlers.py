"""Finding a handler again inside a worker process, from the origin the app's registry recorded."""

from __future__ import annotations

import importlib
import traceback

from ...core.registry import RegisteredHandler, make_registered_handler
from ...plugins.api import HANDLER_MARK
from ...plugins.loader import load_origin


class HandlerCache:
    """origin → handlers, loaded once per process (a plugin reload replaces the process)."""

    def __init__(self) -> None:
        self._by_origin: dict[str, dict[str, RegisteredHandler] | str] = {}

    def get(self, origin: str, job_type: str) -> tuple[RegisteredHandler | None, str]:
        """The handler, or None and why not (one line, for the job's error)."""
        loaded = self._by_origin.get(origin)
        if loaded is None:
            loaded = self._by_origin[origin] = self._load(origin, job_type)
        if isinstance(loaded, str):
            return None, loaded
        handler = loaded.get(job_type)
        if handler is None:
            return None, f"the worker process loaded {origin.partition(':')[2]} but found no handler for {job_type!r} in it"
        return handler, ""

    @staticmethod
    def _load(origin: str, job_type: str) -> dict[str, RegisteredHandler] | str:
        try:
            if origin.startswith("module:"):
                _, module_name, qualname = origin.split(":", 2)
                target = importlib.import_module(module_name)
                for part in qualname.split("."):
                    target = getattr(target, part)
                marks = getattr(target, HANDLER_MARK, None)
                for entry in marks or ():
                    if isinstance(entry, RegisteredHandler) and entry.job_type == job_type:
                        return {job_type: entry}
                return {job_type: make_registered_handler(job_type, target)}
            return load_origin(origin)
        except BaseException as exc:  # noqa: BLE001 - plugin code may raise anything, SystemExit included
            last = traceback.format_exception_only(exc)[-1].strip()
            return f"could not load the handler in its worker process ({origin}): {last}"
