"""Issue 16 item 6: card and node use from one cluster-side watch (``ClusterUsage`` in the
controller), served to the extender and, over ``GET /card-usage``, to node plugins that order their
cards from it (``ControllerCardOrder``) without watching claims themselves."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest

from dra_driver.controller.cluster_usage import ClusterUsage
from dra_driver.controller.extender import ExtenderServer
from dra_driver.controller.ordering import order_cards
from dra_driver.controller.remote_order import ControllerCardOrder
from dra_driver.devcluster import DevCluster
from dra_driver.devices import make_backend
from dra_driver.kube import KubeClient
from dra_driver.slices.usage import card_usage, node_usage
from tests.controller.test_extender import DRIVER, allocate, publish


class Syncs:
    def __init__(self) -> None:
        self.count = 0

    def request_sync(self) -> None:
        self.count += 1


def _settled(usage: ClusterUsage, expected: dict[str, float], timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if {node: u.score for node, u in usage().items()} == expected:
            return
        time.sleep(0.05)
    raise AssertionError(f"node use { ({n: u.score for n, u in usage().items()}) } never became {expected}")


@pytest.fixture
def tracked(kube: KubeClient, cluster: DevCluster) -> Iterator[ClusterUsage]:
    publish(kube, cluster, "node-a")
    publish(kube, cluster, "node-b")
    usage = ClusterUsage(kube, debounce_seconds=0.05)
    usage.start()
    try:
        yield usage
    finally:
        usage.stop()


def test_one_watch_follows_claims_and_agrees_with_listing(kube: KubeClient, tracked: ClusterUsage) -> None:
    _settled(tracked, {"node-a": 0.0, "node-b": 0.0})
    allocate(kube, "a0", "node-a", "gpu-0", "20Gi")
    for i in range(3):
        allocate(kube, f"b{i}", "node-b", f"gpu-{i}", "40Gi")
    _settled(tracked, {"node-a": 0.125, "node-b": 0.75})
    # The same numbers a fresh listing gives.
    slices = [
        s.model_dump(by_alias=True, exclude_none=True, mode="json") for s in kube.resource_slices.list().items
    ]
    claims = [
        c.model_dump(by_alias=True, exclude_none=True, mode="json")
        for c in kube.resource_claims.list(None).items
    ]
    assert tracked() == node_usage(card_usage(slices, claims, drivers=[DRIVER]))
    kube.resource_claims.delete("default", "b2")
    _settled(tracked, {"node-a": 0.125, "node-b": 0.5})


def test_node_plugin_orders_its_cards_from_the_controller(kube: KubeClient, tracked: ClusterUsage) -> None:
    allocate(kube, "b0", "node-b", "gpu-2", "40Gi")
    allocate(kube, "b1", "node-b", "gpu-1", "10Gi")
    _settled(tracked, {"node-a": 0.0, "node-b": 50 / 160})
    server = ExtenderServer(tracked, policy="binpack", card_scores=tracked.card_scores)
    server.start()
    cards = make_backend("mock", node_name="node-b", profile="a100x4").discover()
    syncs = Syncs()
    remote = ControllerCardOrder(
        server.url.replace("0.0.0.0", "127.0.0.1"),
        driver=DRIVER,
        node_name="node-b",
        cards=cards,
        policy="binpack",
        controller=syncs,
    )
    try:
        assert remote.refresh() is True and syncs.count == 1
        slices = [
            s.model_dump(by_alias=True, exclude_none=True, mode="json")
            for s in kube.resource_slices.list().items
        ]
        claims = [
            c.model_dump(by_alias=True, exclude_none=True, mode="json")
            for c in kube.resource_claims.list(None).items
        ]
        local = order_cards(cards, card_usage(slices, claims, drivers=[DRIVER]), "binpack")
        assert (
            [c.name for c in remote.cards()]
            == [c.name for c in local]
            == ["gpu-2", "gpu-1", "gpu-0", "gpu-3"]
        )
        assert remote.refresh() is False and syncs.count == 1  # same use, same order: no re-publish
    finally:
        server.stop()


def test_unreachable_controller_keeps_the_order() -> None:
    cards = make_backend("mock", node_name="n", profile="a100x4").discover()
    syncs = Syncs()
    remote = ControllerCardOrder(
        "http://127.0.0.1:9",
        driver=DRIVER,
        node_name="n",
        cards=cards,
        policy="spread",
        controller=syncs,
        timeout_seconds=1.0,
    )
    assert remote.refresh() is False
    assert [c.name for c in remote.cards()] == ["gpu-0", "gpu-1", "gpu-2", "gpu-3"] and syncs.count == 0
