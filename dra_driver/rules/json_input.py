"""The JSON input rule of hdra's HTTP endpoints (webhook ``/validate`` ``/mutate``, extender ``/prioritize``).

A body is UTF-8 JSON nested at most ``MAX_JSON_DEPTH`` levels (arrays and objects); Kubernetes
objects are far shallower (a Pod is about 12 levels deep). Anything else is refused with a
``JsonInputError`` whose message names the cause, which the endpoints answer with HTTP 400: a body
of 100,000 ``[`` must not crash the parser (RecursionError) or a later recursive walk of the
decoded value. ``load_json`` never raises anything else for any ``bytes``.
"""

from __future__ import annotations

import json
from typing import Any

MAX_JSON_DEPTH = 100


class JsonInputError(ValueError):
    """The body is not JSON hdra accepts; the message says why."""


def load_json(body: bytes, *, max_depth: int = MAX_JSON_DEPTH) -> Any:
    """The decoded body, or JsonInputError (not UTF-8, not JSON, nested deeper than ``max_depth``)."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise JsonInputError(f"the body is not UTF-8: byte {exc.start} is invalid") from None
    try:
        value = json.loads(text)
    except RecursionError:
        raise JsonInputError(f"the body nests arrays or objects deeper than {max_depth} levels") from None
    except ValueError as exc:
        raise JsonInputError(f"the body is not JSON: {exc}") from None
    if _depth_exceeds(value, max_depth):
        raise JsonInputError(f"the body nests arrays or objects deeper than {max_depth} levels")
    return value


def _depth_exceeds(value: Any, max_depth: int) -> bool:
    """True when ``value`` nests containers deeper than ``max_depth`` (iterative: no recursion)."""
    stack: list[tuple[Any, int]] = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            children: Any = item.values()
        elif isinstance(item, list):
            children = item
        else:
            continue
        if depth > max_depth:
            return True
        stack.extend((child, depth + 1) for child in children if isinstance(child, dict | list))
    return False
