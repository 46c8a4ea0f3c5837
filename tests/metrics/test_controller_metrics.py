"""``hdra controller`` /metrics: per-card and per-claim allocation under HAMi-DRA's names, computed
from ClusterUsage's watched objects (a scrape makes no API call)."""

from __future__ import annotations

import threading
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from prometheus_client import generate_latest

from dra_driver.controller import cluster_usage
from dra_driver.controller.cluster_usage import ClusterUsage
from dra_driver.controller.extender import ExtenderServer
from dra_driver.controller.metrics import controller_registry
from dra_driver.kube import Unavailable
from dra_driver.kube.quantity import MIB
from tests.metrics.scrape import parse, scrape, value
from tests.prepare.conftest import Node
from tests.support.claims import ClaimSpec, Result, create_allocated_claim


def test_metrics_route_reports_cluster_allocation(node: Node) -> None:
    card, other = node.devices[0], node.devices[1]
    consumed = {"memory": "6Gi", "cores": "40", "shares": "1"}
    create_allocated_claim(
        node.kube, ClaimSpec("a", [Result("gpu-0", consumed=consumed, share_id=str(uuid.uuid4()))])
    )
    create_allocated_claim(
        node.kube, ClaimSpec("b", [Result("gpu-0", consumed=consumed, share_id=str(uuid.uuid4()))])
    )
    node.cluster.stats.reset()
    usage = ClusterUsage(node.kube, debounce_seconds=0.05)
    usage.start()  # lists both kinds before it returns: the claims above are in its view
    server = ExtenderServer(usage, policy="binpack", metrics=controller_registry(usage.objects))
    server.start()
    try:
        # Each watch thread lists and then opens its stream: count only once both streams are open.
        deadline = time.monotonic() + 10
        while node.cluster.stats.watches < 2:
            assert time.monotonic() < deadline, "the two usage watches never opened their streams"
            time.sleep(0.02)
        node.cluster.stats.reset()
        series = scrape(f"{server.url}/metrics")
        assert node.cluster.stats.total == 0, "a scrape must not call the API"
    finally:
        server.stop()
        usage.stop()
    assert value(series, "hdra_controller_cluster_up") == 1
    assert (
        value(series, "hami_dra_gpu_memory_allocated_bytes", deviceuuid=card.uuid, node="node-a")
        == 12 * 1024 * MIB
    )
    assert value(series, "hami_dra_gpu_core_allocated_ratio", deviceuuid=card.uuid) == 80
    assert value(series, "hami_dra_gpu_memory_limit_bytes", deviceuuid=card.uuid) == card.memory_bytes
    assert value(series, "hami_dra_gpu_core_limit_ratio", deviceuuid=card.uuid) == 100
    assert value(series, "hdra_card_allocations", deviceuuid=card.uuid) == 2
    assert value(series, "hami_dra_gpu_memory_allocated_bytes", deviceuuid=other.uuid) == 0
    assert (
        value(series, "hami_dra_vgpu_memory_allocated_bytes", claim="a", deviceuuid=card.uuid)
        == 6 * 1024 * MIB
    )
    assert value(series, "hami_dra_vgpu_core_allocated_ratio", claim="b", namespace="default") == 40


def test_a_claim_allocated_later_reaches_the_metrics_through_the_watch(node: Node) -> None:
    usage = ClusterUsage(node.kube, debounce_seconds=0.05)
    usage.start()
    server = ExtenderServer(usage, policy="binpack", metrics=controller_registry(usage.objects))
    server.start()
    card = node.devices[0]
    try:
        assert value(scrape(f"{server.url}/metrics"), "hdra_card_allocations", deviceuuid=card.uuid) == 0
        consumed = {"memory": "2Gi", "cores": "10", "shares": "1"}
        create_allocated_claim(
            node.kube, ClaimSpec("late", [Result("gpu-0", consumed=consumed, share_id=str(uuid.uuid4()))])
        )
        deadline = time.monotonic() + 10
        while value(scrape(f"{server.url}/metrics"), "hdra_card_allocations", deviceuuid=card.uuid) != 1:
            assert time.monotonic() < deadline, "the watched claim never reached /metrics"
            time.sleep(0.05)
    finally:
        server.stop()
        usage.stop()


def test_no_series_but_cluster_up_0_while_the_watches_have_not_listed(node: Node) -> None:
    server = ExtenderServer(dict, policy="binpack", metrics=controller_registry(lambda: None))
    server.start()
    try:
        series = scrape(f"{server.url}/metrics")
    finally:
        server.stop()
    assert value(series, "hdra_controller_cluster_up") == 0
    assert not [name for name, _ in series if name.startswith(("hami_dra_", "hdra_card_"))]


def test_a_failed_watch_hides_the_objects_until_it_lists_again(
    node: Node, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The claim watch fails once; until its restarted watch has listed, /metrics says cluster_up 0."""
    real_watch = cluster_usage.watch  # type: ignore[attr-defined]  # the module's own import, patched below
    relist = threading.Event()
    claim_watches: list[int] = []

    def flaky(resource: Any, **kwargs: Any) -> Iterator[Any]:
        if resource.spec.kind == "ResourceClaim":
            claim_watches.append(1)
            if len(claim_watches) == 1:
                raise Unavailable(
                    verb="watch", kind="ResourceClaim", name=None, namespace=None, code=None,
                    reason=None, detail="connection reset (test)",
                )  # fmt: skip
            relist.wait(10)
        yield from real_watch(resource, **kwargs)

    monkeypatch.setattr(cluster_usage, "watch", flaky)
    usage = ClusterUsage(node.kube)
    assert usage.objects() is None  # nothing listed yet
    usage.start()
    try:
        deadline = time.monotonic() + 10
        while len(claim_watches) < 2:  # the failed watch was restarted and waits at the gate
            assert time.monotonic() < deadline, "the failed claim watch was never restarted"
            time.sleep(0.02)
        assert usage.objects() is None
        collector_says = parse(generate_latest(controller_registry(usage.objects)).decode())
        assert value(collector_says, "hdra_controller_cluster_up") == 0
        relist.set()
        while usage.objects() is None:
            assert time.monotonic() < deadline, "the restarted claim watch never listed"
            time.sleep(0.02)
    finally:
        relist.set()
        usage.stop()


def test_metrics_route_is_404_without_a_registry(node: Node) -> None:
    server = ExtenderServer(dict, policy="binpack")
    server.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{server.url}/metrics", timeout=10)
    finally:
        server.stop()
    assert caught.value.code == 404
