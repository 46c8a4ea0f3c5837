"""Retries, Retry-After and conflict re-reads against injected dev cluster faults."""

from __future__ import annotations

import logging
import time

import pytest

from dra_driver.devcluster import DevCluster, FaultRule
from dra_driver.kube import KubeClient, ServerError
from dra_driver.kube.models import ResourceSlice
from tests.kube.conftest import FAST_RETRY
from tests.kube.objects import device_names, meta, names, resource_slice, with_device


def retry_logs(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        r.getMessage() for r in caplog.records if r.name == "hdra.kube" and "retrying in" in r.getMessage()
    ]


def test_500_twice_on_put_is_retried_then_succeeds(
    cluster: DevCluster, client: KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client.resource_slices.create(resource_slice("s1", "node-a"))
    current = with_device(client.resource_slices.get("s1"), "gpu-1")
    cluster.faults.add(FaultRule(method="PUT", path_regex=r"resourceslices", status=500, count=2))
    with caplog.at_level(logging.WARNING, logger="hdra.kube"):
        updated = client.resource_slices.update(current)
    assert device_names(updated) == ["gpu-0", "gpu-1"]
    logs = retry_logs(caplog)
    assert len(logs) == 2
    assert 'update ResourceSlice "s1": HTTP 500' in logs[0]


def test_503_on_get_is_retried_then_succeeds(
    cluster: DevCluster, client: KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client.resource_slices.create(resource_slice("s1", "node-a"))
    cluster.faults.add(FaultRule(method="GET", path_regex=r"resourceslices/s1", status=503, count=3))
    with caplog.at_level(logging.WARNING, logger="hdra.kube"):
        assert client.resource_slices.get("s1").spec.node_name == "node-a"
    assert len(retry_logs(caplog)) == 3


def test_429_retry_after_is_honoured(cluster: DevCluster, client: KubeClient) -> None:
    client.resource_slices.create(resource_slice("s1", "node-a"))
    cluster.faults.add(
        FaultRule(method="GET", path_regex=r"resourceslices", status=429, count=1, retry_after=1)
    )
    started = time.monotonic()
    listed = client.resource_slices.list()
    elapsed = time.monotonic() - started
    assert names(listed.items) == ["s1"]
    # The fast policy would otherwise wait at most 0.05 s; the server asked for 1 s.
    assert elapsed >= 0.9
    assert elapsed < 10.0


def test_a_dropped_connection_is_retried(
    cluster: DevCluster, client: KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    client.resource_slices.create(resource_slice("s1", "node-a"))
    cluster.faults.add(
        FaultRule(method="GET", path_regex=r"resourceslices/s1", drop_connection=True, count=1)
    )
    with caplog.at_level(logging.WARNING, logger="hdra.kube"):
        assert client.resource_slices.get("s1").metadata is not None
    logs = retry_logs(caplog)
    assert len(logs) == 1
    assert "no response" in logs[0]


def test_exhausted_budget_raises_server_error_naming_the_call(
    cluster: DevCluster, client: KubeClient, caplog: pytest.LogCaptureFixture
) -> None:
    cluster.faults.add(FaultRule(method="POST", path_regex=r"resourceslices", status=500, count=1000))
    with caplog.at_level(logging.WARNING, logger="hdra.kube"), pytest.raises(ServerError) as failed:
        client.resource_slices.create(resource_slice("doomed", "node-a"))
    assert str(failed.value).startswith('create ResourceSlice "doomed": HTTP 500')
    assert any(f"gave up after {FAST_RETRY.attempts} attempt(s)" in n for n in failed.value.__notes__)
    assert len(retry_logs(caplog)) == FAST_RETRY.attempts - 1
    cluster.faults.clear()
    assert client.resource_slices.list().items == ()


def test_modify_rereads_when_a_concurrent_writer_wins(client: KubeClient, other_client: KubeClient) -> None:
    client.resource_slices.create(resource_slice("s1", "node-a", devices=1))
    runs: list[list[str]] = []

    def add_device(current: ResourceSlice) -> ResourceSlice:
        runs.append(device_names(current))
        if len(runs) == 1:
            # Between our GET and our PUT another writer changes the object.
            theirs = other_client.resource_slices.get("s1")
            meta(theirs).labels = {"written-by": "other"}
            other_client.resource_slices.update(theirs)
        return with_device(current, "mine")

    result = client.resource_slices.modify("s1", add_device)
    assert result is not None
    assert len(runs) == 2  # one 409, one re-read
    stored = client.resource_slices.get("s1")
    assert device_names(stored) == ["gpu-0", "mine"]
    assert meta(stored).labels == {"written-by": "other"}  # the other writer's change survived


def test_modify_rereads_after_an_injected_409(cluster: DevCluster, client: KubeClient) -> None:
    client.resource_slices.create(resource_slice("s1", "node-a"))
    cluster.faults.add(FaultRule(method="PUT", path_regex=r"resourceslices/s1", status=409, count=1))
    runs = 0

    def relabel(current: ResourceSlice) -> ResourceSlice:
        nonlocal runs
        runs += 1
        meta(current).labels = {"run": str(runs)}
        return current

    client.resource_slices.modify("s1", relabel)
    assert runs == 2
    assert meta(client.resource_slices.get("s1")).labels == {"run": "2"}


def test_modify_returning_none_writes_nothing(client: KubeClient) -> None:
    created = client.resource_slices.create(resource_slice("s1", "node-a"))
    assert client.resource_slices.modify("s1", lambda current: None) is None
    after = client.resource_slices.get("s1")
    assert meta(after).resource_version == meta(created).resource_version
