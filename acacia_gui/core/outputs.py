"""A job's output folder and the files it registers (artifacts).

Why here: the engine (thread isolation), the worker process (process isolation), the
dispatcher and the CLI all need the same answers — where a job's folder is, what is
recorded about an artifact, and the one safe way to remove a folder — and none of them
may import another. Stdlib only.

A folder is `<data dir>/outputs/<job id>/`, mode 0700, made on first use of
`job.output_dir`, so a job that writes nothing leaves nothing behind.
"""

from __future__ import annotations

import os
import shutil
import stat
import tempfile
import time
from pathlib import Path
from typing import Any, Protocol

from .definitions import MAX_ARTIFACT_LABEL
from .errors import AcaciaError, InvalidOptionError

OUTPUTS_FOLDER = "outputs"
MAX_PATH_CHARS = 4096
MAX_KIND_CHARS = 16
FOLDER_SIZE_ENTRIES = 10_000  # entries a folder's size counts at most (a huge tree is not walked to the end)


class OutputFolderError(AcaciaError):
    """A job's output folder is not what Acacia made (a symlink, a file): it is left alone."""

    code = "output_folder"


class ArtifactSink(Protocol):
    """Where a running job's outputs go: the app (thread isolation) or the worker process's pipe."""

    root: Path

    def add(self, job_id: int, artifact: dict[str, Any]) -> None: ...


class LocalOutputs:
    """The sink of a job run outside Acacia (a handler called directly, as in a plugin's own
    tests): a fresh temporary root, and the artifacts kept here (`artifacts`) instead of a store."""

    def __init__(self) -> None:
        self.root = Path(tempfile.mkdtemp(prefix="acacia-outputs-"))
        self.artifacts: list[dict[str, Any]] = []

    def add(self, job_id: int, artifact: dict[str, Any]) -> None:
        self.artifacts.append(artifact)


def outputs_root_of(store: Any) -> Path | None:
    """The outputs root: `<data dir>/outputs`, None for a store with no folder to put it in.

    The data dir is the one the app or the CLI was given (`store.outputs_root`, set from
    config.data_dir by store/open.open_config_store), on both backends. A store opened without a
    config (tests, a plugin's own store) falls back to the folder of its SQLite file.

    On PostgreSQL the database is shared but the files are not: each machine's outputs live in
    its own data dir, on the machine that ran the job. A job's artifacts (the rows) are seen
    everywhere; their paths are only good on the machine that ran it, and `output_dir` (and
    `delete --outputs`, the pruner) mean this machine's folder for that job."""
    root = getattr(store, "outputs_root", None)
    if root is not None:
        return Path(root)
    path = getattr(store, "path", None)
    if not path or str(path) == ":memory:":
        return None
    return Path(path).parent / OUTPUTS_FOLDER


def output_dir_of(root: Path, job_id: int) -> Path:
    return root / str(int(job_id))


def _private_dir(path: Path) -> None:
    try:
        path.mkdir(mode=0o700)
    except FileExistsError:
        pass
    else:
        os.chmod(path, 0o700)  # whatever the umask
        return
    st = os.lstat(path)
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise OutputFolderError(f"{path} is not a folder Acacia made (a symlink or a file); it is left alone")


def ensure_output_dir(root: Path, job_id: int) -> Path:
    """The job's folder, created (0700, and the outputs root too) if missing."""
    _private_dir(root)
    folder = output_dir_of(root, job_id)
    _private_dir(folder)
    return folder


def _folder_size(path: Path) -> int:
    total, seen = 0, 0
    for dirpath, dirnames, filenames in os.walk(path):  # never follows symlinks to folders
        for name in filenames:
            seen += 1
            if seen > FOLDER_SIZE_ENTRIES:
                return total
            try:
                total += os.lstat(os.path.join(dirpath, name)).st_size
            except OSError:
                continue
        seen += len(dirnames)
    return total


def artifact_kind(path: Path, is_dir: bool) -> str:
    """A short type: "folder", the lower-case suffix ("sha256", "txt"), or "file"."""
    if is_dir:
        return "folder"
    return path.suffix[1:].lower()[:MAX_KIND_CHARS] or "file"


def describe_artifact(path: str | os.PathLike[str], label: str | None = None) -> dict[str, Any]:
    """Validate an artifact and measure it now: path (absolute), name, label, size, kind, at."""
    if label is not None and not isinstance(label, str):
        raise InvalidOptionError(f"an artifact's label must be text, got {type(label).__name__}")
    if label is not None and len(label) > MAX_ARTIFACT_LABEL:
        raise InvalidOptionError(f"an artifact's label must be at most {MAX_ARTIFACT_LABEL} characters, got {len(label)}")
    try:
        absolute = Path(os.path.abspath(os.fspath(path)))
    except TypeError:
        raise InvalidOptionError(f"an artifact's path must be a path, got {type(path).__name__}") from None
    if len(str(absolute)) > MAX_PATH_CHARS:
        raise InvalidOptionError(f"an artifact's path must be at most {MAX_PATH_CHARS} characters")
    try:
        st = os.stat(absolute)
    except (OSError, ValueError):
        raise InvalidOptionError(f"an artifact must exist (a file or a folder): {absolute} does not") from None
    is_dir = stat.S_ISDIR(st.st_mode)
    if not is_dir and not stat.S_ISREG(st.st_mode):
        raise InvalidOptionError(f"an artifact must be a file or a folder: {absolute} is neither")
    return {"path": str(absolute), "name": absolute.name, "label": label or None,
            "size": _folder_size(absolute) if is_dir else st.st_size, "kind": artifact_kind(absolute, is_dir),
            "at": time.time()}  # fmt: skip


def remove_output_dir(root: Path, job_id: int) -> bool:
    """Delete `<root>/<job id>` and what is in it; False when there is none.

    Only that folder itself: a symlink in its place (or a root that is a symlink) is
    refused with OutputFolderError, never followed; rmtree does not follow links inside."""
    if os.path.islink(root):
        raise OutputFolderError(f"{root} is a symlink; job output folders are not removed through it")
    folder = output_dir_of(root, job_id)
    try:
        st = os.lstat(folder)
    except FileNotFoundError:
        return False
    if stat.S_ISLNK(st.st_mode) or not stat.S_ISDIR(st.st_mode):
        raise OutputFolderError(f"{folder} is not a folder Acacia made (a symlink or a file); it was not removed")
    if os.path.realpath(folder) != os.path.join(os.path.realpath(root), folder.name):
        raise OutputFolderError(f"{folder} is not inside {root}; it was not removed")
    shutil.rmtree(folder)
    return True
