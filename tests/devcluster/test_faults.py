"""testing.md §2.3 item 15: fault injection (status, Retry-After, dropped connections, latency) and stats."""

from __future__ import annotations

import http.client
import time
from urllib.parse import urlsplit

import pytest
from kubernetes.client.exceptions import ApiException

from dra_driver.devcluster import DevCluster, FaultRule
from tests.support.devcluster_fixtures import ClientApi, raw, slice_body

SLICES = "/apis/resource.k8s.io/v1/resourceslices"


@pytest.mark.parametrize(
    ("status", "reason"), [(409, "Conflict"), (500, "InternalError"), (503, "ServiceUnavailable")]
)
def test_status_faults_hit_the_next_n_matching_requests(
    devcluster: DevCluster, status: int, reason: str
) -> None:
    assert raw(devcluster.url, "POST", SLICES, slice_body("s")).status == 201
    current = raw(devcluster.url, "GET", f"{SLICES}/s").json()
    devcluster.faults.add(FaultRule(method="PUT", path_regex=r"resourceslices/s$", status=status, count=2))
    assert raw(devcluster.url, "GET", f"{SLICES}/s").status == 200  # other methods are untouched
    for _ in range(2):
        response = raw(devcluster.url, "PUT", f"{SLICES}/s", current)
        assert response.status == status
        assert response.json()["reason"] == reason
    assert raw(devcluster.url, "PUT", f"{SLICES}/s", current).status == 200
    assert devcluster.faults.pending() == []


def test_429_carries_retry_after(devcluster: DevCluster) -> None:
    devcluster.faults.add(FaultRule(method="GET", path_regex="resourceslices", status=429, retry_after=3))
    response = raw(devcluster.url, "GET", SLICES)
    assert response.status == 429
    assert response.headers["retry-after"] == "3"
    body = response.json()
    assert body["reason"] == "TooManyRequests" and body["details"]["retryAfterSeconds"] == 3


def test_official_client_sees_injected_500(devcluster: DevCluster, resource_api: ClientApi) -> None:
    devcluster.faults.add(FaultRule(method="POST", path_regex="resourceslices", status=500))
    with pytest.raises(ApiException) as info:
        resource_api.create_resource_slice(slice_body("s"))
    assert info.value.status == 500
    assert resource_api.create_resource_slice(slice_body("s")).metadata.name == "s"


def test_drop_connection_closes_without_an_answer(devcluster: DevCluster) -> None:
    devcluster.faults.add(FaultRule(method="GET", path_regex="resourceslices", drop_connection=True))
    parts = urlsplit(devcluster.url)
    conn = http.client.HTTPConnection(parts.hostname or "", parts.port, timeout=5)
    conn.request("GET", SLICES)
    with pytest.raises((http.client.RemoteDisconnected, ConnectionResetError)):
        conn.getresponse()
    conn.close()
    assert raw(devcluster.url, "GET", SLICES).status == 200


def test_delay_without_status_serves_normally_after_sleeping(devcluster: DevCluster) -> None:
    devcluster.faults.add(FaultRule(method="GET", path_regex="resourceslices", delay_s=0.3))
    started = time.monotonic()
    response = raw(devcluster.url, "GET", SLICES)
    assert response.status == 200
    assert time.monotonic() - started >= 0.3


def test_fault_rules_match_query_strings_and_clear(devcluster: DevCluster) -> None:
    devcluster.faults.add(FaultRule(path_regex=r"watch=true", status=503, count=5))
    assert raw(devcluster.url, "GET", SLICES).status == 200
    assert raw(devcluster.url, "GET", f"{SLICES}?watch=true&timeoutSeconds=1").status == 503
    devcluster.faults.clear()
    assert raw(devcluster.url, "GET", f"{SLICES}?watch=true&timeoutSeconds=1").status == 200
    with pytest.raises(ValueError, match="does nothing"):
        FaultRule(path_regex="x")


def test_stats_count_requests_and_writes(devcluster: DevCluster, resource_api: ClientApi) -> None:
    devcluster.stats.reset()
    created = resource_api.create_resource_slice(slice_body("s"))
    resource_api.read_resource_slice("s")
    resource_api.replace_resource_slice("s", created)
    resource_api.patch_resource_slice("s", {"metadata": {"labels": {"a": "b"}}})
    resource_api.list_resource_slice()
    resource_api.delete_resource_slice("s")
    assert devcluster.stats.requests == {"POST": 1, "GET": 2, "PUT": 1, "PATCH": 1, "DELETE": 1}
    assert devcluster.stats.writes == 4
    assert devcluster.stats.total == 6
