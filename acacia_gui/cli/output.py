"""The CLI's only way to print: data on stdout, notices and errors on stderr (flushed at once)."""

from __future__ import annotations

import sys


def echo(text: object = "", *, err: bool = False) -> None:
    stream = sys.stderr if err else sys.stdout
    stream.write(f"{text}\n")
    stream.flush()
