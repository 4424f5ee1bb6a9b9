"""The `acacia` command: no command opens the window, `serve` runs headless, the rest talk to the app.

Never imports Qt and imports little at start: a command answers in milliseconds. Data
commands go through the running app's socket, or straight to the database when none
runs (saying so on stderr). Exit status: 0 ok, 1 failure (job failed, app not running,
connection lost, a data dir or database that cannot be used: one line, never a
traceback), 2 bad input (one line on stderr; nothing written), 130 Ctrl-C.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import sys
from collections.abc import Callable, Sequence
from typing import Any

from ..config import AppOptions, load_config
from ..core.errors import AcaciaError
from .output import echo
from .parser import UsageError, build_parser

BAD_INPUT_CODES = frozenset({
    "invalid_job", "invalid_type", "invalid_payload", "invalid_option", "unknown_type", "not_found", "bad_request",
    "invalid_json", "invalid_params", "unknown_op", "line_too_long",
})  # fmt: skip


def exit_status(exc: AcaciaError) -> int:
    return 2 if exc.code in BAD_INPUT_CODES else 1


def one_line(exc: BaseException) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__


def _hint(exc: AcaciaError) -> str:
    if exc.code == "unknown_type":
        return " (use --allow-unknown to queue it anyway)"
    if exc.code == "line_too_long":
        return " (send less at once: split the batch file, or start the app with --max-line-bytes N)"
    return ""


def main(argv: Sequence[str], launch_app: Callable[[AppOptions], int]) -> int:
    """Run one `acacia` command; returns the exit status."""
    try:
        args = build_parser().parse_args(list(argv))
    except UsageError as exc:
        echo(one_line(exc), err=True)
        return 2
    if args.version:
        from .. import __version__

        echo(f"acacia {__version__}")
        return 0
    config = None
    try:
        config = load_config(args.data_dir, args.plugins_dir, args.durability, args.database, getattr(args, "lease", None))
        if args.command in (None, "serve"):
            return launch_app(_app_options(args, headless=args.command == "serve"))
        from .commands import COMMANDS

        logging.getLogger().addHandler(logging.NullHandler())  # plugin/loader warnings must not reach stderr
        return COMMANDS[args.command](args, config)
    except UsageError as exc:
        echo(one_line(exc), err=True)
        return 2
    except AcaciaError as exc:
        echo(f"acacia: {one_line(exc)}{_hint(exc)}", err=True)
        return exit_status(exc)
    except KeyboardInterrupt:
        echo(err=True)
        return 130
    except BrokenPipeError:  # `acacia list | head`: the reader left; not an error worth a traceback
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return 0
    except OSError as exc:  # the environment: a data dir that is a file, no permission, a full disk…
        echo(f"acacia: {_os_error(exc)}", err=True)
        return 1
    except sqlite3.DatabaseError as exc:  # e.g. acacia.db is not a database (or is damaged)
        where = config.database if config is not None else "the data dir"
        echo(f"acacia: cannot use the database {where}: {one_line(exc)}", err=True)
        return 1


def _os_error(exc: OSError) -> str:
    """`cannot use /x: Not a directory` rather than `[Errno 20] Not a directory: '/x'`."""
    if exc.strerror and exc.filename is not None:
        return f"cannot use {exc.filename}: {exc.strerror}"
    return one_line(exc)


def _app_options(args: Any, *, headless: bool) -> AppOptions:
    defaults = AppOptions()
    return AppOptions(
        data_dir=args.data_dir,
        plugins_dir=args.plugins_dir,
        durability=args.durability,
        database=args.database,
        lease=getattr(args, "lease", None),
        workers=getattr(args, "workers", None),
        stop_timeout=_or(getattr(args, "stop_timeout", None), defaults.stop_timeout),
        headless=headless,
        self_test=bool(args.self_test),
        max_line_bytes=_or(getattr(args, "max_line_bytes", None), defaults.max_line_bytes),
        keep_finished=getattr(args, "keep_finished", None),
        keep_failed=getattr(args, "keep_failed", None),
    )


def _or(value: Any, default: Any) -> Any:
    return default if value is None else value
