"""Read a plugin's source safely: check what is opened, then load exactly those bytes.

Each file and folder is opened once, without following a symlink (`O_NOFOLLOW`, relative
to its already-checked parent folder's descriptor), and the open descriptor is checked
with `fstat`: owned by us or root, and not writable by group or others. The plugin's
source is then read from that same descriptor, so a file swapped after the check is never
the one that runs (ssh's StrictModes and sudo check this way).

A symlink (a plugin file, a package folder, or anything inside a package) is allowed only
if its resolved target passes the same checks, and so does every folder from `/` down to
the target — except that a root-owned folder with the sticky bit (`/tmp`) may be writable
by others, since nobody else can rename or delete our entries in it. The target is opened
walking down from `/` one checked descriptor at a time, so a symlink swapped in on the way
is refused, not followed.

Nothing here imports Qt. POSIX checks; elsewhere the bytes are read without them.
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import os
import stat
import sys
import types
from dataclasses import dataclass
from pathlib import Path

_POSIX = os.name == "posix"
_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0) | getattr(os, "O_NONBLOCK", 0)
_DIRECTORY = getattr(os, "O_DIRECTORY", 0)


class UnsafePlugin(Exception):
    """A plugin file or folder that others could change, or that cannot be checked (one line)."""


def mode_reason(st: os.stat_result, path: Path | str, what: str, *, sticky_ok: bool = False) -> str | None:
    """Why other users could change what `st` describes, or None."""
    if not _POSIX:
        return None
    if st.st_mode & 0o022 and not (sticky_ok and st.st_uid == 0 and st.st_mode & stat.S_ISVTX):
        whom = "group and others" if st.st_mode & 0o022 == 0o022 else ("others" if st.st_mode & 0o002 else "group")
        return f"the {what} {path} is writable by {whom} (mode {st.st_mode & 0o777:o}); run: chmod go-w {path}"
    if st.st_uid not in (0, os.geteuid()):
        return f"the {what} {path} is owned by another user (uid {st.st_uid}); only your own plugins are loaded"
    return None


def open_folder(path: Path, what: str = "plugin folder") -> int:
    """Open and check the plugin folder itself. Raises UnsafePlugin."""
    try:
        fd = os.open(path, os.O_RDONLY | _DIRECTORY | getattr(os, "O_CLOEXEC", 0))
    except OSError as exc:
        raise UnsafePlugin(f"cannot check the {what} {path}: {exc.strerror or exc}") from None
    return _checked(fd, path, what, directory=True)


@dataclass(frozen=True)
class PluginSource:
    """One module's source as read from its checked descriptor."""

    path: str  # where it was read (a symlink's resolved target): the code's filename
    data: bytes
    package: bool  # an __init__.py (or a folder without one)


@dataclass
class Snapshot:
    """A plugin's modules by dotted name relative to the plugin ("" is the plugin itself)."""

    path: Path  # the file, or the package folder (resolved when it is a symlink)
    modules: dict[str, PluginSource]

    @property
    def is_package(self) -> bool:
        return self.modules[""].package


def read_plugin(folder_fd: int, folder: Path, name: str) -> Snapshot:
    """Read plugin `name` (a .py file or a package folder) from the checked plugin folder.

    Raises UnsafePlugin when any file or folder in it fails the checks."""
    st = _lstat(folder_fd, folder / name)
    is_dir = stat.S_ISDIR(st.st_mode) or (stat.S_ISLNK(st.st_mode) and (folder / name).is_dir())
    fd, path = _open_child(folder_fd, folder, name, directory=is_dir, what="plugin folder" if is_dir else "plugin file")
    try:
        if not is_dir:
            return Snapshot(path, {"": PluginSource(str(path), _read_all(fd), False)})
        modules: dict[str, PluginSource] = {}
        _read_package(fd, path, "", modules)
        if "" not in modules:
            raise UnsafePlugin(f"the plugin package {path} has no __init__.py")
        return Snapshot(path, modules)
    finally:
        os.close(fd)


def _read_package(dir_fd: int, dir_path: Path, prefix: str, out: dict[str, PluginSource]) -> None:
    out[prefix] = PluginSource(str(dir_path / "__init__.py"), b"", True)  # a folder without __init__.py: empty package
    for name in sorted(os.listdir(dir_fd)):
        if name == "__pycache__":
            continue
        try:
            st = os.stat(name, dir_fd=dir_fd)  # what it is (the open below checks what it really is)
        except OSError:
            continue  # a dangling symlink: nothing to import
        dotted = f"{prefix}.{name}" if prefix else name
        if stat.S_ISDIR(st.st_mode):
            if not name.isidentifier():
                continue
            fd, path = _open_child(dir_fd, dir_path, name, directory=True, what="plugin folder")
            try:
                _read_package(fd, path, dotted, out)
            finally:
                os.close(fd)
        elif name.endswith(".py") and stat.S_ISREG(st.st_mode):
            fd, path = _open_child(dir_fd, dir_path, name, directory=False, what="plugin file")
            try:
                data = _read_all(fd)
            finally:
                os.close(fd)
            if name == "__init__.py":
                out[prefix] = PluginSource(str(path), data, True)
            else:
                out[dotted[:-3]] = PluginSource(str(path), data, False)


def _lstat(dir_fd: int, path: Path) -> os.stat_result:
    try:
        return os.stat(path.name, dir_fd=dir_fd, follow_symlinks=False)
    except OSError as exc:
        raise UnsafePlugin(f"cannot check {path}: {exc.strerror or exc}") from None


def _open_child(dir_fd: int, dir_path: Path, name: str, *, directory: bool, what: str) -> tuple[int, Path]:
    """Open `name` in the checked folder `dir_fd`; a symlink only through its checked target."""
    path = dir_path / name
    if stat.S_ISLNK(_lstat(dir_fd, path).st_mode):
        return _open_resolved(path, directory=directory, what=what)
    return _open_at(dir_fd, name, path, directory=directory, what=what), path


def _open_resolved(link: Path, *, directory: bool, what: str) -> tuple[int, Path]:
    """A symlink's target, opened from `/` down with every folder on the way checked."""
    target = Path(os.path.realpath(link))
    try:
        fd = open_folder(Path(target.anchor), "folder")
    except UnsafePlugin as exc:
        raise UnsafePlugin(f"the symlink {link} leads through an unsafe place: {exc}") from None
    here = Path(target.anchor)
    try:
        for part in target.parts[1:-1]:
            here = here / part
            next_fd = _open_at(fd, part, here, directory=True, what="folder", sticky_ok=True)
            os.close(fd)
            fd = next_fd
        return _open_at(fd, target.name, target, directory=directory, what=what), target
    except UnsafePlugin as exc:
        raise UnsafePlugin(f"the symlink {link} leads through an unsafe place: {exc}") from None
    finally:
        os.close(fd)


def _open_at(dir_fd: int, name: str, path: Path, *, directory: bool, what: str, sticky_ok: bool = False) -> int:
    try:
        fd = os.open(name, _FLAGS | (_DIRECTORY if directory else 0), dir_fd=dir_fd)
    except OSError as exc:  # ELOOP/ENOTDIR: it became a symlink since we looked; refused, never followed
        raise UnsafePlugin(f"cannot check the {what} {path}: {exc.strerror or exc}") from None
    return _checked(fd, path, what, directory=directory, sticky_ok=sticky_ok)


def _checked(fd: int, path: Path, what: str, *, directory: bool, sticky_ok: bool = False) -> int:
    try:
        st = os.fstat(fd)
        if directory and not stat.S_ISDIR(st.st_mode):
            raise UnsafePlugin(f"the {what} {path} is not a folder")
        if not directory and not stat.S_ISREG(st.st_mode):
            raise UnsafePlugin(f"the {what} {path} is not a regular file")
        reason = mode_reason(st, path, what, sticky_ok=sticky_ok)
        if reason:
            raise UnsafePlugin(reason)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _read_all(fd: int) -> bytes:
    chunks = []
    while chunk := os.read(fd, 1 << 20):
        chunks.append(chunk)
    return b"".join(chunks)


# -- importing from a snapshot ------------------------------------------------------------

class SnapshotLoader(importlib.abc.Loader):
    """Executes a module from bytes read earlier: never reads the file again, no bytecode."""

    def __init__(self, source: PluginSource) -> None:
        self.source = source

    def create_module(self, spec: importlib.machinery.ModuleSpec) -> types.ModuleType | None:
        return None

    def exec_module(self, module: types.ModuleType) -> None:
        code = compile(self.source.data, self.source.path, "exec", dont_inherit=True)
        exec(code, module.__dict__)  # running the plugin is the point


class SnapshotFinder:
    """A path-entry finder for one package folder of a snapshot (sys.path_importer_cache)."""

    def __init__(self, snapshot: Snapshot, prefix: str, folder: str) -> None:
        self.snapshot, self.prefix, self.folder = snapshot, prefix, folder

    def find_spec(self, fullname: str, target: object = None) -> importlib.machinery.ModuleSpec | None:
        tail = fullname.rpartition(".")[2]
        key = f"{self.prefix}.{tail}" if self.prefix else tail
        source = self.snapshot.modules.get(key)
        if source is None:
            return None
        spec = importlib.machinery.ModuleSpec(fullname, SnapshotLoader(source), origin=source.path,
                                              is_package=source.package)  # fmt: skip
        spec.has_location = True
        if source.package:
            spec.submodule_search_locations = [install_finders(self.snapshot, key)]
        return spec

    def invalidate_caches(self) -> None:
        pass


def install_finders(snapshot: Snapshot, prefix: str = "") -> str:
    """Register the finder for package `prefix` of the snapshot; returns its __path__ entry."""
    source = snapshot.modules[prefix]
    folder = str(Path(source.path).parent)
    sys.path_importer_cache[folder] = SnapshotFinder(snapshot, prefix, folder)  # type: ignore[assignment]
    return folder
