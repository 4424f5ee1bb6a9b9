"""The commands for living in the shell: `completion`, `autostart` and `help`.

Each is (args, config) → exit status, like commands.py; none talks to the app (the
completion script does, later, through `acacia handlers --names`).
"""

from __future__ import annotations

import argparse
import json
import os

from ..config import Config
from .output import echo
from .parser import UsageError, build_parser, subcommands


def cmd_completion(args: argparse.Namespace, config: Config) -> int:
    from .completion import completion_script

    echo(completion_script(args.shell).rstrip("\n"))
    return 0


def cmd_help(args: argparse.Namespace, config: Config) -> int:
    parser = build_parser()
    if args.topic is None:
        echo(parser.format_help().rstrip("\n"))
        return 0
    commands = subcommands(parser)
    if args.topic not in commands:
        raise UsageError(f"acacia help: no command {args.topic!r}; commands: {', '.join(sorted(commands))}")
    echo(commands[args.topic].format_help().rstrip("\n"))
    return 0


def cmd_autostart(args: argparse.Namespace, config: Config) -> int:
    from . import autostart

    if args.action == "status":
        report = autostart.status()
    elif args.action == "disable":
        report = autostart.disable("serve" if args.serve else None)
    else:
        report = autostart.enable("serve" if args.serve else "window", autostart.launch_command(_where(args, config)))
    if args.json:
        echo(json.dumps(report.entries, ensure_ascii=False))
    else:
        echo("\n".join(report.lines))
    return 0


def _where(args: argparse.Namespace, config: Config) -> list[str]:
    """--data-dir/--plugins-dir for the login entry, when this command was given them (or their env vars)."""
    extra: list[str] = []
    if args.data_dir or os.environ.get("ACACIA_DATA_DIR"):
        extra += ["--data-dir", str(config.data_dir)]
    if args.plugins_dir or os.environ.get("ACACIA_PLUGINS_DIR"):
        extra += ["--plugins-dir", str(config.plugins_dir)]
    if args.durability or os.environ.get("ACACIA_DURABILITY"):
        extra += ["--durability", str(config.durability)]
    return extra
