"""The JSON input rule of the HTTP endpoints (issue 18 item 15): one ``load_json`` for the webhook and
the scheduler extender, never a RecursionError or a traceback for any bytes."""

from __future__ import annotations

import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from dra_driver.controller.node_scores import ExtenderArgsError, parse_extender_args
from dra_driver.rules import MAX_JSON_DEPTH, JsonInputError, load_json
from dra_driver.webhook.review import MalformedReview, parse_review


def nested(depth: int) -> bytes:
    return b"[" * depth + b"]" * depth


def test_depth_limit_is_exact() -> None:
    assert load_json(nested(MAX_JSON_DEPTH)) is not None
    with pytest.raises(JsonInputError, match=f"deeper than {MAX_JSON_DEPTH} levels"):
        load_json(nested(MAX_JSON_DEPTH + 1))
    assert load_json(b'{"a": [1, {"b": "x"}]}') == {"a": [1, {"b": "x"}]}


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (b"[" * 100_000, "the body nests arrays or objects deeper than 100 levels"),
        (b'{"a": ' * 100_000, "the body nests arrays or objects deeper than 100 levels"),
        (b"\xff\xfe", "the body is not UTF-8: byte 0 is invalid"),
        (b"{not json", "the body is not JSON: Expecting property name enclosed in double quotes"),
    ],
)
def test_bad_bodies_name_the_cause(body: bytes, message: str) -> None:
    with pytest.raises(JsonInputError) as info:
        load_json(body)
    assert str(info.value).startswith(message)


def test_both_endpoints_use_the_rule() -> None:
    with pytest.raises(MalformedReview, match="deeper than 100 levels"):
        parse_review(b"[" * 100_000)
    with pytest.raises(ExtenderArgsError, match="deeper than 100 levels"):
        parse_extender_args(b"[" * 100_000)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=2048) | st.text(alphabet='[]{}":,1a ', max_size=4096).map(str.encode))
def test_any_bytes_give_a_value_or_json_input_error(body: bytes) -> None:
    try:
        value = load_json(body)
    except JsonInputError:
        return
    assert json.loads(body) == value
