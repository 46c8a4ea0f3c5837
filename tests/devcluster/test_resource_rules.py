"""What the dev cluster makes of DRA objects as the real kube-apiserver v1.36.3 does: canonical
quantities, v1 defaults, and the resource.k8s.io rules of ``normalize`` and ``resource_rules``.

Each expectation below is the real server's answer to the same request, as recorded by
tests/realcluster/test_conformance.py (which compares the two servers on a larger corpus).
"""

from __future__ import annotations

from typing import Any

import pytest

from dra_driver.devcluster import DevCluster
from tests.support.devcluster_fixtures import claim_body, raw, slice_body

SLICES = "/apis/resource.k8s.io/v1/resourceslices"
CLAIMS = "/apis/resource.k8s.io/v1/namespaces/default/resourceclaims"


def test_quantities_are_stored_canonically(devcluster: DevCluster) -> None:
    body = slice_body("s", devices=1)
    body["spec"]["devices"][0]["capacity"] = {"memory": {"value": "40960Mi"}, "cores": {"value": "1000m"}}
    created = raw(devcluster.url, "POST", SLICES, body).json()
    assert created["spec"]["devices"][0]["capacity"] == {"memory": {"value": "40Gi"}, "cores": {"value": "1"}}


def test_a_malformed_quantity_is_a_bad_request(devcluster: DevCluster) -> None:
    body = slice_body("s", devices=1)
    body["spec"]["devices"][0]["capacity"] = {"memory": {"value": "12Gx"}}
    response = raw(devcluster.url, "POST", SLICES, body)
    assert response.status == 400
    assert response.json()["message"].startswith(
        'ResourceSlice in version "v1" cannot be handled as a ResourceSlice: quantities must match'
    )


def test_claim_requests_get_the_v1_defaults(devcluster: DevCluster) -> None:
    body = claim_body("c")
    body["spec"]["devices"]["requests"][0]["exactly"]["tolerations"] = [{"key": "x.io/t", "value": "v"}]
    exactly = raw(devcluster.url, "POST", CLAIMS, body).json()["spec"]["devices"]["requests"][0]["exactly"]
    assert (exactly["allocationMode"], exactly["count"]) == ("ExactCount", 1)
    assert exactly["tolerations"][0]["operator"] == "Equal"


@pytest.mark.parametrize(
    ("mutate", "field"),
    [
        (
            lambda spec: spec.update(sharedCounters=[{"name": "c", "counters": {"aiCore": {"value": "1"}}}]),
            "spec.sharedCounters[0].counters",
        ),
        (
            lambda spec: [
                d.update(taints=[{"key": "x.io/t", "effect": "NoSchedule"}]) for d in spec["devices"]
            ],
            "spec.devices",
        ),
        (lambda spec: spec["pool"].update(generation=-1), "spec.pool.generation"),
    ],
)
def test_slice_rules(devcluster: DevCluster, mutate: Any, field: str) -> None:
    body = slice_body("s", devices=65)
    mutate(body["spec"])
    if "sharedCounters" in body["spec"]:
        body["spec"].pop("devices")
    response = raw(devcluster.url, "POST", SLICES, body)
    assert response.status == 422, response.body
    assert field in [cause["field"] for cause in response.json()["details"]["causes"]]


def test_reserved_for_needs_an_allocation(devcluster: DevCluster) -> None:
    created = raw(devcluster.url, "POST", CLAIMS, claim_body("c")).json()
    created["status"] = {"reservedFor": [{"resource": "pods", "name": "p", "uid": "u-1"}]}
    response = raw(devcluster.url, "PUT", f"{CLAIMS}/c/status", created)
    assert response.status == 422
    assert (
        "status.reservedFor: Forbidden: may not be specified when `allocated` is not set"
        in response.json()["message"]
    )
