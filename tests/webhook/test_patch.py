"""JSON Patch diff and apply: escaping, list growth, replacement, round trips."""

from __future__ import annotations

import json
from typing import Any

import pytest

from dra_driver.webhook import apply_patch, json_patch

PAIRS: list[tuple[Any, Any]] = [
    ({"a": 1}, {"a": 1}),
    ({"a": 1}, {"a": 2}),
    ({"a": 1}, {"a": "1"}),
    ({"a": 1, "b": 2}, {"b": 2}),
    ({"x/y": {"~t": 1}}, {"x/y": {"~t": 2}, "new/key": []}),
    ({"l": [1, 2]}, {"l": [1, 2, 3, 4]}),
    ({"l": [1, 2, 3]}, {"l": [1, 3]}),
    ({"l": [{"a": 1}, {"b": 2}]}, {"l": [{"a": 1}, {"b": 3}]}),
    ({"v": True}, {"v": 1}),
    ([1], {"a": 1}),
]


@pytest.mark.parametrize(("old", "new"), PAIRS)
def test_patch_round_trip(old: Any, new: Any) -> None:
    patch = json_patch(old, new)
    assert apply_patch(old, patch) == new
    # Empty exactly when the JSON texts agree (True and 1 are equal in Python, not in JSON).
    assert (patch == []) == (json.dumps(old, sort_keys=True) == json.dumps(new, sort_keys=True))


def test_pointer_escaping_and_append() -> None:
    assert json_patch({"a/b": 1, "c~d": 1}, {"a/b": 2}) == [
        {"op": "remove", "path": "/c~0d"},
        {"op": "replace", "path": "/a~1b", "value": 2},
    ]
    assert json_patch({"l": [1]}, {"l": [1, 2]}) == [{"op": "add", "path": "/l/-", "value": 2}]
    assert json_patch({"l": [1, 2]}, {"l": [2]}) == [{"op": "replace", "path": "/l", "value": [2]}]


def test_apply_refuses_unknown_operations() -> None:
    with pytest.raises(ValueError, match="unsupported JSON patch operation 'move'"):
        apply_patch({"a": 1}, [{"op": "move", "from": "/a", "path": "/b"}])
