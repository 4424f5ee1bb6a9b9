"""docs/protocol.md is the protocol's reference: every op of the op table, each of its
params and every error code the protocol knows must be in it.

Each op has a section headed "### `name`"; its params must be named (in backticks)
inside that section, so a param documented under another op does not count. The checks
also run on a deliberately incomplete page, to show that they can fail.
"""

from __future__ import annotations

import re
from pathlib import Path

from acacia_gui.ipc.ops import OP_TABLE
from acacia_gui.ipc.protocol import _ERROR_CLASSES, PROTOCOL_VERSION

DOC = Path(__file__).resolve().parents[2] / "docs" / "protocol.md"
OP_HEADING = re.compile(r"^### `([a-z_]+)`\s*$", re.MULTILINE)


def op_sections(text: str) -> dict[str, str]:
    """Op name → the text of its section (up to the next heading of level 1-3)."""
    sections = {}
    for match in OP_HEADING.finditer(text):
        rest = text[match.end():]
        end = re.search(r"^#{1,3} ", rest, re.MULTILINE)
        sections[match.group(1)] = rest[: end.start()] if end else rest
    return sections


def error_section(text: str) -> str:
    match = re.search(r"^## Error codes\s*$(.*?)(?=^## )", text, re.MULTILINE | re.DOTALL)
    return match.group(1) if match else ""


def doc_problems(text: str) -> list[str]:
    problems = []
    sections = op_sections(text)
    for op in OP_TABLE:
        section = sections.get(op.name)
        if section is None:
            problems.append(f"op {op.name!r} has no section (### `{op.name}`)")
            continue
        problems += [f"op {op.name!r}: param {name!r} is not documented in its section"
                     for name in op.params if f"`{name}`" not in section]  # fmt: skip
    codes = error_section(text)
    problems += [f"error code {code!r} is not in the Error codes table"
                 for code in sorted(_ERROR_CLASSES) if f"| `{code}` |" not in codes]  # fmt: skip
    if f"Protocol version: **{PROTOCOL_VERSION}**" not in text:
        problems.append(f"the page does not say it describes protocol {PROTOCOL_VERSION}")
    return problems


def test_the_protocol_doc_covers_every_op_param_and_error_code():
    assert doc_problems(DOC.read_text(encoding="utf-8")) == []


def test_the_check_finds_what_is_missing():
    text = DOC.read_text(encoding="utf-8")
    without_op = re.sub(r"^### `stats`\s*$", "### Statistics", text, flags=re.MULTILINE)
    assert "op 'stats' has no section (### `stats`)" in doc_problems(without_op)
    sections = op_sections(text)
    without_param = text.replace(sections["get"], sections["get"].replace("`logs`", "logs"))
    assert doc_problems(without_param) == ["op 'get': param 'logs' is not documented in its section"]
    without_code = text.replace("| `invalid_state` |", "| invalid_state |")
    assert doc_problems(without_code) == ["error code 'invalid_state' is not in the Error codes table"]


def test_every_op_is_a_section_of_its_own():
    sections = op_sections(DOC.read_text(encoding="utf-8"))
    assert set(sections) == {op.name for op in OP_TABLE}, "a section names an op that the table does not have"
