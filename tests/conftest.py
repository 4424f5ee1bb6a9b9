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
