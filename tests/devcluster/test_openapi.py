"""``/openapi/v3`` of the dev cluster (issue 18 item 2): what kubectl reads to decide that the server
validates fields itself (k8s.io/cli-runtime pkg/resource/query_param_verifier_v3.go: a PATCH
operation with ``x-kubernetes-group-version-kind`` and a ``fieldValidation`` query parameter), and
schemas whose references all resolve (``kubectl explain``)."""

from __future__ import annotations

from typing import Any

from dra_driver.devcluster import DevCluster
from dra_driver.devcluster.resources import RESOURCES
from tests.support.devcluster_fixtures import raw


def _refs(node: Any) -> set[str]:
    found: set[str] = set()
    pending = [node]
    while pending:
        item = pending.pop()
        if isinstance(item, dict):
            if isinstance(item.get("$ref"), str):
                found.add(item["$ref"])
            pending.extend(item.values())
        elif isinstance(item, list):
            pending.extend(item)
    return found


def test_every_served_kind_declares_server_side_field_validation(devcluster: DevCluster) -> None:
    root = raw(devcluster.url, "GET", "/openapi/v3").json()
    served = {(r.group, r.version) for r in RESOURCES}
    expected = {f"apis/{g}/{v}" if g else f"api/{v}" for g, v in served}
    assert set(root["paths"]) == expected
    for resource in RESOURCES:
        path = f"apis/{resource.group}/{resource.version}" if resource.group else f"api/{resource.version}"
        url = root["paths"][path]["serverRelativeURL"]
        assert url.startswith(f"/openapi/v3/{path}?hash=")
        document = raw(devcluster.url, "GET", url).json()
        gvk = {"group": resource.group, "version": resource.version, "kind": resource.kind}
        patches = [
            op["patch"]
            for op in document["paths"].values()
            if "patch" in op and op["patch"]["x-kubernetes-group-version-kind"] == gvk
        ]
        assert len(patches) == 1, resource.kind
        assert {"name": "fieldValidation", "in": "query", "schema": {"type": "string"}} in patches[0][
            "parameters"
        ]


def test_schemas_are_openapi_v3_and_every_reference_resolves(devcluster: DevCluster) -> None:
    document = raw(devcluster.url, "GET", "/openapi/v3/apis/resource.k8s.io/v1").json()
    schemas = document["components"]["schemas"]
    assert document["openapi"].startswith("3.")
    for ref in _refs(document):
        assert ref.startswith("#/components/schemas/") and ref.split("/")[-1] in schemas, ref
    claim = schemas["io.k8s.api.resource.v1.ResourceClaim"]
    assert claim["properties"]["kind"]["type"] == "string"  # JSON-schema ["string", "null"] converted
    count = schemas["io.k8s.api.resource.v1.ExactDeviceRequest"]["properties"]["count"]
    assert count["type"] == "integer"


def test_unknown_group_versions_and_writes_are_refused(devcluster: DevCluster) -> None:
    assert raw(devcluster.url, "GET", "/openapi/v3/apis/apps/v1").status == 404
    assert raw(devcluster.url, "POST", "/openapi/v3", {}).status == 405
