"""testing.md §2.3 items 7-9: field selectors exactly as upstream, label selectors, delete collection."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from dra_driver.devcluster import DevCluster
from tests.support.devcluster_fixtures import ClientApi, claim_body, raw, slice_body


def _names(items: list[object]) -> list[str]:
    return sorted(item.metadata.name for item in items)  # type: ignore[attr-defined]


@pytest.fixture
def slices(resource_api: ClientApi) -> None:
    resource_api.create_resource_slice(slice_body("a-gpu", node="node-a"))
    resource_api.create_resource_slice(slice_body("a-nic", node="node-a", driver="nic.example.com"))
    resource_api.create_resource_slice(slice_body("b-gpu", node="node-b"))


@pytest.mark.usefixtures("slices")
def test_resource_slice_field_selectors(resource_api: ClientApi) -> None:
    assert _names(resource_api.list_resource_slice(field_selector="spec.nodeName=node-a").items) == [
        "a-gpu",
        "a-nic",
    ]
    both = "spec.nodeName==node-a,spec.driver=gpu.example.com"
    assert _names(resource_api.list_resource_slice(field_selector=both).items) == ["a-gpu"]
    assert _names(resource_api.list_resource_slice(field_selector="spec.driver!=gpu.example.com").items) == [
        "a-nic"
    ]
    assert _names(resource_api.list_resource_slice(field_selector="metadata.name=b-gpu").items) == ["b-gpu"]
    none = "spec.driver=gpu.example.com,spec.nodeName=node-c"
    assert resource_api.list_resource_slice(field_selector=none).items == []


@pytest.mark.parametrize("label", ["spec.pool.name", "metadata.namespace", "spec.allNodes"])
def test_resource_slice_rejects_other_field_labels(resource_api: ClientApi, label: str) -> None:
    with pytest.raises(ApiException) as info:
        resource_api.list_resource_slice(field_selector=f"{label}=x")
    assert info.value.status == 400
    assert f"field label not supported for resource.k8s.io/v1, Kind=ResourceSlice: {label}" in str(
        info.value.body
    )


def test_claims_and_classes_accept_only_metadata_fields(resource_api: ClientApi) -> None:
    resource_api.create_namespaced_resource_claim("default", claim_body("c1"))
    resource_api.create_namespaced_resource_claim("default", claim_body("c2"))
    found = resource_api.list_resource_claim_for_all_namespaces(field_selector="metadata.namespace=default")
    assert _names(found.items) == ["c1", "c2"]
    assert _names(
        resource_api.list_namespaced_resource_claim("default", field_selector="metadata.name!=c1").items
    ) == ["c2"]
    with pytest.raises(ApiException) as info:
        resource_api.list_namespaced_resource_claim("default", field_selector="spec.devices=x")
    assert info.value.status == 400
    assert (
        '\\"spec.devices\\" is not a known field selector: only \\"metadata.name\\", \\"metadata.namespace\\"'
        in str(info.value.body)
    )
    with pytest.raises(ApiException) as cls:
        resource_api.list_device_class(field_selector="spec.extendedResourceName=x")
    assert cls.value.status == 400


def test_core_kinds_use_upstream_field_lists(devcluster: DevCluster, core_api: ClientApi) -> None:
    for name, node in (("p-a", "node-a"), ("p-b", "node-b")):
        pod = {
            "metadata": {"name": name},
            "spec": {"nodeName": node, "containers": [{"name": "c", "image": "x"}]},
        }
        core_api.create_namespaced_pod("default", pod)
    assert _names(core_api.list_pod_for_all_namespaces(field_selector="spec.nodeName=node-b").items) == [
        "p-b"
    ]
    assert len(core_api.list_namespaced_pod("default", field_selector="status.phase=Pending").items) == 2
    assert len(core_api.list_namespaced_pod("default", field_selector="spec.hostNetwork=false").items) == 2
    assert _names(core_api.list_node(field_selector="spec.unschedulable=false").items) == ["node-a", "node-b"]
    event = {
        "metadata": {"name": "e1"},
        "involvedObject": {"kind": "Pod", "name": "p-a", "namespace": "default"},
        "reason": "Prepared",
        "type": "Normal",
        "source": {"component": "hdra"},
    }
    core_api.create_namespaced_event("default", event)
    selector = "involvedObject.kind=Pod,involvedObject.name=p-a,reason=Prepared,source=hdra,type=Normal"
    assert _names(core_api.list_namespaced_event("default", field_selector=selector).items) == ["e1"]
    with pytest.raises(ApiException) as info:
        core_api.list_namespaced_pod("default", field_selector="spec.containers=x")
    assert info.value.status == 400
    assert "field label not supported: spec.containers" in str(info.value.body)


@pytest.mark.usefixtures("slices")
def test_field_selector_syntax_errors_are_400(devcluster: DevCluster) -> None:
    response = raw(
        devcluster.url, "GET", "/apis/resource.k8s.io/v1/resourceslices?fieldSelector=spec.nodeName"
    )
    assert response.status == 400
    assert "can't understand 'spec.nodeName'" in response.json()["message"]


def test_label_selectors(resource_api: ClientApi) -> None:
    labelled = {"s-1": {"tier": "a", "gen": "1"}, "s-2": {"tier": "b", "gen": "2"}, "s-3": {"tier": "c"}}
    for name, labels in labelled.items():
        body = slice_body(name)
        body["metadata"]["labels"] = labels
        resource_api.create_resource_slice(body)
    cases = {
        "tier=a": ["s-1"],
        "tier==b": ["s-2"],
        "tier!=a": ["s-2", "s-3"],
        "tier in (a, c)": ["s-1", "s-3"],
        "tier notin (a)": ["s-2", "s-3"],
        "gen": ["s-1", "s-2"],
        "!gen": ["s-3"],
        "gen>1": ["s-2"],
        "tier in (a,b),gen": ["s-1", "s-2"],
    }
    for selector, expected in cases.items():
        assert _names(resource_api.list_resource_slice(label_selector=selector).items) == expected, selector
    with pytest.raises(ApiException) as info:
        resource_api.list_resource_slice(label_selector="tier in (a")
    assert info.value.status == 400


@pytest.mark.usefixtures("slices")
def test_delete_collection_with_field_selector(devcluster: DevCluster, resource_api: ClientApi) -> None:
    rv_before = devcluster.store.current_rv
    resource_api.delete_collection_resource_slice(
        field_selector="spec.nodeName=node-a,spec.driver=gpu.example.com"
    )
    assert _names(resource_api.list_resource_slice().items) == ["a-nic", "b-gpu"]
    assert devcluster.store.current_rv > rv_before
    response = raw(devcluster.url, "DELETE", "/apis/resource.k8s.io/v1/resourceslices?labelSelector=missing")
    assert response.status == 200
    assert response.json()["items"] == []
    resource_api.delete_collection_resource_slice()
    assert resource_api.list_resource_slice().items == []
