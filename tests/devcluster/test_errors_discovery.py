"""testing.md §2.3 items 12-13: Status error bodies for every error code, and discovery documents."""

from __future__ import annotations

import pytest
from kubernetes import client

from dra_driver.devcluster import DevCluster
from dra_driver.kube.features import KubeVersion
from tests.support.devcluster_fixtures import raw, raw_watch, slice_body

SLICES = "/apis/resource.k8s.io/v1/resourceslices"


def _assert_status(body: dict[str, object], code: int, reason: str | None) -> None:
    assert body["kind"] == "Status" and body["apiVersion"] == "v1"
    assert body["status"] == "Failure"
    assert body["code"] == code
    assert body.get("reason") == reason
    assert isinstance(body["message"], str) and body["message"]


def test_status_bodies_for_each_error_code(devcluster: DevCluster) -> None:
    url = devcluster.url
    assert raw(url, "POST", SLICES, slice_body("s")).status == 201
    old = raw(url, "GET", f"{SLICES}/s").json()
    assert (
        raw(url, "PUT", f"{SLICES}/s", {**old, "metadata": {**old["metadata"], "labels": {"a": "b"}}}).status
        == 200
    )
    bad_selector = raw(url, "GET", f"{SLICES}?fieldSelector=spec.pool.name%3Dx")
    missing = raw(url, "GET", f"{SLICES}/missing")
    wrong_method = raw(url, "PUT", SLICES, slice_body("s"))
    stale = raw(url, "PUT", f"{SLICES}/s", old)
    ssa = raw(url, "PATCH", f"{SLICES}/s", b"{}", content_type="application/apply-patch+yaml")
    typo = slice_body("t")
    typo["spec"]["devices"][0]["capacityy"] = {}
    invalid = raw(url, "POST", SLICES, typo)
    cases = [
        (bad_selector, 400, "BadRequest"),
        (missing, 404, "NotFound"),
        (wrong_method, 405, "MethodNotAllowed"),
        (stale, 409, "Conflict"),
        (ssa, 415, "UnsupportedMediaType"),
        (invalid, 422, "Invalid"),
    ]
    for response, code, reason in cases:
        assert response.status == code, response.body
        assert response.headers["content-type"] == "application/json"
        _assert_status(response.json(), code, reason)
    assert missing.json()["details"] == {
        "name": "missing",
        "group": "resource.k8s.io",
        "kind": "resourceslices",
    }
    assert invalid.json()["details"]["kind"] == "ResourceSlice"
    horizon = devcluster.store.compact()
    status, lines = raw_watch(url, f"{SLICES}?watch=true&resourceVersion=1&timeoutSeconds=1")
    assert status == 200 and [line["type"] for line in lines] == ["ERROR"]
    _assert_status(lines[0]["object"], 410, "Expired")
    error = client.V1Status.from_dict(lines[0]["object"])
    assert error is not None and error.message == f"too old resource version: 1 ({horizon})"


def test_unknown_paths_are_404_status(devcluster: DevCluster) -> None:
    for path in (
        "/apis/resource.k8s.io/v1/widgets",
        "/apis/example.com/v1",
        "/openapi/v2",  # only /openapi/v3 is served (tests/devcluster/test_openapi.py)
        "/openapi/v3/apis/apps/v1",
        "/api/v1/namespaces/x/nodes",
    ):
        response = raw(devcluster.url, "GET", path)
        assert response.status == 404, path
        _assert_status(response.json(), 404, "NotFound")


def test_discovery_documents(devcluster: DevCluster) -> None:
    url = devcluster.url
    assert raw(url, "GET", "/api").json()["versions"] == ["v1"]
    groups = raw(url, "GET", "/apis").json()
    assert groups["kind"] == "APIGroupList"
    assert [g["name"] for g in groups["groups"]] == ["resource.k8s.io"]
    assert groups["groups"][0]["preferredVersion"]["groupVersion"] == "resource.k8s.io/v1"
    assert raw(url, "GET", "/apis/resource.k8s.io").json()["kind"] == "APIGroup"
    resource_list = raw(url, "GET", "/apis/resource.k8s.io/v1").json()
    by_name = {r["name"]: r for r in resource_list["resources"]}
    assert set(by_name) == {
        "resourceslices",
        "deviceclasses",
        "resourceclaims",
        "resourceclaims/status",
        "resourceclaimtemplates",
    }
    assert by_name["resourceslices"]["namespaced"] is False
    assert by_name["resourceclaims"]["namespaced"] is True
    assert by_name["resourceslices"]["kind"] == "ResourceSlice"
    assert by_name["resourceslices"]["singularName"] == "resourceslice"
    assert "deletecollection" in by_name["resourceslices"]["verbs"]
    assert by_name["resourceclaims/status"]["verbs"] == ["get", "patch", "update"]
    core = {r["name"]: r for r in raw(url, "GET", "/api/v1").json()["resources"]}
    assert core["pods"]["shortNames"] == ["po"] and core["nodes"]["shortNames"] == ["no"]
    assert core["events"]["shortNames"] == ["ev"] and core["namespaces"]["shortNames"] == ["ns"]


@pytest.mark.parametrize("minor", [34, 35, 36])
def test_version_matches_the_chosen_release(minor: int) -> None:
    with DevCluster(kube_version=KubeVersion(1, minor)) as cluster:
        info = client.VersionApi(client.ApiClient(client.Configuration(host=cluster.url))).get_code()
        assert (info.major, info.minor, info.git_version) == ("1", str(minor), f"v1.{minor}.0-hdra")
