"""Strategic merge patch (``application/strategic-merge-patch+json``), the subset the dev cluster serves.

Owns: merging a strategic patch into an object using the list strategies the real server uses. Those
come from the ``x-kubernetes-patch-strategy`` / ``x-kubernetes-patch-merge-key`` extensions of the
shipped OpenAPI schema, which mirror the Go ``patchStrategy``/``patchMergeKey`` tags upstream
reads: ``metadata.finalizers`` merges as a set, ``metadata.ownerReferences`` and
``status.reservedFor`` merge by ``uid``, pod ``conditions`` by ``type``. Lists without a strategy are
atomic and replaced whole, exactly as upstream; note that this includes ResourceSlice
``spec.devices`` (``x-kubernetes-list-type: atomic``), so a patch carrying ``devices`` replaces them all.

Directives implemented: ``$patch: replace|delete|merge`` (maps and list elements),
``$deleteFromPrimitiveList/<field>``, ``$setElementOrder/<field>``, ``$retainKeys``. Anything else
starting with ``$`` is a 400. It must never store objects or check resourceVersions.
"""

from __future__ import annotations

import copy
from typing import Any

from dra_driver.devcluster.errors import bad_request
from dra_driver.devcluster.schema import definitions, ref_name, root_schema
from dra_driver.kube.features import KubeVersion

_DELETE = object()


class PatchMeta:
    """A position in the schema of the object being patched (None: no schema known there)."""

    def __init__(self, defs: dict[str, Any], node: dict[str, Any] | None) -> None:
        self._defs = defs
        self._node = node

    @classmethod
    def for_kind(cls, version: KubeVersion, api_version: str, kind: str) -> PatchMeta:
        return cls(definitions(version)["$defs"], root_schema(version, api_version, kind))

    def _resolved(self) -> dict[str, Any]:
        node = self._node or {}
        seen = 0
        while "$ref" in node and seen < 32:
            node = self._defs.get(ref_name(node["$ref"]), {})
            seen += 1
        return node

    def child(self, key: str) -> PatchMeta:
        node = self._resolved()
        props = node.get("properties", {})
        if key in props:
            return PatchMeta(self._defs, props[key])
        extra = node.get("additionalProperties")
        return PatchMeta(self._defs, extra if isinstance(extra, dict) else None)

    def items(self) -> PatchMeta:
        items = (self._node or {}).get("items")
        return PatchMeta(self._defs, items if isinstance(items, dict) else None)

    @property
    def merges(self) -> bool:
        strategy = str((self._node or {}).get("x-kubernetes-patch-strategy", ""))
        return "merge" in strategy.split(",")

    @property
    def merge_key(self) -> str | None:
        key = (self._node or {}).get("x-kubernetes-patch-merge-key")
        return str(key) if key else None


def strategic_merge(original: dict[str, Any], patch: dict[str, Any], meta: PatchMeta) -> dict[str, Any]:
    merged = _merge_map(original, patch, meta)
    if merged is _DELETE:
        raise bad_request("strategic merge patch: '$patch: delete' on the whole object is not allowed")
    assert isinstance(merged, dict)
    return merged


def _merge_map(original: dict[str, Any], patch: dict[str, Any], meta: PatchMeta) -> Any:
    patch = dict(patch)
    directive = patch.pop("$patch", None)
    if directive == "delete":
        return _DELETE
    if directive == "replace":
        return {k: copy.deepcopy(v) for k, v in patch.items() if not k.startswith("$")}
    if directive not in (None, "merge"):
        raise bad_request(f"strategic merge patch: unknown $patch directive {directive!r}")
    retain = patch.pop("$retainKeys", None)
    result = dict(original)
    deletions: dict[str, list[Any]] = {}
    orders: dict[str, list[Any]] = {}
    for key, value in patch.items():
        if key.startswith("$deleteFromPrimitiveList/"):
            deletions[key.split("/", 1)[1]] = list(value or [])
        elif key.startswith("$setElementOrder/"):
            orders[key.split("/", 1)[1]] = list(value or [])
        elif key.startswith("$"):
            raise bad_request(f"strategic merge patch: unknown directive {key!r}")
        elif value is None:
            result.pop(key, None)
        else:
            child = meta.child(key)
            current = result.get(key)
            if isinstance(value, dict) and (current is None or isinstance(current, dict)):
                merged = _merge_map(current or {}, value, child)
                if merged is _DELETE:
                    result.pop(key, None)
                else:
                    result[key] = merged
            elif isinstance(value, list) and child.merges:
                result[key] = _merge_list(current if isinstance(current, list) else [], value, child, key)
            else:
                result[key] = copy.deepcopy(value)
    for key, removed in deletions.items():
        if isinstance(result.get(key), list):
            result[key] = [item for item in result[key] if item not in removed]
    for key, order in orders.items():
        if isinstance(result.get(key), list):
            result[key] = _reorder(result[key], order, meta.child(key).merge_key)
    if retain is not None:
        if not isinstance(retain, list):
            raise bad_request("strategic merge patch: $retainKeys must be a list of field names")
        result = {k: v for k, v in result.items() if k in retain}
    return result


def _merge_list(original: list[Any], patch: list[Any], meta: PatchMeta, field: str) -> list[Any]:
    key = meta.merge_key
    if key is None:  # a set of primitives, e.g. finalizers
        result = list(original)
        for item in patch:
            if item not in result:
                result.append(copy.deepcopy(item))
        return result
    if any(isinstance(item, dict) and item.get("$patch") == "replace" for item in patch):
        return [copy.deepcopy(item) for item in patch if not (isinstance(item, dict) and "$patch" in item)]
    result = list(original)
    for item in patch:
        if not isinstance(item, dict):
            raise bad_request(f"strategic merge patch: items of {field!r} must be objects keyed by {key!r}")
        if key not in item:
            raise bad_request(
                f"strategic merge patch: an item of {field!r} does not contain merge key {key!r}"
            )
        positions = [
            i
            for i, existing in enumerate(result)
            if isinstance(existing, dict) and existing.get(key) == item[key]
        ]
        if item.get("$patch") == "delete":
            result = [existing for i, existing in enumerate(result) if i not in positions]
        elif positions:
            merged = _merge_map(result[positions[0]], item, meta.items())
            result[positions[0]] = merged
        else:
            result.append({k: copy.deepcopy(v) for k, v in item.items() if k != "$patch"})
    return result


def _reorder(items: list[Any], order: list[Any], key: str | None) -> list[Any]:
    def ident(item: Any) -> Any:
        return item.get(key) if key is not None and isinstance(item, dict) else item

    wanted = [ident(entry) for entry in order]
    ranked = sorted(
        enumerate(items),
        key=lambda pair: (wanted.index(ident(pair[1])) if ident(pair[1]) in wanted else len(wanted), pair[0]),
    )
    return [item for _, item in ranked]
