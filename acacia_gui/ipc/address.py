"""The socket's folder and its peers: whom we trust, who may connect, is anybody listening.

Pure standard library, so the rules are testable without Qt: the server (qt/server.py)
calls these around QLocalServer, the client (ipc/client.py) before it sends a byte.

Trust, as ssh's StrictModes and PostgreSQL's data folder check it: the socket's folder
must be a real folder (not a link), owned by us and writable by nobody else, and every
folder above it must belong to us or to root and be writable by nobody else, unless it
has the sticky bit (like /tmp: others may add entries there but not rename or remove
ours). Then only we (and root) can put a socket at our address. The client also checks
with SO_PEERCRED that the process answering runs as us.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from .protocol import AccessDeniedError

log = logging.getLogger(__name__)

_WRITABLE_BY_OTHERS = stat.S_IWGRP | stat.S_IWOTH
_ELSEWHERE = "or set XDG_RUNTIME_DIR to a private folder of yours (mode 0700)"


class UntrustedSocketError(AccessDeniedError):
    """The socket's folder, a folder above it, or the process answering on it is not
    trusted: another user could be answering in the app's place. Nothing was sent."""

    code = "untrusted_socket"


@dataclass(frozen=True)
class PeerCredentials:
    pid: int
    uid: int
    gid: int


def _refuse(path: Path | str, why: str, fix: str) -> UntrustedSocketError:
    return UntrustedSocketError(f"refusing {path}: {why}; {fix}")


def check_socket_folder(folder: Path, info: os.stat_result) -> None:
    """`info` is the folder's lstat: a real folder, ours, writable by us alone (else raise)."""
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        what = "a symbolic link" if stat.S_ISLNK(info.st_mode) else "not a folder"
        raise _refuse(folder, f"the socket folder is {what}", f"remove it (rm {folder}) {_ELSEWHERE}")
    if info.st_uid != os.getuid():
        raise _refuse(folder, f"owned by uid {info.st_uid}, not you",
                      f"remove it (rm -r {folder}, as root or its owner) {_ELSEWHERE}")  # fmt: skip
    if info.st_mode & _WRITABLE_BY_OTHERS:
        raise _refuse(folder, f"writable by others (mode {stat.S_IMODE(info.st_mode):04o})",
                      f"make it private (chmod 700 {folder}) {_ELSEWHERE}")  # fmt: skip


def check_parent_folders(folder: Path) -> Path:
    """Every folder above `folder`, on its real path up to /: owned by us or root, and not
    writable by others unless sticky. Returns the real path of `folder`'s parent."""
    parent = Path(os.path.realpath(folder.parent))
    me = os.getuid()
    for path in (parent, *parent.parents):
        info = os.lstat(path)
        if info.st_uid not in (0, me):
            raise _refuse(path, f"a folder above the socket is owned by uid {info.st_uid}, who could swap it",
                          f"keep the socket elsewhere: {_ELSEWHERE[3:]}")  # fmt: skip
        if info.st_mode & _WRITABLE_BY_OTHERS and not info.st_mode & stat.S_ISVTX:
            raise _refuse(path, f"a folder above the socket is writable by others without the sticky bit "
                                f"(mode {stat.S_IMODE(info.st_mode):04o})",
                          f"chmod go-w {path} (or chmod +t) {_ELSEWHERE}")  # fmt: skip
    return parent


def trusted_address(address: str) -> str:
    """The address to connect to, once its folder and every folder above it are trusted.

    Raises UntrustedSocketError naming the path and the fix, FileNotFoundError when the
    folder does not exist (nobody runs). The result is the address on its real path, so
    no link along the way can be swapped between this check and the connect.
    """
    if not hasattr(os, "getuid"):
        return address
    path = Path(address)
    check_socket_folder(path.parent, os.lstat(path.parent))
    return str(check_parent_folders(path.parent) / path.parent.name / path.name)


def prepare_socket_dir(address: str) -> Path:
    """Create the socket's folder safely, or make sure an existing one is trusted.

    mkdir with mode 0700 (then chmod, whatever the umask), lstat without following links,
    and the checks of trusted_address: owner, mode, every folder above. An existing folder
    is not chmod-ed (it may be $XDG_RUNTIME_DIR): one that is not safe is refused with
    UntrustedSocketError, which names the fix, rather than used.
    """
    folder = Path(address).parent
    if not hasattr(os, "getuid"):
        return folder
    try:
        folder.mkdir(parents=True, mode=0o700)
        created = True
    except FileExistsError:
        created = False
    info = os.lstat(folder)
    if created and stat.S_ISDIR(info.st_mode) and info.st_uid == os.getuid() and stat.S_IMODE(info.st_mode) != 0o700:
        os.chmod(folder, 0o700)  # the umask took bits we need (or added none we don't)
        info = os.lstat(folder)
    check_socket_folder(folder, info)
    check_parent_folders(folder)
    return folder


def peer_credentials(fd: int) -> PeerCredentials | None:
    """The connecting process's pid/uid/gid (Linux SO_PEERCRED); None where unsupported."""
    option = getattr(socket, "SO_PEERCRED", None)
    if option is None or fd < 0:
        return None
    sock = socket.fromfd(fd, socket.AF_UNIX, socket.SOCK_STREAM)  # a dup: closing it leaves fd open
    try:
        data = sock.getsockopt(socket.SOL_SOCKET, option, struct.calcsize("3i"))
    except OSError as exc:
        log.warning("could not read the peer's credentials: %s", exc)
        return None
    finally:
        sock.close()
    pid, uid, gid = struct.unpack("3i", data)
    return PeerCredentials(pid, uid, gid)


def peer_allowed(creds: PeerCredentials | None) -> bool:
    """Only our own uid. Without SO_PEERCRED the socket's 0700 mode is the only guard."""
    if creds is None or not hasattr(os, "getuid"):
        return True
    return creds.uid == os.getuid()


def check_server_peer(sock: socket.socket, address: str) -> None:
    """The client's side, right after connect and before any byte is sent: the process
    answering at `address` must run as us (SO_PEERCRED, Linux). Where the kernel cannot
    tell (no SO_PEERCRED), the folder checks of trusted_address are the guard; where it
    should but fails, refuse rather than guess."""
    if getattr(socket, "SO_PEERCRED", None) is None or not hasattr(os, "getuid"):
        return
    creds = peer_credentials(sock.fileno())
    if creds is None:
        raise _refuse(address, "cannot tell which user answers on it (SO_PEERCRED failed)",
                      "try again; if it persists, stop the app and start it again")  # fmt: skip
    if creds.uid != os.getuid():
        raise _refuse(address, f"the process answering on it (pid {creds.pid}) runs as uid {creds.uid}, not you",
                      f"remove the socket (rm {address}, as root or its owner) and start Acacia again "
                      f"{_ELSEWHERE}")  # fmt: skip


def someone_listens(address: str, timeout: float = 1.0) -> bool:
    """Does a live process accept connections at `address`? (False for a stale socket file.)

    A file we may not even connect to counts as taken: it is not ours to remove.
    """
    if not hasattr(socket, "AF_UNIX"):
        return False
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    sock.settimeout(timeout)
    try:
        sock.connect(address)
        return True
    except (FileNotFoundError, ConnectionRefusedError):
        return False
    except (PermissionError, TimeoutError):  # not ours, or a live server too busy to accept at once
        return True
    except OSError as exc:
        log.warning("could not check %s: %s", address, exc)
        return False
    finally:
        sock.close()
