"""`acacia --help` explains itself: every option and positional has a description, every
command ends with an example, and `acacia help CMD` shows a command's help."""

from __future__ import annotations

import argparse

import pytest

from acacia_gui import cli
from acacia_gui.cli.examples import EXAMPLES
from acacia_gui.cli.parser import build_parser, subcommands


def _documented(parser: argparse.ArgumentParser) -> list[argparse.Action]:
    return [a for a in parser._actions if a.help != argparse.SUPPRESS and not isinstance(a, argparse._SubParsersAction)]


def test_every_option_and_positional_has_help_text():
    parser = build_parser()
    missing = [
        f"{name}: {action.option_strings or action.dest}"
        for name, each in [("acacia", parser), *subcommands(parser).items()]
        for action in _documented(each)
        if not (action.help or "").strip()
    ]
    assert missing == []


def test_every_command_has_a_description_and_an_example():
    parser = build_parser()
    commands = subcommands(parser)
    assert {"enqueue", "cancel", "retry", "delete", "completion", "autostart", "help"} <= set(commands)
    for name, sub in [("acacia", parser), *commands.items()]:
        assert sub.description, name
        assert sub.epilog and sub.epilog.startswith("examples:"), name
        assert "\n  acacia" in sub.epilog, name
        assert "examples:\n  acacia" in sub.format_help(), name  # kept as written, not re-wrapped


def test_examples_name_real_commands():
    commands = set(subcommands(build_parser()))
    for name, lines in EXAMPLES.items():
        if name in commands or name == "acacia":
            for line in lines:
                assert line.startswith("acacia"), (name, line)


@pytest.mark.parametrize("topic", ["enqueue", "retry", "autostart"])
def test_help_command_prints_that_commands_help(topic, capsys):
    assert cli.main(["help", topic], launch_app=lambda options: 99) == 0
    out = capsys.readouterr().out
    assert out.startswith(f"usage: acacia {topic}") and "examples:" in out


def test_help_without_a_command_is_the_overview_and_an_unknown_one_is_refused(capsys):
    assert cli.main(["help"], launch_app=lambda options: 99) == 0
    out = capsys.readouterr().out
    assert out.startswith("usage: acacia") and "acacia help enqueue" in out
    assert cli.main(["help", "enqeue"], launch_app=lambda options: 99) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no command 'enqeue'" in err and "enqueue" in err
