"""The socket folder and peer rules (ipc/address.py), with real sockets and folders."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from acacia_gui.ipc.address import peer_allowed, peer_credentials, prepare_socket_dir, someone_listens
from acacia_gui.ipc.protocol import ServerError


def test_a_new_socket_folder_is_private(tmp_path):
    old = os.umask(0o022)
    try:
        folder = prepare_socket_dir(str(tmp_path / "run" / "acacia" / "x.sock"))
    finally:
        os.umask(old)
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o700


def test_an_existing_folder_is_left_alone_but_must_be_ours(tmp_path):
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    prepare_socket_dir(str(shared / "x.sock"))
    assert stat.S_IMODE(os.stat(shared).st_mode) == 0o755  # e.g. $XDG_RUNTIME_DIR: not ours to chmod
    link = tmp_path / "link"
    link.symlink_to(shared)
    with pytest.raises(ServerError, match="not a plain folder"):
        prepare_socket_dir(str(link / "x.sock"))
    if os.geteuid() == 0:
        os.chown(shared, 65534, 65534)
        with pytest.raises(ServerError, match="belongs to another user"):
            prepare_socket_dir(str(shared / "x.sock"))


def test_peer_credentials_name_our_own_process():
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        creds = peer_credentials(left.fileno())
        assert creds is not None and creds.pid == os.getpid() and creds.uid == os.getuid()
        assert peer_allowed(creds)
        left.sendall(b"x")  # the descriptor is still open and usable after the check
        assert right.recv(1) == b"x"
    assert not peer_allowed(type(creds)(pid=1, uid=os.getuid() + 1, gid=0))


def test_someone_listens_tells_live_from_stale(tmp_path):
    address = str(tmp_path / "s.sock")
    assert not someone_listens(address)
    server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    server.bind(address)
    server.listen(1)
    assert someone_listens(address)
    server.close()  # the file stays, nobody answers: stale
    assert os.path.exists(address) and not someone_listens(address)
