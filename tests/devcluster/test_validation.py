"""Strict schema validation per Kubernetes version (422), the fast validator's agreement with
jsonschema, and the cheap semantic rules (one-of node selection, device limits, immutability)."""

from __future__ import annotations

import copy
from collections.abc import Iterator
from typing import Any

import pytest

from dra_driver.devcluster import DevCluster
from dra_driver.devcluster.schema import ObjectValidator, validator
from dra_driver.kube.features import KubeVersion
from tests.support.devcluster_fixtures import allocation, claim_body, class_body, raw, slice_body

SLICES = "/apis/resource.k8s.io/v1/resourceslices"
VERSIONS = [KubeVersion(1, 34), KubeVersion(1, 35), KubeVersion(1, 36)]


@pytest.fixture(params=VERSIONS, ids=str)
def versioned(request: pytest.FixtureRequest) -> Iterator[DevCluster]:
    with DevCluster(kube_version=request.param) as cluster:
        yield cluster


def test_schema_typo_is_422_with_the_schema_message(versioned: DevCluster) -> None:
    body = slice_body("s")
    body["spec"]["devices"][0]["capacityy"] = {"memory": {"value": "1Gi"}}
    response = raw(versioned.url, "POST", SLICES, body)
    assert response.status == 422
    status = response.json()
    assert status["reason"] == "Invalid"
    assert status["message"].startswith(
        """ResourceSlice.resource.k8s.io "s" is invalid: Additional properties are not allowed"""
        """ ('capacityy' was unexpected)"""
    )
    assert status["details"]["causes"][0]["field"] == "spec.devices[0]"
    wrong_type = slice_body("s")
    wrong_type["spec"]["pool"]["resourceSliceCount"] = "1"
    message = raw(versioned.url, "POST", SLICES, wrong_type).json()["message"]
    assert "'1' is not of type 'integer'" in message


@pytest.mark.parametrize(
    ("version", "accepted"), [(VERSIONS[0], False), (VERSIONS[1], False), (VERSIONS[2], True)]
)
def test_schema_follows_the_chosen_release(version: KubeVersion, accepted: bool) -> None:
    body = slice_body("s")
    body["spec"]["devices"][0]["attributes"]["links"] = {
        "strings": ["a", "b"]
    }  # list attributes: new in 1.36
    with DevCluster(kube_version=version) as cluster:
        response = raw(cluster.url, "POST", SLICES, body)
    assert response.status == (201 if accepted else 422), response.body
    if not accepted:
        assert "('strings' was unexpected)" in response.json()["message"]


def _mutations(obj: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[tuple[Any, ...], Any]]:
    """(path, replacement) pairs: wrong types, nulls and unknown keys at every position."""
    replacements: tuple[Any, ...] = (None, "x", 7, 1.5, True, [], {}, "__delete__")
    for value in replacements:
        if path:
            yield path, value
    if isinstance(obj, dict):
        yield (*path, "zzzUnknown"), "x"
        for key, child in obj.items():
            yield from _mutations(child, (*path, key))
    elif isinstance(obj, list) and obj:
        yield from _mutations(obj[0], (*path, 0))


def _apply(obj: Any, path: tuple[Any, ...], value: Any) -> Any:
    mutated = copy.deepcopy(obj)
    parent = mutated
    for step in path[:-1]:
        parent = parent[step]
    if value == "__delete__":
        del parent[path[-1]]
    else:
        parent[path[-1]] = value
    return mutated


def _samples() -> list[tuple[str, str, dict[str, Any]]]:
    claim = claim_body()
    claim["metadata"].update(
        {"uid": "u", "resourceVersion": "5", "finalizers": ["a/b"], "labels": {"a": "b"}}
    )
    claim["status"] = {
        "allocation": allocation(),
        "reservedFor": [{"resource": "pods", "name": "p", "uid": "u"}],
    }
    sliced = slice_body("s", devices=1)
    sliced["spec"]["devices"][0]["taints"] = [{"key": "k", "effect": "NoSchedule"}]
    pod = {
        "apiVersion": "v1",
        "kind": "Pod",
        "metadata": {"name": "p"},
        "spec": {"containers": [{"name": "c", "image": "i", "resources": {"limits": {"cpu": "1"}}}]},
    }
    return [
        ("resource.k8s.io/v1", "ResourceSlice", sliced),
        ("resource.k8s.io/v1", "ResourceClaim", claim),
        ("resource.k8s.io/v1", "DeviceClass", class_body()),
        ("v1", "Pod", pod),
    ]


@pytest.mark.parametrize(
    ("api_version", "kind", "sample"), _samples(), ids=lambda v: v if isinstance(v, str) else ""
)
def test_fast_validator_agrees_with_jsonschema(api_version: str, kind: str, sample: dict[str, Any]) -> None:
    checked = validator(KubeVersion(1, 36), api_version, kind)
    assert checked.fast_valid(sample) is True and checked.jsonschema_valid(sample)
    disagreements = []
    rejected = 0
    for path, value in _mutations(sample):
        mutated = _apply(sample, path, value)
        fast = checked.fast_valid(mutated)
        rejected += fast is False
        if fast != checked.jsonschema_valid(mutated):
            disagreements.append((path, value))
    assert disagreements == []
    assert rejected > 20  # the mutations do exercise the rejecting paths


def test_jsonschema_is_built_only_once_an_object_is_rejected() -> None:
    """Start-up (issue 17 item 6): valid writes use the compiled fast path alone."""
    checked = ObjectValidator(KubeVersion(1, 36), "resource.k8s.io/v1", "DeviceClass")
    assert checked.compiled
    assert checked.error(class_body()) is None
    assert "_jsonschema" not in vars(checked)  # the cached_property was never read
    wrong = class_body()
    wrong["spec"]["selectors"] = "x"
    error = checked.error(wrong)
    assert error is not None and error.path == "spec.selectors" and "is not of type 'array'" in error.message
    assert "_jsonschema" in vars(checked)


def test_resource_slice_semantic_rules(devcluster: DevCluster) -> None:
    def post(body: dict[str, Any]) -> str:
        response = raw(devcluster.url, "POST", SLICES, body)
        assert response.status == 422, response.body
        return str(response.json()["message"])

    no_driver = slice_body("s")
    no_driver["spec"]["driver"] = ""
    assert "spec.driver: Required value" in post(no_driver)
    no_node = slice_body("s")
    del no_node["spec"]["nodeName"]
    assert "spec: Required value: exactly one of `nodeName`, `nodeSelector`, `allNodes`" in post(no_node)
    two = slice_body("s")
    two["spec"]["allNodes"] = True
    assert 'spec: Invalid value: "{`nodeName`, `allNodes`}"' in post(two)
    too_many = slice_body("s", devices=129)
    assert "spec.devices: Too many: 129: must have at most 128 items" in post(too_many)
    duplicate = slice_body("s", devices=2)
    duplicate["spec"]["devices"][1]["name"] = "gpu-0"
    assert 'spec.devices[1].name: Duplicate value: "gpu-0"' in post(duplicate)
    bad_name = slice_body("Not_A_Name")
    assert "metadata.name: Invalid value" in post(bad_name)
    assert raw(devcluster.url, "POST", SLICES, slice_body("s", devices=128)).status == 201


def test_immutable_fields(devcluster: DevCluster) -> None:
    url = devcluster.url
    assert raw(url, "POST", SLICES, slice_body("s")).status == 201
    for field, value in (("driver", "other.example.com"), ("nodeName", "node-b")):
        current = raw(url, "GET", f"{SLICES}/s").json()
        current["spec"][field] = value
        response = raw(url, "PUT", f"{SLICES}/s", current)
        assert response.status == 422
        assert f'spec.{field}: Invalid value: "{value}": field is immutable' in response.json()["message"]
    current = raw(url, "GET", f"{SLICES}/s").json()
    current["spec"]["pool"]["name"] = "other"
    assert "spec.pool.name: Invalid value" in raw(url, "PUT", f"{SLICES}/s", current).json()["message"]
    claims = "/apis/resource.k8s.io/v1/namespaces/default/resourceclaims"
    assert raw(url, "POST", claims, claim_body()).status == 201
    claim = raw(url, "GET", f"{claims}/claim-a").json()
    claim["spec"]["devices"]["requests"][0]["name"] = "renamed"
    response = raw(url, "PUT", f"{claims}/claim-a", claim)
    assert response.status == 422
    assert (
        'ResourceClaim.resource.k8s.io "claim-a" is invalid: spec: Invalid value'
        in response.json()["message"]
    )
