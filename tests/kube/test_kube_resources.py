"""CRUD through KubeClient against the loopback dev cluster, for every kind hdra uses."""

from __future__ import annotations

import pytest
from kubernetes.client import (
    ResourceV1Api,
    ResourceV1ResourceClaim,
    V1AllocationResult,
    V1DeviceAllocationResult,
    V1DeviceRequestAllocationResult,
    V1ResourceClaimStatus,
)

from dra_driver.kube import AlreadyExists, BadRequest, Conflict, KubeClient, NotFound, node_reference
from dra_driver.kube.resources import KindSpec, Resource
from dra_driver.kube.retry import RetryPolicy
from tests.kube.objects import DRIVER, claim_template, device_class, node, resource_claim, resource_slice


def test_a_descriptor_without_matching_client_methods_fails_fast(client: KubeClient) -> None:
    bogus: KindSpec[ResourceV1ResourceClaim] = KindSpec(
        "Bogus", ResourceV1ResourceClaim, "resource", "bogus_thing", namespaced=True
    )
    with pytest.raises(TypeError, match="read_namespaced_bogus_thing"):
        Resource(bogus, ResourceV1Api(client.api_client), RetryPolicy())


def test_resource_slice_crud_and_optimistic_concurrency(client: KubeClient) -> None:
    slices = client.resource_slices
    created = slices.create(resource_slice("node-a-slice", "node-a"))
    assert created.metadata is not None
    first_rv = created.metadata.resource_version
    assert first_rv
    assert created.metadata.uid

    fetched = slices.get("node-a-slice")
    assert fetched.spec.node_name == "node-a"

    fetched.spec.devices = [
        *fetched.spec.devices,
        fetched.spec.devices[0].model_copy(update={"name": "gpu-1"}),
    ]
    updated = slices.update(fetched)
    assert updated.metadata is not None
    assert updated.metadata.resource_version != first_rv
    assert [d.name for d in updated.spec.devices] == ["gpu-0", "gpu-1"]

    # The object we created still carries the first RV: writing it again is a stale write.
    with pytest.raises(Conflict) as stale:
        slices.update(created)
    assert 'update ResourceSlice "node-a-slice"' in str(stale.value)
    assert stale.value.code == 409

    with pytest.raises(Conflict):
        slices.delete("node-a-slice", resource_version=first_rv)
    assert slices.delete("node-a-slice", resource_version=updated.metadata.resource_version) is True
    assert slices.delete("node-a-slice") is False
    with pytest.raises(NotFound) as missing:
        slices.get("node-a-slice")
    assert 'get ResourceSlice "node-a-slice": HTTP 404 NotFound' in str(missing.value)
    assert "node-a-slice" in missing.value.detail


def test_delete_with_a_wrong_uid_precondition_is_refused(client: KubeClient) -> None:
    client.resource_slices.create(resource_slice("s-uid", "node-a"))
    with pytest.raises(Conflict, match="s-uid"):
        client.resource_slices.delete("s-uid", uid="00000000-0000-0000-0000-000000000000")
    assert client.resource_slices.get("s-uid").metadata is not None


def test_field_and_label_selectors_are_passed_through(client: KubeClient) -> None:
    slices = client.resource_slices
    slices.create(resource_slice("a-1", "node-a"))
    slices.create(resource_slice("a-2", "node-a", driver="other.hdra.io"))
    slices.create(resource_slice("b-1", "node-b"))

    def names(listed: object) -> list[str]:
        return sorted(s.metadata.name for s in listed.items)  # type: ignore[attr-defined]

    assert names(slices.list(field_selector="spec.nodeName=node-a")) == ["a-1", "a-2"]
    assert names(slices.list(field_selector=f"spec.nodeName=node-a,spec.driver={DRIVER}")) == ["a-1"]
    assert names(slices.list(label_selector="node=node-b")) == ["b-1"]
    everything = slices.list()
    assert names(everything) == ["a-1", "a-2", "b-1"]
    assert everything.resource_version

    with pytest.raises(BadRequest) as unsupported:
        slices.list(field_selector="spec.pool.name=node-a")
    assert "spec.pool.name" in str(unsupported.value)
    assert "list ResourceSlice" in str(unsupported.value)

    slices.delete_collection(field_selector="spec.nodeName=node-a")
    assert names(slices.list()) == ["b-1"]


def test_create_twice_is_already_exists_naming_the_object(client: KubeClient) -> None:
    client.device_classes.create(device_class("twice.hdra.io"))
    with pytest.raises(AlreadyExists) as duplicate:
        client.device_classes.create(device_class("twice.hdra.io"))
    assert 'create DeviceClass "twice.hdra.io": HTTP 409 AlreadyExists' in str(duplicate.value)


def test_device_class_crud(client: KubeClient) -> None:
    classes = client.device_classes
    classes.create(device_class(DRIVER))
    current = classes.get(DRIVER)
    current.spec.selectors[0].cel.expression = 'device.driver == "mock.hdra.io" && true'
    classes.update(current)
    assert classes.get(DRIVER).spec.selectors[0].cel.expression.endswith("&& true")
    assert [c.metadata.name for c in classes.list(field_selector=f"metadata.name={DRIVER}").items] == [DRIVER]
    assert classes.delete(DRIVER) is True
    assert classes.list().items == ()


def test_node_crud(client: KubeClient) -> None:
    client.nodes.create(node("node-a"))
    client.nodes.create(node("node-b"))
    fetched = client.nodes.get("node-a")
    assert fetched.metadata is not None
    fetched.metadata.labels = {**(fetched.metadata.labels or {}), "hdra.io/gpu": "true"}
    client.nodes.update(fetched)
    labelled = client.nodes.list(label_selector="hdra.io/gpu=true")
    assert [n.metadata.name for n in labelled.items if n.metadata] == ["node-a"]
    assert client.nodes.delete("node-b") is True
    assert [n.metadata.name for n in client.nodes.list().items if n.metadata] == ["node-a"]


def test_resource_claim_crud_status_and_cross_namespace_list(client: KubeClient) -> None:
    claims = client.resource_claims
    created = claims.create("default", resource_claim("default", "c1"))
    claims.create("team-a", resource_claim("team-a", "c2"))
    assert created.metadata is not None
    assert created.metadata.namespace == "default"

    assert sorted(c.metadata.name for c in claims.list(None).items if c.metadata) == ["c1", "c2"]
    assert [c.metadata.name for c in claims.list("team-a").items if c.metadata] == ["c2"]

    current = claims.get("default", "c1")
    current.status = V1ResourceClaimStatus(
        allocation=V1AllocationResult(
            devices=V1DeviceAllocationResult(
                results=[
                    V1DeviceRequestAllocationResult(
                        request="gpu", driver=DRIVER, pool="node-a", device="gpu-0"
                    )
                ]
            )
        )
    )
    # The main resource ignores .status ...
    via_main = claims.update("default", current.model_copy(deep=True))
    assert via_main.status is None or via_main.status.allocation is None
    # ... the status subresource writes it (with the fresh RV).
    current.metadata.resource_version = via_main.metadata.resource_version  # type: ignore[union-attr]
    written = claims.update_status("default", current)
    assert written.status is not None
    assert written.status.allocation is not None
    assert written.status.allocation.devices.results[0].device == "gpu-0"  # type: ignore[union-attr]
    stored = claims.get("default", "c1")
    assert stored.status is not None
    assert stored.status.allocation is not None

    with pytest.raises(Conflict):
        claims.update_status("default", current)  # stale RV now

    assert claims.delete("default", "c1") is True
    with pytest.raises(NotFound) as missing:
        claims.get("default", "c1")
    assert 'get ResourceClaim "default/c1"' in str(missing.value)


def test_namespace_mismatch_is_refused_before_any_request(client: KubeClient) -> None:
    with pytest.raises(ValueError, match="declares namespace 'team-a'"):
        client.resource_claims.create("default", resource_claim("team-a", "c1"))


def test_resource_claim_template_crud(client: KubeClient) -> None:
    templates = client.resource_claim_templates
    templates.create("default", claim_template("default", "t1"))
    fetched = templates.get("default", "t1")
    assert fetched.spec.spec.devices.requests[0].name == "gpu"  # type: ignore[union-attr,index]
    fetched.metadata.labels = {"tier": "gold"}  # type: ignore[union-attr]
    templates.update("default", fetched)
    assert [t.metadata.name for t in templates.list("default", label_selector="tier=gold").items] == ["t1"]  # type: ignore[union-attr]
    templates.delete_collection("default")
    assert templates.list("default").items == ()


def test_events_can_be_created_listed_and_deleted(client: KubeClient) -> None:
    recorded = client.record_event(node_reference("node-a"), reason="Probe", message="probe event")
    assert recorded is not None
    assert recorded.metadata is not None
    listed = client.events.list("default")
    assert [e.reason for e in listed.items] == ["Probe"]
    assert client.events.delete("default", recorded.metadata.name or "") is True
