"""``hdra controller`` /metrics: per-card and per-claim allocation under HAMi-DRA's names."""

from __future__ import annotations

import urllib.error
import urllib.request
import uuid

import pytest

from dra_driver.controller.extender import ExtenderServer
from dra_driver.controller.metrics import controller_registry
from dra_driver.kube.quantity import MIB
from tests.metrics.scrape import scrape, value
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
    # /metrics lists the cluster itself at scrape time: the node usage is not needed here.
    server = ExtenderServer(dict, policy="binpack", metrics=controller_registry(node.kube))
    server.start()
    try:
        series = scrape(f"{server.url}/metrics")
    finally:
        server.stop()
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


def test_metrics_route_is_404_without_a_registry(node: Node) -> None:
    server = ExtenderServer(dict, policy="binpack")
    server.start()
    try:
        with pytest.raises(urllib.error.HTTPError) as caught:
            urllib.request.urlopen(f"{server.url}/metrics", timeout=10)
    finally:
        server.stop()
    assert caught.value.code == 404
