"""`acacia completion SHELL`: a completion script generated from the parser by shtab.

shtab turns the argparse parser into a bash, zsh, fish or tcsh script, so the script
always matches the commands and options. Job types (`enqueue TYPE`, `list --type`) are
completed at completion time by `acacia handlers --names`, which asks the running app
and prints nothing (quickly) when none runs.
"""

from __future__ import annotations

import argparse
from typing import Any

from .parser import build_parser, subcommands

TYPES_COMMAND = "acacia handlers --names"


def _job_types() -> dict[str, Any]:
    """shtab's completer for a job type: the running app's types (none when no app runs)."""
    import shtab

    spec = dict(shtab.cmd(f"{TYPES_COMMAND} 2>/dev/null"))
    spec["tcsh"] = f"`{TYPES_COMMAND}`"  # tcsh has no 2>/dev/null; the helper is silent anyway
    spec["fish"] = f"(command -q acacia; and {TYPES_COMMAND} 2>/dev/null)"  # fish itself reports a missing command
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


def completion_script(shell: str) -> str:
    """The completion script for `shell` (one of parser.COMPLETION_SHELLS)."""
    import shtab

    parser = build_parser()
    _annotate(parser)
    return shtab.complete(parser, shell=shell)
