"""JSON Patch (RFC 6902): the difference between two JSON documents, and applying one.

Owns: ``json_patch(old, new)``, a list of ``add``/``remove``/``replace`` operations that turns
``old`` into ``new`` (maps key by key; a list that only grew gets its new items appended with
``/-``; a list whose length is unchanged is compared item by item; any other list is replaced
whole), with JSON Pointer escaping (``~`` → ``~0``, ``/`` → ``~1``, RFC 6901), and
``apply_patch`` for exactly those three operations. Equal documents give an empty patch. It must
never look at what the documents mean.
"""

from __future__ import annotations

import copy
from typing import Any

Operation = dict[str, Any]


def escape(token: str) -> str:
    """One JSON Pointer reference token (RFC 6901)."""
    return token.replace("~", "~0").replace("/", "~1")


def _unescape(token: str) -> str:
    return token.replace("~1", "/").replace("~0", "~")


def json_patch(old: Any, new: Any, path: str = "") -> list[Operation]:
    """Operations that turn ``old`` into ``new`` (``path`` is the pointer both sit at)."""
    if isinstance(old, dict) and isinstance(new, dict):
        ops: list[Operation] = [{"op": "remove", "path": f"{path}/{escape(k)}"} for k in old if k not in new]
        for key, value in new.items():
            where = f"{path}/{escape(key)}"
            if key not in old:
                ops.append({"op": "add", "path": where, "value": copy.deepcopy(value)})
            else:
                ops.extend(json_patch(old[key], value, where))
        return ops
    if isinstance(old, list) and isinstance(new, list):
        if len(new) > len(old) and new[: len(old)] == old:
            return [{"op": "add", "path": f"{path}/-", "value": copy.deepcopy(v)} for v in new[len(old) :]]
        if len(new) == len(old):
            return [
                op
                for i, (a, b) in enumerate(zip(old, new, strict=True))
                for op in json_patch(a, b, f"{path}/{i}")
            ]
    if type(old) is type(new) and old == new:
        return []
    return [{"op": "replace", "path": path, "value": copy.deepcopy(new)}]


def _parent(document: Any, path: str) -> tuple[Any, str]:
    if not path.startswith("/"):
        raise ValueError(f"JSON pointer {path!r} must start with '/'")
    tokens = [_unescape(t) for t in path[1:].split("/")]
    target = document
    for token in tokens[:-1]:
        target = target[int(token)] if isinstance(target, list) else target[token]
    return target, tokens[-1]


def apply_patch(document: Any, patch: list[Operation]) -> Any:
    """A copy of ``document`` with ``patch`` applied (add, remove, replace only)."""
    result = copy.deepcopy(document)
    for op in patch:
        kind, path = op["op"], op["path"]
        if path == "":
            if kind != "replace":
                raise ValueError(f"operation {kind!r} on the whole document is not supported")
            result = copy.deepcopy(op["value"])
            continue
        parent, token = _parent(result, path)
        if kind == "add":
            if isinstance(parent, list):
                index = len(parent) if token == "-" else int(token)  # noqa: S105 - "-" is RFC 6901 "append"
                parent.insert(index, copy.deepcopy(op["value"]))
            else:
                parent[token] = copy.deepcopy(op["value"])
        elif kind == "remove":
            del parent[int(token) if isinstance(parent, list) else token]
        elif kind == "replace":
            parent[int(token) if isinstance(parent, list) else token] = copy.deepcopy(op["value"])
        else:
            raise ValueError(f"unsupported JSON patch operation {kind!r} at {path!r}")
    return result
