"""testing.md §2.3 item 14: PATCH with merge patch, JSON patch and strategic merge patch; 415 for apply."""

from __future__ import annotations

import pytest
from kubernetes.client.exceptions import ApiException

from dra_driver.devcluster import DevCluster
from tests.support.devcluster_fixtures import ClientApi, allocation, claim_body, raw, slice_body

SLICES = "/apis/resource.k8s.io/v1/resourceslices"


def test_official_client_dict_patch_is_strategic_and_merges_finalizers_as_a_set(
    resource_api: ClientApi,
) -> None:
    body = slice_body("s")
    body["metadata"]["finalizers"] = ["a.example.com/one"]
    body["metadata"]["labels"] = {"keep": "yes", "drop": "yes"}
    resource_api.create_resource_slice(body)
    patch = {"metadata": {"finalizers": ["a.example.com/two"], "labels": {"drop": None, "new": "1"}}}
    patched = resource_api.patch_resource_slice("s", patch)
    assert patched.metadata.finalizers == ["a.example.com/one", "a.example.com/two"]
    assert patched.metadata.labels == {"keep": "yes", "new": "1"}
    assert patched.metadata.generation == 1


def test_strategic_patch_replaces_atomic_devices_list_like_upstream(
    resource_api: ClientApi,
) -> None:
    resource_api.create_resource_slice(slice_body("s", devices=4))
    patched = resource_api.patch_resource_slice("s", {"spec": {"devices": [{"name": "gpu-9"}]}})
    assert [d.name for d in patched.spec.devices] == [
        "gpu-9"
    ]  # spec.devices is x-kubernetes-list-type: atomic
    assert patched.metadata.generation == 2


def test_strategic_patch_merges_owner_references_by_uid_and_honours_directives(
    devcluster: DevCluster,
) -> None:
    body = slice_body("s")
    owner = {"apiVersion": "v1", "kind": "Node", "name": "node-a", "uid": "u-1"}
    body["metadata"]["ownerReferences"] = [owner]
    body["metadata"]["finalizers"] = ["x/a", "x/b"]
    assert raw(devcluster.url, "POST", SLICES, body).status == 201
    smp = "application/strategic-merge-patch+json"
    patch = {
        "metadata": {
            "ownerReferences": [{"uid": "u-1", "name": "renamed"}, {**owner, "uid": "u-2", "name": "node-b"}],
            "$deleteFromPrimitiveList/finalizers": ["x/a"],
        }
    }
    response = raw(devcluster.url, "PATCH", f"{SLICES}/s", patch, content_type=smp)
    assert response.status == 200, response.body
    meta = response.json()["metadata"]
    assert [(o["uid"], o["name"]) for o in meta["ownerReferences"]] == [("u-1", "renamed"), ("u-2", "node-b")]
    assert meta["finalizers"] == ["x/b"]
    delete_one = {"metadata": {"ownerReferences": [{"uid": "u-1", "$patch": "delete"}]}}
    response = raw(devcluster.url, "PATCH", f"{SLICES}/s", delete_one, content_type=smp)
    assert [o["uid"] for o in response.json()["metadata"]["ownerReferences"]] == ["u-2"]
    unknown = raw(devcluster.url, "PATCH", f"{SLICES}/s", {"$bogus": 1}, content_type=smp)
    assert unknown.status == 400


def test_merge_patch_and_json_patch(resource_api: ClientApi) -> None:
    resource_api.create_resource_slice(slice_body("s", devices=2))
    merged = resource_api.patch_resource_slice(
        "s", {"spec": {"pool": {"generation": 5}}}, _content_type="application/merge-patch+json"
    )
    assert merged.spec.pool.generation == 5 and merged.spec.pool.name == "node-a"
    ops = [
        {"op": "test", "path": "/spec/devices/0/name", "value": "gpu-0"},
        {"op": "replace", "path": "/spec/pool/generation", "value": 6},
        {"op": "add", "path": "/spec/devices/-", "value": {"name": "gpu-2"}},
        {"op": "remove", "path": "/spec/devices/0"},
        {"op": "add", "path": "/metadata/labels", "value": {"copied": "yes"}},
        {"op": "copy", "from": "/spec/pool/name", "path": "/metadata/labels/pool"},
        {"op": "move", "from": "/metadata/labels/copied", "path": "/metadata/labels/moved"},
    ]
    patched = resource_api.patch_resource_slice("s", ops)  # a list body is sent as JSON patch
    assert patched.spec.pool.generation == 6
    assert [d.name for d in patched.spec.devices] == ["gpu-1", "gpu-2"]
    assert patched.metadata.labels == {"pool": "node-a", "moved": "yes"}
    with pytest.raises(ApiException) as failed:
        resource_api.patch_resource_slice("s", [{"op": "test", "path": "/spec/driver", "value": "other"}])
    assert failed.value.status == 422


def test_patch_with_stale_rv_conflicts_and_patch_validates(resource_api: ClientApi) -> None:
    created = resource_api.create_resource_slice(slice_body("s"))
    resource_api.patch_resource_slice("s", {"metadata": {"labels": {"a": "b"}}})
    with pytest.raises(ApiException) as stale:
        resource_api.patch_resource_slice(
            "s", {"metadata": {"resourceVersion": created.metadata.resource_version}}
        )
    assert stale.value.status == 409
    with pytest.raises(ApiException) as invalid:
        resource_api.patch_resource_slice(
            "s", {"spec": {"pool": {"resourceSliceCount": "1"}}}, _content_type="application/merge-patch+json"
        )
    assert invalid.value.status == 422
    assert "'1' is not of type 'integer'" in str(invalid.value.body)


def test_status_patch_touches_only_status(resource_api: ClientApi) -> None:
    resource_api.create_namespaced_resource_claim("default", claim_body())
    patch = {"status": {"allocation": allocation()}, "metadata": {"labels": {"ignored": "yes"}}}
    patched = resource_api.patch_namespaced_resource_claim_status(
        "claim-a", "default", patch, _content_type="application/merge-patch+json"
    )
    assert patched.status.allocation.devices.results[0].device == "gpu-0"
    assert patched.metadata.labels is None
    main = resource_api.patch_namespaced_resource_claim(
        "claim-a", "default", {"status": None}, _content_type="application/merge-patch+json"
    )
    assert main.status is not None  # the main resource ignores status changes


def test_server_side_apply_is_415(devcluster: DevCluster, resource_api: ClientApi) -> None:
    resource_api.create_resource_slice(slice_body("s"))
    response = raw(
        devcluster.url, "PATCH", f"{SLICES}/s?fieldManager=x", b"{}", "application/apply-patch+yaml"
    )
    assert response.status == 415
    assert "server-side apply is not modelled" in response.json()["message"]
