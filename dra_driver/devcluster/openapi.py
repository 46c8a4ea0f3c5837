"""The OpenAPI v3 documents of the dev cluster (``/openapi/v3`` and ``/openapi/v3/<group-version>``).

Owns: the discovery root (one ``serverRelativeURL`` per served group-version, with a content hash as
the real server gives) and each group-version's document: ``paths`` for every served resource
(collection and item; the item's PATCH and the collection's POST carry
``x-kubernetes-group-version-kind`` and the ``fieldValidation``, ``fieldManager`` and ``dryRun``
query parameters) and ``components.schemas`` with the kinds' definitions and everything they
reference, converted from the ``kubernetes-validate`` schemas the dev cluster validates with
(``$ref`` into ``#/components/schemas/``, JSON-schema ``[type, "null"]`` to the type, the strict
variant's ``additionalProperties: false`` dropped).

Why: kubectl (1.27+) decides per kind whether the server validates fields itself by looking for
``fieldValidation`` among the PATCH parameters in this document
(k8s.io/cli-runtime pkg/resource/query_param_verifier_v3.go); found, it sends
``fieldValidation=Strict`` and validates nothing itself, which the dev cluster honours (its schemas
are strict). Without the documents ``kubectl apply`` fails unless ``--validate=false``. The schemas
also serve ``kubectl explain``. ``/openapi/v2`` (used only when v3 is missing) is not served. This
module must never look at stored objects.
"""

from __future__ import annotations

import hashlib
import json
from functools import cache
from typing import Any

from dra_driver.devcluster.resources import RESOURCES, ResourceKind
from dra_driver.devcluster.schema import definitions
from dra_driver.kube.features import KubeVersion

_QUERY = ("dryRun", "fieldManager", "fieldValidation")
_DEFS = "#/$defs/"
_SCHEMAS = "#/components/schemas/"


def group_version_path(group: str, version: str) -> str:
    """``api/v1`` or ``apis/<group>/<version>``, the keys of the root document."""
    return f"apis/{group}/{version}" if group else f"api/{version}"


def served_group_versions() -> list[tuple[str, str]]:
    return sorted({(r.group, r.version) for r in RESOURCES})


@cache
def root_document(version: KubeVersion) -> dict[str, Any]:
    paths = {}
    for group, gv_version in served_group_versions():
        path = group_version_path(group, gv_version)
        digest = hashlib.sha512(encoded_group_version(version, group, gv_version)).hexdigest()[:128].upper()
        paths[path] = {"serverRelativeURL": f"/openapi/v3/{path}?hash={digest}"}
    return {"paths": paths}


def find(path: str) -> tuple[str, str] | None:
    """The (group, version) of ``api/v1`` / ``apis/<group>/<version>``, or None when not served."""
    for group, gv_version in served_group_versions():
        if path.strip("/") == group_version_path(group, gv_version):
            return group, gv_version
    return None


@cache
def encoded_group_version(version: KubeVersion, group: str, gv_version: str) -> bytes:
    return json.dumps(group_version_document(version, group, gv_version), separators=(",", ":")).encode()


def group_version_document(version: KubeVersion, group: str, gv_version: str) -> dict[str, Any]:
    defs: dict[str, Any] = definitions(version)["$defs"]
    served = [r for r in RESOURCES if (r.group, r.version) == (group, gv_version)]
    paths: dict[str, Any] = {}
    roots: list[str] = []
    for resource in served:
        name = _definition_of(defs, resource)
        if name is None:
            continue
        roots.append(name)
        paths.update(_paths(resource, name))
    return {
        "openapi": "3.0.0",
        "info": {"title": "Kubernetes (hdra dev cluster)", "version": f"v{version.major}.{version.minor}.0"},
        "paths": paths,
        "components": {"schemas": {key: _convert(defs[key]) for key in _closure(defs, roots)}},
    }


def _definition_of(defs: dict[str, Any], resource: ResourceKind) -> str | None:
    for name, schema in defs.items():
        for gvk in schema.get("x-kubernetes-group-version-kind") or []:
            if (gvk.get("group"), gvk.get("version"), gvk.get("kind")) == (
                resource.group,
                resource.version,
                resource.kind,
            ):
                return name
    return None


def _paths(resource: ResourceKind, definition: str) -> dict[str, Any]:
    base = f"/{group_version_path(resource.group, resource.version)}"
    if resource.namespaced:
        base += "/namespaces/{namespace}"
    collection, item = f"{base}/{resource.plural}", f"{base}/{resource.plural}/{{name}}"
    gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
    body = {"content": {"application/json": {"schema": {"$ref": f"{_SCHEMAS}{definition}"}}}}
    answer = {"200": {"description": "OK", **body}}
    query = [{"name": name, "in": "query", "schema": {"type": "string"}} for name in _QUERY]

    def operation(verb: str, **extra: Any) -> dict[str, Any]:
        return {
            "operationId": f"{verb}{resource.kind}",
            "x-kubernetes-action": verb,
            "x-kubernetes-group-version-kind": gvk,
            "responses": answer,
            **extra,
        }

    path_params = [{"name": "name", "in": "path", "required": True, "schema": {"type": "string"}}]
    if resource.namespaced:
        path_params.append(
            {"name": "namespace", "in": "path", "required": True, "schema": {"type": "string"}}
        )
    return {
        collection: {
            "get": operation("list"),
            "post": operation("post", parameters=query, requestBody=body),
            "parameters": path_params[1:],
        },
        item: {
            "get": operation("get"),
            "put": operation("put", parameters=query, requestBody=body),
            "patch": operation("patch", parameters=query),
            "delete": operation("delete"),
            "parameters": path_params,
        },
    }


def _closure(defs: dict[str, Any], roots: list[str]) -> list[str]:
    """``roots`` and every definition they reference, transitively, in a stable order."""
    seen: set[str] = set()
    stack = list(roots)
    while stack:
        name = stack.pop()
        if name in seen or name not in defs:
            continue
        seen.add(name)
        stack.extend(_references(defs[name]))
    return sorted(seen)


def _references(node: Any) -> list[str]:
    found: list[str] = []
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            ref = item.get("$ref")
            if isinstance(ref, str) and _DEFS in ref:
                found.append(ref.split(_DEFS, 1)[1])
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return found


def _convert(node: Any) -> Any:
    """A JSON-schema node of kubernetes-validate as an OpenAPI v3 schema node."""
    if isinstance(node, list):
        return [_convert(item) for item in node]
    if not isinstance(node, dict):
        return node
    converted: dict[str, Any] = {}
    for key, value in node.items():
        if key in ("$schema", "$id"):
            continue
        if key == "$ref" and isinstance(value, str) and _DEFS in value:
            converted[key] = _SCHEMAS + value.split(_DEFS, 1)[1]
        elif key == "type" and isinstance(value, list):
            kinds = [kind for kind in value if kind != "null"]
            converted[key] = kinds[0] if len(kinds) == 1 else kinds
        elif key == "additionalProperties" and value is False:
            continue
        elif key in ("properties", "patternProperties") and isinstance(value, dict):
            converted[key] = {name: _convert(schema) for name, schema in value.items()}
        else:
            converted[key] = _convert(value)
    return converted
