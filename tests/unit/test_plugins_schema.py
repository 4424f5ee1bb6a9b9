"""Payload validation against handler schemas (jsonschema), and schema checks at load time."""

from __future__ import annotations

import pytest

from acacia_gui.core.errors import InvalidOptionError, InvalidPayloadError
from acacia_gui.core.registry import make_registered_handler
from acacia_gui.plugins.schema import check_schema, validate_payload

SCHEMA = {
    "type": "object",
    "properties": {
        "width": {"type": "integer", "minimum": 1},
        "path": {"type": "string", "format": "path"},
        "mode": {"enum": ["fast", "slow"]},
        "items": {"type": "array", "items": {"type": "object", "properties": {"n": {"type": "number"}}}},
        "when": {"type": "string", "format": "date"},
    },
    "required": ["path"],
    "additionalProperties": False,
}


def handler(schema=SCHEMA):
    return make_registered_handler("img.resize", lambda ctx, job: None, schema=schema)


@pytest.mark.parametrize("payload", [
    {"path": "/tmp/x"},
    {"path": "relative/file name.txt", "width": 3, "mode": "fast", "items": [{"n": 1.5}, {}], "when": "2024-02-29"},
])
def test_good_payloads_pass(payload) -> None:
    validate_payload(handler(), payload)


@pytest.mark.parametrize(("payload", "message"), [
    ({"path": "x", "width": -3}, "payload.width: -3 is less than the minimum of 1"),
    ({"width": 3}, "payload: 'path' is a required property"),
    ({"path": "x", "mode": "medium"}, "payload.mode: 'medium' is not one of ['fast', 'slow']"),
    ({"path": "x", "items": [{"n": 1}, {"n": "two"}]}, "payload.items[1].n: 'two' is not of type 'number'"),
    ({"path": ""}, "payload.path: '' is not a 'path'"),
    ({"path": "x", "when": "2024-02-30"}, "payload.when: '2024-02-30' is not a 'date'"),
    ({"path": "x", "colour": "red"}, "payload: Additional properties are not allowed ('colour' was unexpected)"),
    (None, "payload: None is not of type 'object'"),
    ([1, 2], "payload: [1, 2] is not of type 'object'"),
])
def test_bad_payloads_say_where_and_why(payload, message: str) -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        validate_payload(handler(), payload)
    assert str(caught.value) == f"invalid payload for 'img.resize': {message}"


def test_a_huge_bad_value_gives_a_short_one_line_message() -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        validate_payload(handler({"type": "string"}), {"text": "word\n" * 10_000})
    assert len(str(caught.value)) < 400 and "\n" not in str(caught.value)


def test_a_handler_without_schema_accepts_any_payload() -> None:
    validate_payload(make_registered_handler("free", lambda ctx, job: None), {"anything": [1, None]})


def test_the_schema_dialect_follows_dollar_schema() -> None:
    draft4 = {"$schema": "http://json-schema.org/draft-04/schema#", "type": "number",
              "minimum": 0, "exclusiveMinimum": True}  # a boolean here is draft 4 only
    check_schema(draft4)
    validate_payload(handler(draft4), 1)
    with pytest.raises(InvalidPayloadError, match="less than or equal to the minimum of 0"):
        validate_payload(handler(draft4), 0)
    with pytest.raises(InvalidOptionError, match="is not a valid JSON schema"):
        check_schema({k: v for k, v in draft4.items() if k != "$schema"})  # Draft 2020-12 by default


@pytest.mark.parametrize(("schema", "message"), [
    ({"type": "nonsense"}, "the payload schema of 'x' is not a valid JSON schema: schema.type: 'nonsense' is not valid"),
    ({"properties": {"n": {"minimum": "one"}}},
     "the payload schema of 'x' is not a valid JSON schema: schema.properties.n.minimum: 'one' is not of type"),
    ({"required": "path"}, "the payload schema of 'x' is not a valid JSON schema: schema.required: 'path' is not"),
    ({"default": {1, 2}}, "the payload schema of 'x' is not JSON: Object of type set is not JSON serializable"),
    ({"maximum": float("nan")}, "the payload schema of 'x' is not JSON"),
    ([1], "the payload schema of 'x' must be a JSON schema object (a dict), got list"),
])
def test_bad_schemas_are_reported_clearly(schema, message: str) -> None:
    with pytest.raises(InvalidOptionError) as caught:
        check_schema(schema, job_type="x")
    assert str(caught.value).startswith(message)


def test_a_payload_for_a_handler_with_a_bad_schema_is_refused_with_the_reason() -> None:
    with pytest.raises(InvalidPayloadError) as caught:
        validate_payload(handler({"type": "nonsense"}), {})
    assert str(caught.value).startswith("cannot check the payload: the payload schema of 'img.resize' is not a valid")
