"""testing.md §2.3 items 1-6 through the official client: RVs, concurrency, no-op updates, metadata,
status subresources, finalizers."""

from __future__ import annotations

import itertools
import re

import pytest
from kubernetes import client
from kubernetes.client.exceptions import ApiException

from dra_driver.devcluster import DevCluster
from tests.support.devcluster_fixtures import ClientApi, allocation, claim_body, raw, slice_body


def test_resource_version_is_one_global_non_contiguous_string_counter(
    devcluster: DevCluster, resource_api: ClientApi, core_api: ClientApi
) -> None:
    first = resource_api.create_resource_slice(slice_body("s-1"))
    claim = resource_api.create_namespaced_resource_claim("default", claim_body())
    second = resource_api.create_resource_slice(slice_body("s-2"))
    rvs = [first.metadata.resource_version, claim.metadata.resource_version, second.metadata.resource_version]
    assert all(isinstance(rv, str) and rv.isdigit() for rv in rvs)
    numbers = [int(rv) for rv in rvs]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3  # shared across kinds, increasing
    assert any(b - a > 1 for a, b in itertools.pairwise(numbers))  # never arithmetic-friendly
    listed = resource_api.list_resource_slice()
    assert listed.metadata.resource_version == str(devcluster.store.current_rv)
    assert int(listed.metadata.resource_version) >= numbers[-1]
    nodes = core_api.list_node()
    assert nodes.metadata.resource_version == listed.metadata.resource_version
    deleted = resource_api.delete_resource_slice("s-1")
    assert int(deleted.metadata.resource_version) > int(listed.metadata.resource_version)


def test_stale_put_is_409_conflict_and_put_without_rv_is_unconditional(
    resource_api: ClientApi,
) -> None:
    created = resource_api.create_resource_slice(slice_body("s"))
    created.spec.pool.generation = 2
    updated = resource_api.replace_resource_slice("s", created)
    assert int(updated.metadata.resource_version) > int(created.metadata.resource_version)
    created.spec.pool.generation = 3  # still carries the old RV
    with pytest.raises(ApiException) as info:
        resource_api.replace_resource_slice("s", created)
    assert info.value.status == 409
    assert info.value.reason == "Conflict"
    assert '"reason":"Conflict"' in str(info.value.body)
    expected = (
        'Operation cannot be fulfilled on resourceslices.resource.k8s.io \\"s\\":'
        " the object has been modified; please apply your changes to the latest version and try again"
    )
    assert expected in str(info.value.body)
    created.metadata.resource_version = None
    forced = resource_api.replace_resource_slice("s", created)
    assert forced.spec.pool.generation == 3


def test_delete_preconditions_and_duplicate_create_are_409(resource_api: ClientApi) -> None:
    created = resource_api.create_resource_slice(slice_body("s"))
    stale = client.V1DeleteOptions(preconditions=client.V1Preconditions(resource_version="1"))
    with pytest.raises(ApiException) as info:
        resource_api.delete_resource_slice("s", body=stale)
    assert info.value.status == 409
    assert "Precondition failed: ResourceVersion in precondition: 1, ResourceVersion in object meta:" in str(
        info.value.body
    )
    with pytest.raises(ApiException) as dup:
        resource_api.create_resource_slice(slice_body("s"))
    assert dup.value.status == 409
    assert '"reason":"AlreadyExists"' in str(dup.value.body)
    assert 'resourceslices.resource.k8s.io \\"s\\" already exists' in str(dup.value.body)
    good = client.V1DeleteOptions(
        preconditions=client.V1Preconditions(resource_version=created.metadata.resource_version)
    )
    resource_api.delete_resource_slice("s", body=good)
    assert resource_api.list_resource_slice().items == []


def test_create_carrying_a_resource_version_is_rejected(devcluster: DevCluster) -> None:
    body = slice_body("s")
    body["metadata"]["resourceVersion"] = "5"
    response = raw(devcluster.url, "POST", "/apis/resource.k8s.io/v1/resourceslices", body)
    assert response.status == 500
    assert response.json()["message"] == "resourceVersion should not be set on objects to be created"


def test_noop_update_keeps_rv_and_emits_no_event(devcluster: DevCluster, resource_api: ClientApi) -> None:
    created = resource_api.create_resource_slice(slice_body("s"))
    rv_before = devcluster.store.current_rv
    cursor = devcluster.store.cursor("resourceslices.resource.k8s.io", rv_before)
    same = resource_api.replace_resource_slice("s", created)
    assert same.metadata.resource_version == created.metadata.resource_version
    assert devcluster.store.current_rv == rv_before
    assert devcluster.store.next_events(cursor, 0) == []


def test_server_sets_uid_timestamp_generation_and_generate_name(resource_api: ClientApi) -> None:
    body = slice_body(None, generate_name="node-a-gpu.example.com-")
    body["metadata"]["uid"] = "client-chosen"
    body["metadata"]["generation"] = 7
    created = resource_api.create_resource_slice(body)
    assert re.fullmatch(r"node-a-gpu\.example\.com-[bcdfghjklmnpqrstvwxz2456789]{5}", created.metadata.name)
    assert created.metadata.uid != "client-chosen" and len(created.metadata.uid) == 36
    assert created.metadata.creation_timestamp is not None
    assert created.metadata.generation == 1
    created.metadata.labels = {"only": "metadata"}
    relabelled = resource_api.replace_resource_slice(created.metadata.name, created)
    assert relabelled.metadata.generation == 1  # metadata changes do not bump generation
    relabelled.spec.pool.generation = 2
    respecced = resource_api.replace_resource_slice(created.metadata.name, relabelled)
    assert respecced.metadata.generation == 2
    assert respecced.metadata.uid == created.metadata.uid
    assert respecced.metadata.creation_timestamp == created.metadata.creation_timestamp


def test_claim_status_subresource(resource_api: ClientApi) -> None:
    body = claim_body()
    body["status"] = {"allocation": allocation()}
    created = resource_api.create_namespaced_resource_claim("default", body)
    assert created.status is None  # create drops status
    created.status = client.V1ResourceClaimStatus.from_dict({"allocation": allocation()})
    main = resource_api.replace_namespaced_resource_claim("claim-a", "default", created)
    assert main.status is None  # the main PUT ignores status
    main.status = client.V1ResourceClaimStatus.from_dict({"allocation": allocation("gpu-3")})
    main.metadata.labels = {"ignored": "by-status"}
    with_status = resource_api.replace_namespaced_resource_claim_status("claim-a", "default", main)
    assert with_status.status.allocation.devices.results[0].device == "gpu-3"
    assert with_status.metadata.generation == 1
    assert with_status.metadata.labels is None  # /status changes only status
    assert resource_api.read_namespaced_resource_claim("claim-a", "default").status is not None


def test_pod_status_subresource(core_api: ClientApi) -> None:
    pod = {
        "metadata": {"name": "p"},
        "spec": {"nodeName": "node-a", "containers": [{"name": "c", "image": "busybox"}]},
        "status": {"phase": "Running"},
    }
    created = core_api.create_namespaced_pod("default", pod)
    assert created.status.phase == "Pending"  # create resets status like PodStrategy
    created.status.phase = "Running"
    assert core_api.replace_namespaced_pod("p", "default", created).status.phase == "Pending"
    running = core_api.replace_namespaced_pod_status("p", "default", created)
    assert running.status.phase == "Running"


def test_finalizers_delay_deletion_until_the_last_one_is_removed(resource_api: ClientApi) -> None:
    body = claim_body()
    body["metadata"]["finalizers"] = ["example.com/protect"]
    resource_api.create_namespaced_resource_claim("default", body)
    pending = resource_api.delete_namespaced_resource_claim("claim-a", "default")
    assert pending.metadata.deletion_timestamp is not None
    still = resource_api.read_namespaced_resource_claim("claim-a", "default")
    assert still.metadata.deletion_timestamp is not None
    again = resource_api.delete_namespaced_resource_claim("claim-a", "default")
    assert again.metadata.resource_version == still.metadata.resource_version
    still.metadata.finalizers = ["example.com/protect", "example.com/new"]
    with pytest.raises(ApiException) as info:
        resource_api.replace_namespaced_resource_claim("claim-a", "default", still)
    assert info.value.status == 422
    assert "no new finalizers can be added if the object is being deleted" in str(info.value.body)
    still.metadata.finalizers = []
    resource_api.replace_namespaced_resource_claim("claim-a", "default", still)
    with pytest.raises(ApiException) as gone:
        resource_api.read_namespaced_resource_claim("claim-a", "default")
    assert gone.value.status == 404


def test_namespaced_create_needs_an_existing_namespace(
    devcluster: DevCluster, resource_api: ClientApi
) -> None:
    with pytest.raises(ApiException) as info:
        resource_api.create_namespaced_resource_claim("missing", claim_body(namespace="missing"))
    assert info.value.status == 404
    assert 'namespaces \\"missing\\" not found' in str(info.value.body)
    devcluster.create_namespace("missing")
    assert resource_api.create_namespaced_resource_claim(
        "missing", claim_body(namespace="missing")
    ).metadata.uid


def test_create_node_helper(devcluster: DevCluster, core_api: ClientApi) -> None:
    node = devcluster.create_node("node-c")
    assert node["metadata"]["labels"]["kubernetes.io/hostname"] == "node-c"
    assert node["metadata"]["uid"]
    read = core_api.read_node("node-c")
    assert read.metadata.uid == node["metadata"]["uid"]
    assert read.status.conditions[0].type == "Ready"


def test_dry_run_create_checks_and_drops_but_stores_nothing(devcluster: DevCluster) -> None:
    import json
    import urllib.request

    body = json.dumps(
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceSlice",
            "metadata": {"generateName": "probe-"},
            "spec": {
                "driver": "mock.hdra.io",
                "nodeName": "n",
                "pool": {"name": "n", "generation": 1, "resourceSliceCount": 1},
                "devices": [{"name": "gpu-0"}],
            },
        }
    ).encode()
    rv_before = devcluster.store.current_rv
    request = urllib.request.Request(
        devcluster.url + "/apis/resource.k8s.io/v1/resourceslices?dryRun=All",
        data=body,
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    with urllib.request.urlopen(request) as answer:
        assert answer.status == 201
        created = json.loads(answer.read())
    assert created["metadata"]["name"].startswith("probe-")
    assert devcluster.store.current_rv == rv_before
    with urllib.request.urlopen(devcluster.url + "/apis/resource.k8s.io/v1/resourceslices") as listing:
        assert json.loads(listing.read())["items"] == []
