"""CRUD through KubeClient against the loopback dev cluster, for every kind hdra uses."""

from __future__ import annotations

import pytest

from dra_driver.kube import (
    AlreadyExists,
    BadRequest,
    Conflict,
    KubeClient,
    KubeError,
    NotFound,
    node_reference,
)
from dra_driver.kube import kinds as client_kinds
from dra_driver.kube.kinds import KindSpec
from dra_driver.kube.models import (
    AllocationResult,
    CELDeviceSelector,
    DeviceAllocationResult,
    DeviceRequestAllocationResult,
    DeviceSelector,
    ResourceClaim,
    ResourceClaimStatus,
)
from tests.kube.objects import (
    DRIVER,
    claim_template,
    device_class,
    device_names,
    meta,
    name_of,
    names,
    node,
    resource_claim,
    resource_slice,
    with_device,
)


def test_rest_paths_of_cluster_and_namespaced_kinds() -> None:
    claims: KindSpec[ResourceClaim] = KindSpec(
        "ResourceClaim", ResourceClaim, "resource", namespaced=True, plural="resourceclaims"
    )
    assert claims.collection_path(None) == "/apis/resource.k8s.io/v1/resourceclaims"
    assert (
        claims.object_path("a b", "c/d") == "/apis/resource.k8s.io/v1/namespaces/a%20b/resourceclaims/c%2Fd"
    )
    assert client_kinds.NODE.object_path(None, "n1") == "/api/v1/nodes/n1"


def test_an_answer_that_is_not_the_kind_is_a_kube_error(client: KubeClient) -> None:
    """A body that does not fit the model is named like any other failed call, not a ValidationError."""
    with pytest.raises(KubeError, match=r"not a valid ResourceClaim: spec: Field required"):
        client.resource_claims.decode("get", "c", "ns", {"metadata": {"name": "c"}})


def test_resource_slice_crud_and_optimistic_concurrency(client: KubeClient) -> None:
    slices = client.resource_slices
    created = slices.create(resource_slice("node-a-slice", "node-a"))
    first_rv = meta(created).resource_version
    assert first_rv
    assert meta(created).uid

    fetched = slices.get("node-a-slice")
    assert fetched.spec.node_name == "node-a"
    updated = slices.update(with_device(fetched, "gpu-1"))
    assert meta(updated).resource_version != first_rv
    assert device_names(updated) == ["gpu-0", "gpu-1"]
    assert device_names(slices.get("node-a-slice")) == ["gpu-0", "gpu-1"]

    # The object we created still carries the first RV: writing it again is a stale write.
    with pytest.raises(Conflict) as stale:
        slices.update(created)
    assert str(stale.value).startswith('update ResourceSlice "node-a-slice": HTTP 409 Conflict')
    assert stale.value.code == 409

    with pytest.raises(Conflict, match="node-a-slice"):
        slices.delete("node-a-slice", resource_version=first_rv)
    assert slices.delete("node-a-slice", resource_version=meta(updated).resource_version) is True
    assert slices.delete("node-a-slice") is False
    with pytest.raises(NotFound) as missing:
        slices.get("node-a-slice")
    assert str(missing.value).startswith('get ResourceSlice "node-a-slice": HTTP 404 NotFound')
    assert "node-a-slice" in missing.value.detail


def test_merge_patch_changes_only_the_named_fields(client: KubeClient) -> None:
    client.resource_slices.create(resource_slice("s-patch", "node-a", devices=2))
    patched = client.resource_slices.patch("s-patch", {"metadata": {"labels": {"team": "a", "node": None}}})
    assert meta(patched).labels == {"team": "a"}  # "node" removed, "team" added
    assert device_names(patched) == ["gpu-0", "gpu-1"]  # the rest untouched
    claim = client.resource_claims.create("default", resource_claim("default", "c-patch"))
    result = {"request": "gpu", "driver": DRIVER, "pool": "node-a", "device": "gpu-0"}
    allocation = {"devices": {"results": [result]}}
    reserved = {"allocation": allocation, "reservedFor": [{"resource": "pods", "name": "p", "uid": "u1"}]}
    stored = client.resource_claims.patch_status("default", "c-patch", {"status": reserved})
    assert stored.status is not None and stored.status.reserved_for is not None
    assert [ref.uid for ref in stored.status.reserved_for] == ["u1"]
    assert meta(stored).resource_version != meta(claim).resource_version
    with pytest.raises(NotFound, match=r'patch ResourceSlice "absent"'):
        client.resource_slices.patch("absent", {"metadata": {"labels": {"a": "b"}}})


def test_delete_with_a_wrong_uid_precondition_is_refused(client: KubeClient) -> None:
    client.resource_slices.create(resource_slice("s-uid", "node-a"))
    with pytest.raises(Conflict, match="s-uid"):
        client.resource_slices.delete("s-uid", uid="00000000-0000-0000-0000-000000000000")
    assert name_of(client.resource_slices.get("s-uid")) == "s-uid"


def test_field_and_label_selectors_are_passed_through(client: KubeClient) -> None:
    slices = client.resource_slices
    slices.create(resource_slice("a-1", "node-a"))
    slices.create(resource_slice("a-2", "node-a", driver="other.hdra.io"))
    slices.create(resource_slice("b-1", "node-b"))

    assert names(slices.list(field_selector="spec.nodeName=node-a").items) == ["a-1", "a-2"]
    assert names(slices.list(field_selector=f"spec.nodeName=node-a,spec.driver={DRIVER}").items) == ["a-1"]
    assert names(slices.list(field_selector="spec.nodeName!=node-a").items) == ["b-1"]
    assert names(slices.list(label_selector="node=node-b").items) == ["b-1"]
    everything = slices.list()
    assert names(everything.items) == ["a-1", "a-2", "b-1"]
    assert everything.resource_version

    with pytest.raises(BadRequest) as unsupported:
        slices.list(field_selector="spec.pool.name=node-a")
    assert "spec.pool.name" in str(unsupported.value)
    assert str(unsupported.value).startswith("list ResourceSlice: HTTP 400")

    slices.delete_collection(field_selector="spec.nodeName=node-a")
    assert names(slices.list().items) == ["b-1"]


def test_create_twice_is_already_exists_naming_the_object(client: KubeClient) -> None:
    client.device_classes.create(device_class("twice.hdra.io"))
    with pytest.raises(AlreadyExists) as duplicate:
        client.device_classes.create(device_class("twice.hdra.io"))
    assert str(duplicate.value).startswith('create DeviceClass "twice.hdra.io": HTTP 409 AlreadyExists')


def test_device_class_crud(client: KubeClient) -> None:
    classes = client.device_classes
    classes.create(device_class(DRIVER))
    current = classes.get(DRIVER)
    assert current.spec is not None
    expression = f'device.driver == "{DRIVER}" && device.attributes["{DRIVER}"].model == "a100"'
    current.spec.selectors = [DeviceSelector(cel=CELDeviceSelector(expression=expression))]
    classes.update(current)
    stored = classes.get(DRIVER)
    assert stored.spec is not None
    assert [s.cel.expression for s in stored.spec.selectors or [] if s.cel] == [expression]
    assert names(classes.list(field_selector=f"metadata.name={DRIVER}").items) == [DRIVER]
    assert classes.delete(DRIVER) is True
    assert classes.list().items == ()


def test_node_crud(client: KubeClient) -> None:
    client.nodes.create(node("node-a"))
    client.nodes.create(node("node-b"))
    fetched = client.nodes.get("node-a")
    meta(fetched).labels = {**(meta(fetched).labels or {}), "hdra.io/gpu": "true"}
    client.nodes.update(fetched)
    assert names(client.nodes.list(label_selector="hdra.io/gpu=true").items) == ["node-a"]
    assert client.nodes.delete("node-b") is True
    assert names(client.nodes.list().items) == ["node-a"]


def allocation(device: str) -> ResourceClaimStatus:
    result = DeviceRequestAllocationResult(request="gpu", driver=DRIVER, pool="node-a", device=device)
    return ResourceClaimStatus(allocation=AllocationResult(devices=DeviceAllocationResult(results=[result])))


def allocated_devices(claim: ResourceClaim) -> list[str]:
    if claim.status is None or claim.status.allocation is None or claim.status.allocation.devices is None:
        return []
    return [r.device for r in claim.status.allocation.devices.results or []]


def test_resource_claim_crud_status_and_cross_namespace_list(client: KubeClient) -> None:
    claims = client.resource_claims
    created = claims.create("default", resource_claim("default", "c1"))
    claims.create("kube-system", resource_claim("kube-system", "c2"))
    assert meta(created).namespace == "default"

    assert names(claims.list(None).items) == ["c1", "c2"]
    assert names(claims.list("kube-system").items) == ["c2"]

    current = claims.get("default", "c1")
    current.status = allocation("gpu-0")
    # The main resource ignores .status ...
    via_main = claims.update("default", current.model_copy(deep=True))
    assert allocated_devices(via_main) == []
    # ... the status subresource writes it (given the current RV).
    meta(current).resource_version = meta(via_main).resource_version
    written = claims.update_status("default", current)
    assert allocated_devices(written) == ["gpu-0"]
    assert allocated_devices(claims.get("default", "c1")) == ["gpu-0"]

    with pytest.raises(Conflict, match="update status ResourceClaim"):
        claims.update_status("default", current)  # its RV is stale now

    assert claims.delete("default", "c1") is True
    with pytest.raises(NotFound) as missing:
        claims.get("default", "c1")
    assert str(missing.value).startswith('get ResourceClaim "default/c1": HTTP 404 NotFound')


def test_modify_status_rereads_and_writes_the_status(client: KubeClient, other_client: KubeClient) -> None:
    client.resource_claims.create("default", resource_claim("default", "c1"))
    seen: list[str] = []

    def allocate(claim: ResourceClaim) -> ResourceClaim:
        seen.append(meta(claim).resource_version or "")
        if len(seen) == 1:
            theirs = other_client.resource_claims.get("default", "c1")
            meta(theirs).labels = {"touched": "yes"}
            other_client.resource_claims.update("default", theirs)
        claim.status = allocation("gpu-3")
        return claim

    client.resource_claims.modify_status("default", "c1", allocate)
    assert len(seen) == 2
    assert seen[0] != seen[1]
    stored = client.resource_claims.get("default", "c1")
    assert allocated_devices(stored) == ["gpu-3"]
    assert meta(stored).labels == {"touched": "yes"}


def test_namespace_mismatch_is_refused_before_any_request(client: KubeClient) -> None:
    with pytest.raises(ValueError, match="declares namespace 'kube-system'"):
        client.resource_claims.create("default", resource_claim("kube-system", "c1"))


def test_resource_claim_template_crud(client: KubeClient) -> None:
    templates = client.resource_claim_templates
    templates.create("default", claim_template("default", "t1"))
    templates.create("default", claim_template("default", "t2"))
    fetched = templates.get("default", "t1")
    assert fetched.spec is not None
    assert fetched.spec.spec is not None
    meta(fetched).labels = {"tier": "gold"}
    templates.update("default", fetched)
    assert names(templates.list("default", label_selector="tier=gold").items) == ["t1"]
    templates.delete_collection("default", label_selector="tier=gold")
    assert names(templates.list("default").items) == ["t2"]


def test_events_can_be_created_listed_and_deleted(client: KubeClient) -> None:
    recorded = client.record_event(node_reference("node-a"), reason="Probe", message="probe event")
    assert recorded is not None
    listed = client.events.list("default")
    assert [e.reason for e in listed.items] == ["Probe"]
    assert client.events.delete("default", name_of(recorded)) is True
    assert client.events.list("default").items == ()
