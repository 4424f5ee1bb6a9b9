"""The socket's folder and its peers: who may connect, and is anybody listening already.

Pure standard library, so the rules are testable without Qt: the server (qt/server.py)
calls these around QLocalServer.
"""

from __future__ import annotations

import logging
import os
import socket
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

from .protocol import ServerError

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class PeerCredentials:
    pid: int
    uid: int
    gid: int


def prepare_socket_dir(address: str) -> Path:
    """Make sure the socket's folder exists and is ours.

    A folder we create gets mode 0700 (whatever the umask). An existing one is left as
    it is (it may be $XDG_RUNTIME_DIR) but must belong to us: a folder someone else
    made could let them swap our socket, so we refuse to use it.
    """
    folder = Path(address).parent
    if not folder.exists():
        folder.mkdir(parents=True, mode=0o700, exist_ok=True)
        os.chmod(folder, 0o700)
    info = os.lstat(folder)
    if stat.S_ISLNK(info.st_mode) or not stat.S_ISDIR(info.st_mode):
        raise ServerError(f"the socket folder {folder} is not a plain folder; remove it or set XDG_RUNTIME_DIR")
    if hasattr(os, "getuid") and info.st_uid != os.getuid():
        raise ServerError(
            f"the socket folder {folder} belongs to another user (uid {info.st_uid}); "
            "remove it or point XDG_RUNTIME_DIR at a folder of your own"
        )
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
