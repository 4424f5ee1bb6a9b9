"""The plugin loader: a plugin folder (and the `acacia.handlers` entry points) → LoadReport.

Each `*.py` file and each package folder in the plugin folder is one plugin, imported
under a private module name (`acacia_plugins._<name>_<hash>_<generation>`) straight from
its file, without touching `sys.path`. A plugin declares handlers with `@handler` and/or
a module-level `register(registry)`. A plugin loads completely or not at all: whatever
goes wrong (syntax error, import error, SystemExit, a bad option or schema, a job type
another plugin already took) becomes a PluginProblem and the other plugins still load.

Plugin code is compiled from source every time and never cached as bytecode, so a
reload always runs what is on disk and nobody can slip in a stale or forged .pyc. Each
file is opened once and checked on its open descriptor, and the bytes that run are the
bytes read from it (safe_files.py: who may write a plugin, and symlinks).

Nothing here imports Qt: the CLI uses it for `acacia handlers` without an app.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.machinery
import importlib.metadata
import importlib.resources
import importlib.util
import itertools
import logging
import os
import re
import shutil
import sys
import traceback
import types
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..core.errors import DuplicateHandlerError, PluginError
from ..core.registry import RegisteredHandler, make_registered_handler
from .api import HANDLER_MARK
from .safe_files import Snapshot, SnapshotLoader, UnsafePlugin, install_finders, open_folder, read_plugin

log = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "acacia.handlers"
MODULE_PREFIX = "acacia_plugins"
_generations = itertools.count(1)  # new module names on every load, so a reload re-imports


@dataclass(frozen=True)
class PluginInfo:
    """A plugin that loaded: where it came from and the job types it provides."""

    name: str
    path: str
    handlers: tuple[str, ...]
    source: str  # "folder" | "entry point"

    def to_dict(self) -> dict[str, Any]:
        return {"name": self.name, "path": self.path, "handlers": list(self.handlers), "source": self.source}


@dataclass(frozen=True)
class PluginProblem:
    """A plugin that was skipped, and why (message is one line; traceback may be None)."""

    plugin: str
    path: str
    message: str
    traceback: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"plugin": self.plugin, "path": self.path, "message": self.message, "traceback": self.traceback}


@dataclass
class LoadReport:
    """Everything one load produced; `handlers` is ready for Registry.replace_all()."""

    handlers: dict[str, RegisteredHandler] = field(default_factory=dict)
    plugins: list[PluginInfo] = field(default_factory=list)
    problems: list[PluginProblem] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: the shape of `acacia handlers --json` and the socket's answer."""
        return {
            "handlers": [self.handlers[t].describe() for t in sorted(self.handlers)],
            "plugins": [p.to_dict() for p in self.plugins],
            "problems": [p.to_dict() for p in self.problems],
        }


class PluginRegistrar:
    """The Registry-like object a plugin's `register(registry)` receives.

    It only records into this plugin's own set, so a plugin that fails halfway leaves
    nothing behind and plugins cannot unregister each other's handlers.
    """

    def __init__(self, plugin: str, origin: str = "", *, check_schemas: bool = True) -> None:
        self.plugin = plugin
        self.check_schemas = check_schemas  # a worker process skips it: the app checked, and jsonschema costs memory
        self.origin = origin  # how a worker process loads this plugin again (see load_origin)
        self.handlers: dict[str, RegisteredHandler] = {}

    def register_handler(self, job_type: str, handler: Any, **options: Any) -> RegisteredHandler:
        """Same contract as Registry.register_handler: raises InvalidJobError/DuplicateHandlerError."""
        entry = make_registered_handler(job_type, handler, **options)
        self.add(entry)
        return entry

    def handler(self, job_type: str, **options: Any) -> Callable[[Any], Any]:
        """Decorator form: `@registry.handler("x.y", title=…)` inside register()."""
        def decorate(func: Any) -> Any:
            self.register_handler(job_type, func, **options)
            return func

        return decorate

    def add(self, entry: RegisteredHandler) -> None:
        if entry.job_type in self.handlers:
            raise DuplicateHandlerError(f"job type {entry.job_type!r} is declared twice in this plugin")
        if entry.schema is not None and self.check_schemas:
            from .schema import check_schema  # only here: a worker process never imports jsonschema

            check_schema(entry.schema, job_type=entry.job_type)
        origin = self.origin if self.origin.startswith("file:") or not entry.origin else entry.origin
        self.handlers[entry.job_type] = dataclasses.replace(entry, plugin=self.plugin, origin=origin or self.origin)

    def get_handler(self, job_type: str) -> RegisteredHandler | None:
        return self.handlers.get(job_type)

    def job_types(self) -> list[str]:
        return sorted(self.handlers)


# -- public API -----------------------------------------------------------------------

def load_plugins(plugins_dir: Path, *, entry_points: bool = True) -> LoadReport:
    """Import every plugin in `plugins_dir` (and entry points) and collect their handlers.

    Never raises for a plugin's fault. A plugin folder that other users could write to is
    refused as a whole (one problem, no folder plugins). Call again to reload: changed
    files are re-imported and the previous generation's modules are dropped from
    sys.modules (a still-running old handler keeps working, but a lazy relative import
    inside it would then fail).
    """
    report = LoadReport()
    plugins_dir = Path(plugins_dir).expanduser()
    if plugins_dir.exists():
        _load_folder(plugins_dir.resolve(), report)
    if entry_points:
        _load_entry_points(report)
    for problem in report.problems:
        log.warning("plugin %s skipped: %s", problem.plugin, problem.message)
    return report


def ensure_plugin_dir(plugins_dir: Path, examples_dir: Path | None) -> bool:
    """On first run create `plugins_dir` (mode 0o700) with the example plugins in it.

    Returns True if it created the folder; an existing folder is left untouched, so
    examples a user deleted do not come back.
    """
    plugins_dir = Path(plugins_dir).expanduser()
    if plugins_dir.exists():
        return False
    plugins_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        plugins_dir.mkdir(mode=0o700)
    except FileExistsError:  # another instance won the race
        return False
    os.chmod(plugins_dir, 0o700)  # mkdir's mode is filtered by the umask
    if examples_dir is not None and examples_dir.is_dir():
        for example in sorted(examples_dir.glob("*.py")):
            if example.name.startswith(("_", ".")):
                continue
            target = plugins_dir / example.name
            shutil.copyfile(example, target)
            os.chmod(target, 0o600)
    return True


def examples_dir() -> Path | None:
    """Where the example plugins live: inside the installed package, else the source tree."""
    try:
        packaged = importlib.resources.files("acacia_gui") / "resources" / "plugins"
        if packaged.is_dir():
            return Path(str(packaged))
    except (ModuleNotFoundError, OSError, TypeError):
        pass
    repo = Path(__file__).resolve().parents[2] / "resources" / "plugins"
    return repo if repo.is_dir() else None


def load_origin(origin: str) -> dict[str, RegisteredHandler]:
    """Load one plugin again from a handler's `origin` (in a worker process): its handlers by type.

    A folder plugin passes the same ownership and permission checks as at the app's load.
    Raises what the plugin raises, or PluginError when the origin cannot be loaded."""
    kind, _, where = origin.partition(":")
    registrar = PluginRegistrar(where, origin, check_schemas=False)
    if kind == "file":
        path = Path(where)
        try:
            snapshot = _read_folder_plugin(path.parent, path.name)
        except UnsafePlugin as exc:
            raise PluginError(f"refused: {exc}") from None
        folder_key = hashlib.sha1(str(path.parent).encode(), usedforsecurity=False).hexdigest()[:10]
        _import_folder_plugin(snapshot, folder_key, registrar)
    elif kind == "entry point":
        _import_entry_point(importlib.metadata.EntryPoint("", where, ENTRY_POINT_GROUP), registrar)
    else:
        raise PluginError(f"cannot load a plugin from {origin!r}")
    return registrar.handlers


# -- the plugin folder ----------------------------------------------------------------

def _load_folder(plugins_dir: Path, report: LoadReport) -> None:
    if not plugins_dir.is_dir():
        report.problems.append(PluginProblem(plugins_dir.name, str(plugins_dir), "the plugin folder is not a folder"))
        return
    folder_key = hashlib.sha1(str(plugins_dir).encode(), usedforsecurity=False).hexdigest()[:10]
    _forget_folder_modules(folder_key)  # unload the previous generation, deleted plugins included
    try:
        folder_fd = open_folder(plugins_dir)
    except UnsafePlugin as exc:
        report.problems.append(PluginProblem(plugins_dir.name, str(plugins_dir), f"refused to load any plugin: {exc}"))
        return
    try:
        for path in _plugin_paths(plugins_dir):
            try:
                snapshot = read_plugin(folder_fd, plugins_dir, path.name)
            except (UnsafePlugin, OSError) as exc:
                report.problems.append(PluginProblem(path.name, str(path), f"refused: {exc}"))
                continue
            _add_plugin(report, path.name, str(path), "folder",
                        lambda reg, s=snapshot: _import_folder_plugin(s, folder_key, reg), origin=f"file:{path}")
    finally:
        os.close(folder_fd)


def _read_folder_plugin(plugins_dir: Path, name: str) -> Snapshot:
    """One plugin's checked source, the plugin folder checked too (a worker process's load)."""
    folder_fd = open_folder(plugins_dir)
    try:
        return read_plugin(folder_fd, plugins_dir, name)
    except OSError as exc:
        raise UnsafePlugin(f"cannot read {plugins_dir / name}: {exc.strerror or exc}") from None
    finally:
        os.close(folder_fd)


def _plugin_paths(plugins_dir: Path) -> Iterator[Path]:
    """`*.py` files and package folders, sorted by name; `_x` and `.x` are skipped."""
    for path in sorted(plugins_dir.iterdir(), key=lambda p: p.name):
        if path.name.startswith(("_", ".")):
            continue
        if path.is_file() and path.suffix == ".py":
            yield path
        elif path.is_dir() and (path / "__init__.py").is_file():
            yield path


def _import_folder_plugin(snapshot: Snapshot, folder_key: str, registrar: PluginRegistrar) -> None:
    """Import one file or package under a fresh private name, from the bytes read and checked
    earlier (never from the file again), and collect its handlers."""
    path = snapshot.path
    stem = re.sub(r"[^0-9A-Za-z_]", "_", path.name if snapshot.is_package else path.stem)
    name = f"{MODULE_PREFIX}._{stem}_{folder_key}_{next(_generations)}"
    _ensure_namespace()
    top = snapshot.modules[""]
    if snapshot.is_package:
        spec = importlib.util.spec_from_file_location(
            name, top.path, loader=SnapshotLoader(top), submodule_search_locations=[install_finders(snapshot)]
        )
    else:
        spec = importlib.util.spec_from_file_location(name, top.path, loader=SnapshotLoader(top))
    if spec is None or spec.loader is None:
        raise ImportError(f"cannot import {path}")
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
        _collect(module, registrar)
    except BaseException:
        _forget_modules(name)
        raise


def _ensure_namespace() -> None:
    """An empty parent package, so tools that look up a plugin's parent module find one."""
    if MODULE_PREFIX not in sys.modules:
        parent = types.ModuleType(MODULE_PREFIX, "Acacia's folder plugins (private names, not on sys.path).")
        parent.__path__ = []
        sys.modules[MODULE_PREFIX] = parent


def _forget_modules(name: str) -> None:
    """Drop a plugin module and its submodules from sys.modules."""
    for key in [k for k in list(sys.modules) if k == name or k.startswith(name + ".")]:
        sys.modules.pop(key, None)


def _forget_folder_modules(folder_key: str) -> None:
    """Drop every module an earlier load imported from the folder with this key."""
    pattern = re.compile(rf"^{re.escape(MODULE_PREFIX)}\._\w*_{folder_key}_\d+(\.|$)")
    for key in [k for k in list(sys.modules) if pattern.match(k)]:
        sys.modules.pop(key, None)


# -- entry points -----------------------------------------------------------------------

def _load_entry_points(report: LoadReport) -> None:
    seen: set[tuple[str, str]] = set()
    try:
        found = sorted(importlib.metadata.entry_points(group=ENTRY_POINT_GROUP), key=lambda e: (e.name, e.value))
    except Exception as exc:  # noqa: BLE001 - a broken installed distribution must not stop the app
        report.problems.append(PluginProblem("entry points", ENTRY_POINT_GROUP, f"cannot list entry points: {exc}"))
        return
    for ep in found:
        if (ep.name, ep.value) in seen:
            continue
        seen.add((ep.name, ep.value))
        dist = getattr(ep, "dist", None)
        name = f"{dist.name}:{ep.name}" if dist is not None else ep.name
        _add_plugin(report, name, ep.value, "entry point", lambda reg, e=ep: _import_entry_point(e, reg),
                    origin=f"entry point:{ep.value}")


def _import_entry_point(ep: importlib.metadata.EntryPoint, registrar: PluginRegistrar) -> None:
    target = ep.load()
    if isinstance(target, types.ModuleType):
        _collect(target, registrar)
    elif callable(target):
        target(registrar)
    else:
        raise TypeError(f"entry point {ep.value!r} is neither a module nor a register(registry) function")


# -- shared ---------------------------------------------------------------------------

def _add_plugin(report: LoadReport, name: str, path: str, source: str,
                load: Callable[[PluginRegistrar], None], origin: str = "") -> None:  # fmt: skip
    """Run `load`; keep its handlers only if it and every check succeeded."""
    registrar = PluginRegistrar(name, origin)
    try:
        load(registrar)
    except BaseException as exc:  # noqa: BLE001 - plugin code may raise anything, SystemExit included
        report.problems.append(PluginProblem(name, path, _failure_message(exc), traceback.format_exc()))
        return
    for job_type in registrar.handlers:
        taken = report.handlers.get(job_type)
        if taken is not None:
            message = f"job type {job_type!r} is already provided by plugin {taken.plugin!r}; this plugin was skipped"
            report.problems.append(PluginProblem(name, path, message))
            return
    report.handlers.update(registrar.handlers)
    report.plugins.append(PluginInfo(name, path, tuple(sorted(registrar.handlers)), source))


def _collect(module: types.ModuleType, registrar: PluginRegistrar) -> None:
    """@handler-marked callables in the module's namespace, then its register(registry)."""
    seen: set[int] = set()
    for value in list(vars(module).values()):
        try:
            marks = getattr(value, HANDLER_MARK, None)
        except Exception:  # noqa: BLE001 - a hostile __getattr__ just means: not a handler
            continue
        if not isinstance(marks, list):
            continue
        for entry in marks:
            if isinstance(entry, RegisteredHandler) and id(entry) not in seen:
                seen.add(id(entry))
                registrar.add(entry)
    register = vars(module).get("register")
    if register is not None:
        if not callable(register):
            raise TypeError("the module-level name 'register' must be a function register(registry)")
        register(registrar)


def _failure_message(exc: BaseException) -> str:
    what = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
    if isinstance(exc, SystemExit):
        return f"the plugin called sys.exit() ({what})"
    if isinstance(exc, KeyboardInterrupt):
        return f"the plugin raised {what}"
    return what
