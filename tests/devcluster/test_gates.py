"""Feature gates: disabled fields are silently dropped on write, kept when the old object used them."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from dra_driver.devcluster import DevCluster
from dra_driver.devcluster.gates import DROP_RULES, drop_disabled_fields
from dra_driver.kube.features import FeatureGate, KubeVersion, default_feature_gates
from tests.support.devcluster_fixtures import claim_body, raw, slice_body

SLICES = "/apis/resource.k8s.io/v1/resourceslices"
CLAIMS = "/apis/resource.k8s.io/v1/namespaces/default/resourceclaims"


def _shared_slice(name: str = "s") -> dict[str, Any]:
    body = slice_body(name, devices=1)
    body["spec"]["devices"][0]["allowMultipleAllocations"] = True
    body["spec"]["devices"][0]["capacity"]["memory"]["requestPolicy"] = {"default": "1Gi"}
    return body


@pytest.mark.parametrize("enabled", [False, True])
def test_allow_multiple_allocations_follows_dra_consumable_capacity(enabled: bool) -> None:
    gates = {FeatureGate.DRA_CONSUMABLE_CAPACITY: enabled}
    with DevCluster(kube_version=KubeVersion(1, 36), feature_gates=gates) as cluster:
        response = raw(cluster.url, "POST", SLICES, _shared_slice())
        assert response.status == 201, response.body
        device = response.json()["spec"]["devices"][0]
        stored = raw(cluster.url, "GET", f"{SLICES}/s").json()["spec"]["devices"][0]
    assert device == stored
    assert ("allowMultipleAllocations" in device) is enabled
    assert ("requestPolicy" in device["capacity"]["memory"]) is enabled
    assert device["capacity"]["memory"]["value"] == "80Gi"


def test_version_defaults_drive_dropping() -> None:
    with (
        DevCluster(kube_version=KubeVersion(1, 34)) as old,
        DevCluster(kube_version=KubeVersion(1, 36)) as new,
    ):
        tainted = slice_body("s", devices=1)
        tainted["spec"]["devices"][0]["taints"] = [{"key": "k", "effect": "NoSchedule"}]
        assert "taints" not in raw(old.url, "POST", SLICES, tainted).json()["spec"]["devices"][0]
        assert "taints" in raw(new.url, "POST", SLICES, tainted).json()["spec"]["devices"][0]


def test_disabled_field_survives_update_when_the_old_object_used_it() -> None:
    gates = {FeatureGate.DRA_CONSUMABLE_CAPACITY: False}
    with DevCluster(feature_gates=gates) as cluster:
        # Plant an object as if written while the gate was on (what a downgrade leaves behind).
        planted = _shared_slice("old")
        planted["metadata"].update(
            {"uid": "u-old", "generation": 1, "creationTimestamp": "2026-01-01T00:00:00Z"}
        )
        cluster.store.write("resourceslices.resource.k8s.io", ("", "old"), planted, "ADDED")
        current = raw(cluster.url, "GET", f"{SLICES}/old").json()
        current["spec"]["pool"]["generation"] = 2
        kept = raw(cluster.url, "PUT", f"{SLICES}/old", current).json()
        assert kept["spec"]["devices"][0]["allowMultipleAllocations"] is True
        assert raw(cluster.url, "POST", SLICES, slice_body("new", devices=1)).status == 201
        fresh = raw(cluster.url, "GET", f"{SLICES}/new").json()
        fresh["spec"]["devices"][0]["allowMultipleAllocations"] = True
        dropped = raw(cluster.url, "PUT", f"{SLICES}/new", fresh).json()
        assert "allowMultipleAllocations" not in dropped["spec"]["devices"][0]


def test_claim_fields_are_dropped_per_gate() -> None:
    body = claim_body()
    request = body["spec"]["devices"]["requests"][0]
    request["exactly"].update(
        {
            "adminAccess": True,
            "tolerations": [{"key": "k", "operator": "Exists"}],
            "capacity": {"requests": {"memory": "1Gi"}},
        }
    )
    body["spec"]["devices"]["constraints"] = [{"distinctAttribute": "gpu.example.com/uuid"}]
    gates = {
        FeatureGate.DRA_CONSUMABLE_CAPACITY: False,
        FeatureGate.DRA_DEVICE_TAINTS: False,
        FeatureGate.DRA_ADMIN_ACCESS: False,
    }
    with DevCluster(feature_gates=gates) as cluster:
        # Dropping distinctAttribute leaves a constraint with neither attribute, which the API
        # server's validation then refuses, as upstream does.
        refused = raw(cluster.url, "POST", CLAIMS, body)
        assert refused.status == 422
        assert "constraints[0]" in refused.json()["message"]
        del body["spec"]["devices"]["constraints"]
        created = raw(cluster.url, "POST", CLAIMS, body).json()
    exactly = created["spec"]["devices"]["requests"][0]["exactly"]
    # The gated fields are gone; the v1 defaults are there, as the real server returns them.
    assert exactly == {"deviceClassName": "gpu.example.com", "allocationMode": "ExactCount", "count": 1}


def _sample(kind: str) -> dict[str, Any]:
    """An object that uses every gated field of ``kind``."""
    result: dict[str, Any] = {
        "allocationTimestamp": "t",
        "devices": {
            "results": [
                {
                    "shareID": "s",
                    "consumedCapacity": {"m": "1"},
                    "tolerations": [{}],
                    "adminAccess": True,
                    "bindingConditions": ["c"],
                    "bindingFailureConditions": ["f"],
                }
            ]
        },
    }
    request = {
        "exactly": {"capacity": {}, "tolerations": [{}], "adminAccess": True},
        "firstAvailable": [{"capacity": {"requests": {}}, "tolerations": [{}]}],
    }
    device = {
        "allowMultipleAllocations": True,
        "capacity": {"m": {"value": "1", "requestPolicy": {}}},
        "consumesCounters": [{}],
        "nodeName": "n",
        "nodeSelector": {},
        "allNodes": True,
        "taints": [{}],
        "bindsToNode": True,
        "bindingConditions": ["c"],
        "bindingFailureConditions": ["f"],
    }
    claim_spec = {"devices": {"requests": [request], "constraints": [{"distinctAttribute": "a"}]}}
    samples: dict[str, dict[str, Any]] = {
        "ResourceSlice": {
            "spec": {"sharedCounters": [{}], "perDeviceNodeSelection": True, "devices": [device]}
        },
        "ResourceClaim": {"spec": claim_spec, "status": {"allocation": result, "devices": [{}]}},
        "ResourceClaimTemplate": {"spec": {"spec": claim_spec}},
        "DeviceClass": {"spec": {"extendedResourceName": "example.com/gpu"}},
    }
    return samples[kind]


@pytest.mark.parametrize("rule", DROP_RULES, ids=lambda r: f"{r.kind}-{r.gate.value}-{r.section}")
def test_every_drop_rule(rule: Any) -> None:
    gates = dict.fromkeys(FeatureGate, True)
    gates[rule.gate] = False
    new = _sample(rule.kind)
    dropped = drop_disabled_fields(rule.kind, new, None, gates, (rule.section,))
    assert sorted(set(dropped)) == sorted({".".join(p) for p in rule.paths}), (
        "every path of the rule must apply"
    )
    kept = _sample(rule.kind)
    assert drop_disabled_fields(rule.kind, kept, copy.deepcopy(kept), gates, (rule.section,)) == []
    assert (
        drop_disabled_fields(rule.kind, _sample(rule.kind), None, default_feature_gates(KubeVersion(1, 36)))
        == []
    )
