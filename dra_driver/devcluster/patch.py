"""PATCH bodies: JSON merge patch (RFC 7386) and JSON patch (RFC 6902), plus content-type dispatch.

Owns: applying a decoded patch document to a copy of the stored object and the mapping of patch
errors to upstream statuses (a malformed document is 400, an operation that cannot apply is 422).
Strategic merge patch lives in ``smp``. Server-side apply (``application/apply-patch+yaml``) is not
modelled and answers 415. It must never store anything or check resourceVersions.
"""

from __future__ import annotations

import copy
import json
from typing import Any

from dra_driver.devcluster.errors import ApiError, bad_request, unsupported_media_type
from dra_driver.devcluster.smp import PatchMeta, strategic_merge

MERGE = "application/merge-patch+json"
JSON_PATCH = "application/json-patch+json"
STRATEGIC = "application/strategic-merge-patch+json"
APPLY = "application/apply-patch+yaml"
ACCEPTED = (JSON_PATCH, MERGE, STRATEGIC)


def _unprocessable(message: str) -> ApiError:
    return ApiError(422, "Invalid", message)


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386: objects merge recursively, ``null`` deletes, anything else replaces."""
    if not isinstance(patch, dict):
        return copy.deepcopy(patch)
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


def _pointer(path: str) -> list[str]:
    if path == "":
        return []
    if not path.startswith("/"):
        raise bad_request(f"JSON patch path {path!r} must start with '/'")
    return [part.replace("~1", "/").replace("~0", "~") for part in path[1:].split("/")]


def _parent(doc: Any, parts: list[str], path: str) -> tuple[Any, str]:
    node = doc
    for part in parts[:-1]:
        if isinstance(node, dict) and part in node:
            node = node[part]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            raise _unprocessable(f"JSON patch: path {path!r} does not exist (missing {part!r})")
    return node, parts[-1]


def _get(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        return doc
    parent, last = _parent(doc, parts, path)
    if isinstance(parent, dict) and last in parent:
        return parent[last]
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent[int(last)]
    raise _unprocessable(f"JSON patch: path {path!r} does not exist")


def _remove(doc: Any, path: str) -> Any:
    parts = _pointer(path)
    if not parts:
        raise _unprocessable("JSON patch: cannot remove the whole document")
    parent, last = _parent(doc, parts, path)
    if isinstance(parent, dict) and last in parent:
        return parent.pop(last)
    if isinstance(parent, list) and last.isdigit() and int(last) < len(parent):
        return parent.pop(int(last))
    raise _unprocessable(f"JSON patch: cannot remove {path!r}: it does not exist")


def _add(doc: Any, path: str, value: Any, replace: bool) -> Any:
    parts = _pointer(path)
    if not parts:
        return value
    parent, last = _parent(doc, parts, path)
    if isinstance(parent, dict):
        if replace and last not in parent:
            raise _unprocessable(f"JSON patch: cannot replace {path!r}: it does not exist")
        parent[last] = value
    elif isinstance(parent, list):
        if last == "-" and not replace:
            parent.append(value)
        elif last.isdigit() and int(last) <= len(parent) - (1 if replace else 0):
            if replace:
                parent[int(last)] = value
            else:
                parent.insert(int(last), value)
        else:
            raise _unprocessable(f"JSON patch: index {last!r} of {path!r} is out of range")
    else:
        raise _unprocessable(f"JSON patch: parent of {path!r} is not an object or array")
    return doc


def json_patch(target: Any, operations: Any) -> Any:
    """RFC 6902 add/remove/replace/move/copy/test on a deep copy of ``target``."""
    if not isinstance(operations, list):
        raise bad_request("JSON patch body must be a JSON array of operations")
    doc = copy.deepcopy(target)
    for index, op in enumerate(operations):
        if (
            not isinstance(op, dict)
            or not isinstance(op.get("op"), str)
            or not isinstance(op.get("path"), str)
        ):
            raise bad_request(f"JSON patch operation {index} must be an object with string 'op' and 'path'")
        kind, path = op["op"], op["path"]
        if kind in ("add", "replace", "test") and "value" not in op:
            raise bad_request(f"JSON patch operation {index} ({kind} {path}) has no 'value'")
        if kind == "add":
            doc = _add(doc, path, copy.deepcopy(op["value"]), replace=False)
        elif kind == "replace":
            doc = _add(doc, path, copy.deepcopy(op["value"]), replace=True)
        elif kind == "remove":
            _remove(doc, path)
        elif kind in ("move", "copy"):
            source = op.get("from")
            if not isinstance(source, str):
                raise bad_request(f"JSON patch operation {index} ({kind} {path}) has no string 'from'")
            value = _remove(doc, source) if kind == "move" else copy.deepcopy(_get(doc, source))
            doc = _add(doc, path, value, replace=False)
        elif kind == "test":
            if _get(doc, path) != op["value"]:
                raise _unprocessable(
                    f"JSON patch: test operation {index} failed: {path!r} differs from the value"
                )
        else:
            raise bad_request(f"JSON patch operation {index} has unknown op {kind!r}")
    return doc


def patch_media_type(content_type: str) -> str:
    """The patch media type of a Content-Type header; 415 unless the dev cluster applies it."""
    media = content_type.split(";", 1)[0].strip().lower()
    if media not in ACCEPTED:
        if media == APPLY:
            raise unsupported_media_type(
                media + " (server-side apply is not modelled by the dev cluster)", ACCEPTED
            )
        raise unsupported_media_type(media, ACCEPTED)
    return media


def apply_patch(content_type: str, body: bytes, current: dict[str, Any], meta: PatchMeta) -> Any:
    """Apply a PATCH body of ``content_type`` to ``current`` (which it may mutate); return the result."""
    media = patch_media_type(content_type)
    try:
        document = json.loads(body or b"null")
    except ValueError as exc:
        raise bad_request(f"PATCH body is not valid JSON ({media}): {exc}") from None
    if media == JSON_PATCH:
        return json_patch(current, document)
    if not isinstance(document, dict):
        raise bad_request(f"{media} body must be a JSON object, got {type(document).__name__}")
    if media == MERGE:
        return merge_patch(current, document)
    return strategic_merge(current, document, meta)
