"""Socket squatting, run as it was found (issue 10): a second uid (nobody, through setpriv)
squats the socket folder, or serves in a world-writable XDG_RUNTIME_DIR, or has its socket
swapped in for the live one. The CLI, the client and `acacia serve` must refuse with one
line naming the path and the fix, and the impostor must receive not a single byte.
"""

from __future__ import annotations

import grp
import json
import os
import pwd
import selectors
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from acacia_gui.core.errors import AcaciaError
from acacia_gui.ipc.client import Client, probe

from .serve_process import Sandbox, ServeProcess

# A fake Acacia: answers every request like the real one would (a hello, then a forged job
# id 4242), and reports on stdout each connection it accepts and how many bytes it got.
FAKE_SERVER = r"""
import json, os, socket, sys
address, make_folder = sys.argv[1], sys.argv[2] == "1"
if make_folder:
    os.mkdir(os.path.dirname(address))
    os.chmod(os.path.dirname(address), 0o777)
server = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
server.bind(address)
os.chmod(address, 0o777)
server.listen(16)
print("READY", flush=True)
while True:
    conn, _ = server.accept()
    print("ACCEPT", flush=True)
    conn.settimeout(5)
    got, buffer = 0, b""
    try:
        while True:
            chunk = conn.recv(65536)
            if not chunk:
                break
            got += len(chunk)
            print("RECV", chunk[:300], flush=True)
            buffer += chunk
            while b"\n" in buffer:
                line, buffer = buffer.split(b"\n", 1)
                request = json.loads(line)
                result = ({"protocol": "1.1", "pid": 4242, "max_line_bytes": 1 << 20}
                          if request.get("op") == "hello" else {"id": 4242, "ids": [4242], "jobs": [], "total": 0})
                conn.sendall(json.dumps({"id": request.get("id"), "ok": True, "result": result}).encode() + b"\n")
    except OSError:
        pass
    conn.close()
    print("CLOSED", got, flush=True)
"""

NOBODY, NOGROUP = "nobody", "nogroup"


@pytest.fixture
def second_user() -> int:
    """nobody's uid. Not root: skipped (only root can act as another user). Root without the
    tools: a failure, not a silent skip, since the attack could then go untested."""
    if os.geteuid() != 0:
        pytest.skip("needs root to run the attacker as a second uid (setpriv --reuid=nobody)")
    if shutil.which("setpriv") is None:
        pytest.fail("setpriv is missing: install util-linux (apt-get install util-linux) to run the squatting tests")
    try:
        uid = pwd.getpwnam(NOBODY).pw_uid
        grp.getgrnam(NOGROUP)
    except KeyError as exc:
        pytest.fail(f"the user {NOBODY!r} or group {NOGROUP!r} is missing ({exc}); the attacker runs as them")
    return uid


@pytest.fixture
def box(tmp_path):
    sandbox = Sandbox(tmp_path)
    yield sandbox
    sandbox.cleanup()


@pytest.fixture
def shared_tmp():
    """A private temp folder in /tmp, made like /tmp (root's, 01777) so nobody can squat in it."""
    folder = Path(tempfile.mkdtemp(prefix="acq-", dir="/tmp"))
    os.chmod(folder, 0o1777)
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


class FakeServer:
    """The attacker's server, run as nobody: `make_folder` first creates the socket's folder 0777."""

    def __init__(self, address: str, *, make_folder: bool) -> None:
        self.proc = subprocess.Popen(
            ["setpriv", f"--reuid={NOBODY}", f"--regid={NOGROUP}", "--clear-groups",
             sys.executable, "-I", "-c", FAKE_SERVER, address, "1" if make_folder else "0"],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={"PATH": os.environ["PATH"], "HOME": "/"},
            bufsize=0,  # unbuffered: readline() must not swallow lines the selector then never reports
        )  # fmt: skip
        self.lines: list[str] = []
        if not self.wait_for("READY", 20):
            self.stop()
            raise AssertionError(f"the fake server did not start: {self.lines} {self.proc.stderr.read()!r}")

    def wait_for(self, prefix: str, timeout: float) -> bool:
        deadline = time.monotonic() + timeout
        with selectors.DefaultSelector() as sel:
            sel.register(self.proc.stdout, selectors.EVENT_READ)
            while not any(line.startswith(prefix) for line in self.lines):
                left = deadline - time.monotonic()
                if left <= 0 or not sel.select(left):
                    return False
                line = self.proc.stdout.readline()
                if not line:
                    return False
                self.lines.append(line.decode(errors="replace").strip())
        return True

    def stop(self) -> list[str]:
        self.proc.terminate()
        out, _ = self.proc.communicate(timeout=10)
        self.lines += out.decode(errors="replace").splitlines()
        return self.lines

    def received(self) -> list[str]:
        return [line for line in self.lines if line.startswith("RECV") or (line.startswith("CLOSED") and line != "CLOSED 0")]


def socket_of(box: Sandbox, env: dict[str, str]) -> str:
    """Where the CLI puts the socket in this environment (asked before anyone squats it)."""
    info = box.cli("info", "--json", env=env)
    assert info.returncode == 0, info.stderr
    return json.loads(info.stdout)["socket"]


def assert_refused(result: subprocess.CompletedProcess, path: str | Path, why: str) -> None:
    """One line on stderr, naming the path and a fix; exit 1; no forged id on stdout."""
    lines = result.stderr.strip().splitlines()
    assert result.returncode == 1, (result.returncode, result.stdout, result.stderr)
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"acacia: refusing {path}: {why}"), result.stderr
    assert "XDG_RUNTIME_DIR" in lines[0]
    assert "4242" not in result.stdout and "already running" not in result.stderr


def test_a_socket_folder_squatted_in_tmpdir_is_refused(box, second_user, shared_tmp):
    env = {k: v for k, v in box.env.items() if k != "XDG_RUNTIME_DIR"} | {"TMPDIR": str(shared_tmp)}
    address = socket_of(box, env)
    folder = Path(address).parent
    assert folder.parent == shared_tmp, address  # the private folder in the temp dir: $TMPDIR/acacia-<uid>
    fake = FakeServer(address, make_folder=True)
    try:
        result = box.cli("enqueue", "demo.sleep", "--payload", '{"api_key": "hunter2"}', env=env)
        assert_refused(result, folder, f"owned by uid {second_user}, not you")
        assert f"rm -r {folder}" in result.stderr
        assert not box.data_dir.joinpath("acacia.db").exists()  # refused, not quietly written to the database
        stats = box.cli("stats", env=env)
        assert_refused(stats, folder, f"owned by uid {second_user}, not you")

        serve = box.cli("serve", env=env, timeout=60)  # the squatter is not "already running"
        assert_refused(serve, folder, f"owned by uid {second_user}, not you")
        info = box.cli("info", env=env)  # still says where things live, and why the socket is refused
        assert_refused(info, folder, f"owned by uid {second_user}, not you")
        assert f"socket:      {address}" in info.stdout and "running:     no" in info.stdout

        with pytest.raises(AcaciaError) as refused:  # the window's and serve's probe, in-process
            os.environ["TMPDIR"] = str(shared_tmp)
            try:
                probe(address)
            finally:
                os.environ.pop("TMPDIR")
        assert refused.value.code == "untrusted_socket" and str(folder) in str(refused.value)
    finally:
        lines = fake.stop()
    assert not any(line.startswith("ACCEPT") for line in lines), lines  # folder refused before connecting
    assert fake.received() == [], lines


def test_a_world_writable_xdg_runtime_dir_is_refused(box, second_user):
    """XDG_RUNTIME_DIR is ours but 0777 without the sticky bit: another uid serves in it."""
    xdg = Path(tempfile.mkdtemp(prefix="acx-", dir="/tmp"))
    try:
        env = box.env | {"XDG_RUNTIME_DIR": str(xdg)}
        address = socket_of(box, env)
        os.chmod(xdg, 0o777)
        assert Path(address).parent == xdg
        fake = FakeServer(address, make_folder=False)
        try:
            result = box.cli("enqueue", "demo.sleep", "--payload", '{"api_key": "hunter2"}', env=env)
            assert_refused(result, xdg, "writable by others (mode 0777)")
            assert f"chmod 700 {xdg}" in result.stderr
            serve = box.cli("serve", env=env, timeout=60)
            assert_refused(serve, xdg, "writable by others (mode 0777)")
            with pytest.raises(AcaciaError) as refused:
                Client(address).stats()
            assert refused.value.code == "untrusted_socket"
        finally:
            lines = fake.stop()
        assert not any(line.startswith("ACCEPT") for line in lines), lines
        assert fake.received() == [], lines
    finally:
        shutil.rmtree(xdg, ignore_errors=True)


def test_a_live_socket_swapped_for_another_uids_is_refused_by_peer_credentials(box, second_user):
    """The folder is ours and private, so only root can do this: nobody listens on a socket in
    its own folder, root renames it over the live app's socket. The folder checks pass; the
    server's uid (SO_PEERCRED) does not."""
    own = Path(tempfile.mkdtemp(prefix="acn-", dir="/tmp"))
    try:
        os.chown(own, second_user, grp.getgrnam(NOGROUP).gr_gid)
        with ServeProcess(box):
            fake = FakeServer(str(own / "fake.sock"), make_folder=False)
            try:
                os.replace(own / "fake.sock", box.address)  # the swap
                result = box.cli("enqueue", "demo.sleep", "--payload", '{"api_key": "hunter2"}')
                assert_refused(result, box.address, f"the process answering on it (pid {fake.proc.pid}")
                assert f"runs as uid {second_user}, not you" in result.stderr
                assert fake.wait_for("CLOSED", 10), fake.lines  # it was reached, and then hung up on
                with pytest.raises(AcaciaError) as refused:
                    probe(box.address)
                assert refused.value.code == "untrusted_socket"
            finally:
                lines = fake.stop()
        assert any(line.startswith("ACCEPT") for line in lines), lines
        assert fake.received() == [], lines  # not one byte: no hello, no request
    finally:
        shutil.rmtree(own, ignore_errors=True)
