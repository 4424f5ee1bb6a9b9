"""The socket folder and peer rules (ipc/address.py), with real sockets and folders."""

from __future__ import annotations

import os
import socket
import stat

import pytest

from acacia_gui.ipc.address import (
    UntrustedSocketError,
    check_server_peer,
    peer_allowed,
    peer_credentials,
    prepare_socket_dir,
    someone_listens,
    trusted_address,
)


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
    with pytest.raises(UntrustedSocketError, match=f"refusing {link}: the socket folder is a symbolic link"):
        prepare_socket_dir(str(link / "x.sock"))
    if os.geteuid() == 0:
        os.chown(shared, 65534, 65534)
        with pytest.raises(UntrustedSocketError, match=f"refusing {shared}: owned by uid 65534, not you"):
            prepare_socket_dir(str(shared / "x.sock"))


def test_a_folder_others_may_write_is_refused_by_server_and_client(tmp_path):
    """Ours but 0777: anyone could put a socket there. Refused, never chmod-ed behind the user's back."""
    folder = tmp_path / "run"
    folder.mkdir()
    os.chmod(folder, 0o777)
    for check in (prepare_socket_dir, trusted_address):
        with pytest.raises(UntrustedSocketError, match=rf"refusing {folder}: writable by others \(mode 0777\); "
                                                       rf"make it private \(chmod 700 {folder}\)"):  # fmt: skip
            check(str(folder / "x.sock"))
    assert stat.S_IMODE(os.stat(folder).st_mode) == 0o777


def test_every_folder_above_must_be_safe_unless_sticky(tmp_path):
    above = tmp_path / "shared"
    folder = above / "run"
    folder.mkdir(parents=True, mode=0o700)
    os.chmod(above, 0o777)  # world-writable, not sticky: anyone could rename `run` and put their own
    with pytest.raises(UntrustedSocketError, match=rf"refusing {above}: a folder above the socket is writable by "
                                                   rf"others without the sticky bit \(mode 0777\)"):  # fmt: skip
        trusted_address(str(folder / "x.sock"))
    with pytest.raises(UntrustedSocketError, match=f"refusing {above}"):
        prepare_socket_dir(str(folder / "y" / "x.sock"))
    os.chmod(above, 0o1777)  # sticky, like /tmp: others cannot rename or remove what is ours
    assert trusted_address(str(folder / "x.sock")) == str(folder.resolve() / "x.sock")
    assert prepare_socket_dir(str(folder / "x.sock")) == folder


def test_the_address_is_checked_and_returned_on_its_real_path(tmp_path):
    real = tmp_path / "real"
    (real / "run").mkdir(parents=True, mode=0o700)
    (tmp_path / "alias").symlink_to(real)  # a link above the folder is followed, its target checked
    assert trusted_address(str(tmp_path / "alias" / "run" / "x.sock")) == str(real.resolve() / "run" / "x.sock")
    with pytest.raises(FileNotFoundError):  # nobody made it: nobody runs
        trusted_address(str(tmp_path / "missing" / "x.sock"))


def test_a_server_running_as_us_passes_the_peer_check():
    left, right = socket.socketpair(socket.AF_UNIX, socket.SOCK_STREAM)
    with left, right:
        check_server_peer(left, "x.sock")


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
