"""A PostgreSQL server for the tests, found or started once per session, and a fresh database per test.

Where the server comes from, in order:

1. `ACACIA_TEST_POSTGRES`: a libpq URL (e.g. postgresql://postgres@db.example:5432/postgres) of a
   server where that role may CREATE and DROP databases; it must answer, or the PostgreSQL tests
   fail with the reason. `ACACIA_TEST_POSTGRES=private` skips step 2 and starts a private
   cluster (step 3) even when a server answers on 5432: how that path is tested on a machine
   that has one.
2. A server answering on 127.0.0.1:5432 as role `postgres` without a password (trust auth: the
   machines with services we test on).
3. A private throwaway cluster: Debian's `postgresql` binaries (/usr/lib/postgresql/<version>/bin,
   the newest; `make test` installs the package when steps 1 and 2 find nothing), initdb'ed in a
   temporary folder with trust auth, listening only on a Unix socket in that folder (no TCP port
   to collide with), with durability off (fsync=off: its data is thrown away). PostgreSQL
   refuses to run as root, so as root it runs as the `postgres` user (runuser) in a folder that
   user owns. Stopped (pg_ctl stop -m fast) and removed at the end of the session.

When none works, `ServerUnavailable` says why for each step; the contract suite turns it into a
skip with that reason, and `ACACIA_REQUIRE_POSTGRES=1` (set by `make test`) turns any skipped
PostgreSQL test into a failed run (tests/conftest.py).

Per test: `CREATE DATABASE acacia_test_<random> TEMPLATE <a template migrated once per session>`
(copying a migrated database is much faster than migrating each), and `DROP DATABASE ... WITH
(FORCE)` after (it ends connections a test left open). The template is dropped at session end.
Names are random, so several sessions (several people, or parallel runs) can share one server.
"""

from __future__ import annotations

import atexit
import contextlib
import os
import pwd
import secrets
import shutil
import socket
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from psycopg import conninfo, sql

ENV_URL = "ACACIA_TEST_POSTGRES"
PRIVATE = "private"  # ACACIA_TEST_POSTGRES=private: always the throwaway cluster
LOCAL_URL = "postgresql://postgres@127.0.0.1:5432/postgres"
DEBIAN_BINARIES = Path("/usr/lib/postgresql")
SERVER_USER = "postgres"  # the OS user the private cluster runs as when we are root
CONNECT_TIMEOUT = 3  # seconds: a server that does not answer by then is not used


class ServerUnavailable(Exception):
    """No PostgreSQL server for the tests; the message says what was tried and why each failed."""


def _answers(url: str) -> str | None:
    """None when `url` accepts a connection, else why not (without the password)."""
    try:
        psycopg.connect(url, connect_timeout=CONNECT_TIMEOUT, autocommit=True).close()
    except psycopg.Error as exc:
        text = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        password = conninfo.conninfo_to_dict(url).get("password")
        return text.replace(str(password), "***") if password else text
    return None


def with_database(url: str, dbname: str) -> str:
    """`url` pointing at database `dbname` (everything else kept)."""
    params = conninfo.conninfo_to_dict(url)
    params["dbname"] = dbname
    return conninfo.make_conninfo(**params)


class PrivateCluster:
    """A throwaway cluster in a temporary folder, started by `start()` and removed by `stop()`."""

    def __init__(self) -> None:
        self.bin = newest_debian_binaries()
        self.folder = Path(tempfile.mkdtemp(prefix="acacia-test-pg-"))
        self.data = self.folder / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        self.started = False

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, timeout=120, cwd=self.folder)
        if done.returncode != 0:
            raise ServerUnavailable(f"{' '.join(args[:1])} failed ({done.returncode}): {(done.stderr or done.stdout).strip()}")

    def start(self) -> str:
        if self.as_root:
            try:
                server_user = pwd.getpwnam(SERVER_USER)
            except KeyError:
                raise ServerUnavailable(f"running as root and there is no {SERVER_USER!r} user to run the server as") from None
            os.chown(self.folder, server_user.pw_uid, server_user.pw_gid)
        self._run("initdb", "-D", str(self.data), "-A", "trust", "-U", "postgres", "-E", "UTF8", "--locale=C", "--no-sync")
        options = f"-p {self.port} -k {self.folder} -c listen_addresses='' -c fsync=off -c synchronous_commit=off" \
                  " -c full_page_writes=off"  # fmt: skip
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.folder / "server.log"), "-w", "-t", "60", "start")
        self.started = True
        return conninfo.make_conninfo(host=str(self.folder), port=str(self.port), user="postgres", dbname="postgres")

    def stop(self) -> None:
        """Stop the server (if it started) and remove its folder; safe to call twice."""
        try:
            if self.started:
                self._run("pg_ctl", "-D", str(self.data), "-m", "fast", "-w", "stop")
                self.started = False
        finally:
            shutil.rmtree(self.folder, ignore_errors=True)

    def describe(self) -> str:
        return f"a private cluster ({self.bin.parent.name}, {self.folder}, port {self.port}, Unix socket only)"


def newest_debian_binaries() -> Path:
    """/usr/lib/postgresql/<newest version>/bin, where Debian's packages put initdb and pg_ctl."""
    found = sorted((p for p in DEBIAN_BINARIES.glob("*/bin") if (p / "initdb").exists() and (p / "pg_ctl").exists()),
                   key=lambda p: int(p.parent.name) if p.parent.name.isdigit() else 0)  # fmt: skip
    if not found:
        raise ServerUnavailable(f"no PostgreSQL binaries under {DEBIAN_BINARIES}/*/bin (install Debian's `postgresql` package)")
    return found[-1]


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


class PostgresTestServer:
    """The session's server: its admin URL, where it came from, and the migrated template."""

    def __init__(self, admin_url: str, origin: str, cluster: PrivateCluster | None = None) -> None:
        self.admin_url = admin_url
        self.origin = origin
        self.cluster = cluster
        self.template: str | None = None
        self._lock = threading.Lock()

    def _admin(self, statement: sql.Composable) -> None:
        with psycopg.connect(self.admin_url, autocommit=True, connect_timeout=CONNECT_TIMEOUT) as conn:
            conn.execute(statement)

    def _template(self) -> str:
        """A database migrated to the current schema once, copied for each test."""
        with self._lock:
            if self.template is None:
                from acacia_gui.store.postgres.db import PostgresDatabase

                name = f"acacia_template_{secrets.token_hex(6)}"
                self._admin(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
                self.template = name
                db = PostgresDatabase(with_database(self.admin_url, name), min_size=1, max_size=1)
                try:
                    db.migrate()
                finally:
                    db.close()  # CREATE DATABASE ... TEMPLATE needs it without connections
            return self.template

    @contextlib.contextmanager
    def database(self) -> Iterator[str]:
        """A fresh database with the current schema, dropped afterwards: yields its URL."""
        template = self._template()
        name = f"acacia_test_{secrets.token_hex(6)}"
        self._admin(sql.SQL("CREATE DATABASE {} TEMPLATE {}").format(sql.Identifier(name), sql.Identifier(template)))
        try:
            yield with_database(self.admin_url, name)
        finally:
            self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))

    def stop(self) -> None:
        """Drop the template and stop a private cluster (the server found elsewhere is left running)."""
        try:
            if self.template is not None and self.cluster is None:
                self._admin(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(self.template)))
        finally:
            self.template = None
            if self.cluster is not None:
                self.cluster.stop()


def find_server() -> PostgresTestServer:
    """The server, by the steps in this module's docstring; ServerUnavailable when none works."""
    wanted = os.environ.get(ENV_URL, "").strip()
    if wanted and wanted != PRIVATE:
        why = _answers(wanted)
        if why is not None:
            raise ServerUnavailable(f"{ENV_URL} is set but its server does not answer: {why}")
        return PostgresTestServer(wanted, f"{ENV_URL}")
    tried = []
    if not wanted:
        why = _answers(LOCAL_URL)
        if why is None:
            return PostgresTestServer(LOCAL_URL, "127.0.0.1:5432")
        tried.append(f"127.0.0.1:5432: {why}")
    try:
        cluster = PrivateCluster()
    except ServerUnavailable as exc:
        raise ServerUnavailable("; ".join([*tried, str(exc)])) from None
    try:
        url = cluster.start()
        why = _answers(url)
        if why is not None:
            raise ServerUnavailable(f"the private cluster started but does not answer: {why}")
    except BaseException as exc:
        cluster.stop()
        if isinstance(exc, ServerUnavailable | OSError | subprocess.SubprocessError):
            raise ServerUnavailable("; ".join([*tried, f"private cluster: {exc}"])) from None
        raise
    return PostgresTestServer(url, cluster.describe(), cluster)


# -- the session's one server ---------------------------------------------------------------
_session: PostgresTestServer | None = None
_session_error: ServerUnavailable | None = None
_session_lock = threading.Lock()
_origin: str | None = None  # kept after the server stops, for the report


def session_server() -> PostgresTestServer:
    """The server of this test session, found on first use; raises the same ServerUnavailable each time."""
    global _session, _session_error
    with _session_lock:
        if _session is None and _session_error is None:
            try:
                _session = find_server()
            except ServerUnavailable as exc:
                _session_error = exc
            else:
                global _origin
                _origin = _session.origin
                atexit.register(stop_session_server)  # also when pytest ends without its session hook
        if _session_error is not None:
            raise _session_error
        assert _session is not None
        return _session


def server_or_skip(what: str = "the tests") -> PostgresTestServer:
    """The session's server, or a skip that says why (a failed run under ACACIA_REQUIRE_POSTGRES=1:
    tests/conftest.py); `what` names the tests in the reason."""
    try:
        return session_server()
    except ServerUnavailable as exc:
        pytest.skip(f"no PostgreSQL server for {what}: {exc}")


def stop_session_server() -> None:
    """End of session: drop the template, stop a private cluster. Nothing when none was used."""
    global _session
    with _session_lock:
        server, _session = _session, None
    if server is not None:
        server.stop()


def session_origin() -> str | None:
    """Where this session's server came from, for the test report's header (None: not used)."""
    return _origin


def local_server_answers() -> bool:
    """Whether step 2 finds a server (127.0.0.1:5432, role postgres, no password)."""
    return _answers(LOCAL_URL) is None


if __name__ == "__main__":  # `make test` asks before installing Debian's postgresql package
    import sys

    if sys.argv[1:] == ["--local-answers"]:
        sys.exit(0 if local_server_answers() else 1)
    sys.exit(f"usage: python -m tests.support.postgres_server --local-answers (exit 0 when {LOCAL_URL} answers)")
