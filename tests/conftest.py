"""Shared test set-up: Qt offscreen before any QApplication exists, and a polling helper."""

from __future__ import annotations

import os
import time
from collections.abc import Callable

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")
os.environ.setdefault("ACACIA_DATA_DIR", "/nonexistent-acacia-test-data-dir")  # never touch the real one


def wait_until(condition: Callable[[], object], timeout: float = 10.0, interval: float = 0.01, message: str = "") -> object:
    """Poll `condition` until it is truthy; fail after `timeout` seconds (never a fixed sleep)."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout} s waiting for {message or condition}")
        time.sleep(interval)


# -- PostgreSQL tests are never skipped silently --------------------------------------------
# tests/support/postgres_server.py finds or starts the server; with none, the PostgreSQL tests
# skip with the reason. `make test` sets ACACIA_REQUIRE_POSTGRES=1: then such a skip fails the run.
REQUIRE_POSTGRES = "ACACIA_REQUIRE_POSTGRES"
_postgres_skips: list[tuple[str, str]] = []


def _is_postgres_test(nodeid: str) -> bool:
    return "postgres" in nodeid.lower()


def pytest_runtest_logreport(report) -> None:  # type: ignore[no-untyped-def]
    if report.skipped and _is_postgres_test(report.nodeid):
        reason = report.longrepr[2] if isinstance(report.longrepr, tuple) else str(report.longrepr)
        _postgres_skips.append((report.nodeid, reason))


def pytest_report_header(config) -> str | None:  # type: ignore[no-untyped-def]
    from tests.support.postgres_server import ENV_URL

    return f"postgres: {ENV_URL}={os.environ.get(ENV_URL, '(unset)')}, {REQUIRE_POSTGRES}={os.environ.get(REQUIRE_POSTGRES, '0')}"


def pytest_terminal_summary(terminalreporter) -> None:  # type: ignore[no-untyped-def]
    from tests.support.postgres_server import session_origin

    origin = session_origin()
    if origin is not None:
        terminalreporter.write_line(f"PostgreSQL tests ran on {origin}")
    if _postgres_skips and os.environ.get(REQUIRE_POSTGRES) == "1":
        terminalreporter.write_line(
            f"{REQUIRE_POSTGRES}=1 but {len(_postgres_skips)} PostgreSQL test(s) were skipped; the first: "
            f"{_postgres_skips[0][0]}: {_postgres_skips[0][1]}",
            red=True,
        )


def pytest_sessionfinish(session, exitstatus) -> None:  # type: ignore[no-untyped-def]
    from tests.support.postgres_server import stop_session_server

    stop_session_server()
    if _postgres_skips and os.environ.get(REQUIRE_POSTGRES) == "1" and session.exitstatus == 0:
        session.exitstatus = 1
