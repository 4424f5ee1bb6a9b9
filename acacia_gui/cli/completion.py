"""`acacia completion SHELL`: a completion script generated from the parser by shtab.

shtab turns the argparse parser into a bash, zsh, fish or tcsh script, so the script
always matches the commands and options. Job types (`enqueue TYPE`, `list --type`) are
completed at completion time by `acacia handlers --names`, which asks the running app
and prints nothing (quickly) when none runs; schedule names (`schedule show NAME`, …)
likewise by `acacia schedule list --names`.
"""

from __future__ import annotations

import argparse
from typing import Any

from .parser import build_parser, subcommands

TYPES_COMMAND = "acacia handlers --names"
SCHEDULES_COMMAND = "acacia schedule list --names"


def _job_types(command: str = TYPES_COMMAND) -> dict[str, Any]:
    """shtab's completer for a job type (or, with SCHEDULES_COMMAND, a schedule name): what the
    running app lists (none when no app runs)."""
    import shtab

    spec = dict(shtab.cmd(f"{command} 2>/dev/null"))
    spec["tcsh"] = f"`{command}`"  # tcsh has no 2>/dev/null; the helper is silent anyway
    spec["fish"] = f"(command -q acacia; and {command} 2>/dev/null)"  # fish itself reports a missing command
    return spec


def _annotate(parser: argparse.ArgumentParser) -> None:
    """Mark the arguments whose values the shell can complete: folders, files, job types, commands."""
    import shtab

    types = _job_types()
    commands = subcommands(parser)
    for name, sub in [("acacia", parser), *commands.items()]:
        for action in sub._actions:
            if {"--data-dir", "--plugins-dir"} & set(action.option_strings):
                action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
            elif "--batch" in action.option_strings:
                action.complete = shtab.FILE  # type: ignore[attr-defined]
            elif (name, action.dest) in (("enqueue", "type"), ("list", "type")):
                action.complete = types  # type: ignore[attr-defined]
            elif (name, action.dest) == ("help", "topic"):
                action.choices = sorted(commands)
    _annotate_schedules(commands["schedule"], types)


def _annotate_schedules(schedule: argparse.ArgumentParser, types: dict[str, Any]) -> None:
    """`acacia schedule ACTION NAME`: NAME completes from the app's schedules (but `add` names a new one)."""
    import shtab

    names = _job_types(SCHEDULES_COMMAND)
    for action_name, sub in subcommands(schedule).items():
        for action in sub._actions:
            if {"--data-dir", "--plugins-dir"} & set(action.option_strings):
                action.complete = shtab.DIRECTORY  # type: ignore[attr-defined]
            elif action.dest == "name" and action_name != "add":
                action.complete = names  # type: ignore[attr-defined]
            elif action.dest == "type":
                action.complete = types  # type: ignore[attr-defined]


def completion_script(shell: str) -> str:
    """The completion script for `shell` (one of parser.COMPLETION_SHELLS)."""
    import shtab

    parser = build_parser()
    _annotate(parser)
    return shtab.complete(parser, shell=shell)
