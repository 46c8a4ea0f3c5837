"""The card policy tracker against the dev cluster: claims change usage, slices follow the policy."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager

import pytest

from dra_driver.controller import SliceController, SlicePublisher
from dra_driver.controller.ordering import Policy
from dra_driver.controller.policy_tracker import CardPolicyTracker
from dra_driver.devcluster import DevCluster
from dra_driver.devices import AcceleratorDevice, make_backend
from dra_driver.kube import KubeClient
from dra_driver.slices import SharingMode
from tests.support.claims import ClaimSpec, Result, create_allocated_claim

DRIVER = "mock.hdra.io"
NODE = "node-a"


class SyncSpy:
    """The slice controller as the tracker sees it, counting the syncs asked for."""

    def __init__(self, controller: SliceController) -> None:
        self.controller = controller
        self.requests = 0

    def request_sync(self) -> None:
        self.requests += 1
        self.controller.request_sync()


@contextmanager
def running(
    kube: KubeClient, policy: Policy, mode: SharingMode, debounce: float = 0.2
) -> Iterator[tuple[CardPolicyTracker, SyncSpy]]:
    cards = make_backend("mock", node_name=NODE, profile="a100x4").discover()

    def ordered() -> list[AcceleratorDevice]:
        return tracker.cards()  # bound below: publisher → controller → tracker → publisher

    publisher = SlicePublisher(
        kube, driver=DRIVER, node_name=NODE, devices=ordered, mode=mode, keep_order=True
    )
    controller = SliceController(publisher, resync_seconds=60.0)
    spy = SyncSpy(controller)
    tracker = CardPolicyTracker(
        kube,
        driver=DRIVER,
        node_name=NODE,
        cards=cards,
        policy=policy,
        controller=spy,
        debounce_seconds=debounce,
    )
    tracker.start()
    controller.start()
    try:
        yield tracker, spy
    finally:
        tracker.stop()
        controller.stop()


def card_order(kube: KubeClient) -> list[str]:
    """Card names in published device order (a card's devices collapse into one entry)."""
    by_uuid = {c.uuid: c.name for c in make_backend("mock", node_name=NODE, profile="a100x4").discover()}
    listed = kube.resource_slices.list(field_selector=f"spec.nodeName={NODE},spec.driver={DRIVER}").items
    order: list[str] = []
    for slice_ in sorted(listed, key=lambda s: s.metadata.name if s.metadata and s.metadata.name else ""):
        for device in (slice_.spec.devices if slice_.spec else None) or []:
            uuid = (device.attributes or {})["uuid"].string
            name = by_uuid[str(uuid)]
            if not order or order[-1] != name:
                order.append(name)
    return order


def versions(kube: KubeClient) -> list[str]:
    listed = kube.resource_slices.list(field_selector=f"spec.nodeName={NODE},spec.driver={DRIVER}").items
    return sorted(str(s.metadata.resource_version) for s in listed if s.metadata is not None)


def wait_until(predicate: Callable[[], bool], timeout: float = 10.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return predicate()


def uuid_of(name: str) -> str:
    cards: list[AcceleratorDevice] = make_backend("mock", node_name=NODE, profile="a100x4").discover()
    return next(card.uuid for card in cards if card.name == name)


def capacity_claim(name: str, device: str, memory: str) -> ClaimSpec:
    return ClaimSpec(
        name=name, node=NODE, results=[Result(device=device, consumed={"memory": memory, "cores": "10"})]
    )


@pytest.fixture
def node(cluster: DevCluster) -> str:
    cluster.create_node(NODE)
    return NODE


def test_binpack_republishes_most_used_first_and_not_for_same_order(kube: KubeClient, node: str) -> None:
    with running(kube, "binpack", SharingMode.CAPACITY) as (tracker, spy):
        assert card_order(kube) == ["gpu-0", "gpu-1", "gpu-2", "gpu-3"]
        assert spy.requests == 0

        create_allocated_claim(kube, capacity_claim("first", "gpu-2", "10Gi"))
        assert wait_until(lambda: card_order(kube) == ["gpu-2", "gpu-0", "gpu-1", "gpu-3"], 5.0), card_order(
            kube
        )
        assert spy.requests == 1

        # More usage on the card that is first already: same order, so no re-publish at all.
        requests, before = tracker.sync_requests, versions(kube)
        create_allocated_claim(kube, capacity_claim("second", "gpu-2", "5Gi"))
        assert wait_until(lambda: tracker.usage()[uuid_of("gpu-2")].memory_bytes == 15 * 1024**3, 5.0)
        assert tracker.sync_requests == requests and spy.requests == 1
        assert versions(kube) == before

        kube.resource_claims.delete("default", "first")
        kube.resource_claims.delete("default", "second")
        assert wait_until(lambda: card_order(kube) == ["gpu-0", "gpu-1", "gpu-2", "gpu-3"], 5.0), card_order(
            kube
        )


def test_spread_republishes_the_used_card_last_in_partitions_mode(kube: KubeClient, node: str) -> None:
    create_allocated_claim(kube, ClaimSpec(name="early", node=NODE, results=[Result(device="gpu-1-p2-0")]))
    with running(kube, "spread", SharingMode.PARTITIONS) as (_tracker, spy):
        # The claim existed before the pool was published: the tracker sees the first publish
        # (its slice watch) and re-orders right after it.
        assert wait_until(lambda: card_order(kube) == ["gpu-0", "gpu-2", "gpu-3", "gpu-1"], 5.0), card_order(
            kube
        )
        create_allocated_claim(kube, ClaimSpec(name="late", node=NODE, results=[Result(device="gpu-0-p4-3")]))
        assert wait_until(lambda: card_order(kube) == ["gpu-2", "gpu-3", "gpu-0", "gpu-1"], 5.0), card_order(
            kube
        )
        assert spy.requests >= 1


def test_claims_of_other_pools_and_drivers_change_nothing(kube: KubeClient, node: str) -> None:
    with running(kube, "binpack", SharingMode.EXCLUSIVE) as (tracker, _spy):
        create_allocated_claim(
            kube, ClaimSpec(name="elsewhere", node="node-b", results=[Result(device="gpu-3")])
        )
        create_allocated_claim(
            kube,
            ClaimSpec(
                name="foreign", node=NODE, results=[Result(device="gpu-3", driver="other.example.com")]
            ),
        )
        create_allocated_claim(kube, ClaimSpec(name="mine", node=NODE, results=[Result(device="gpu-1")]))
        assert wait_until(lambda: card_order(kube) == ["gpu-1", "gpu-0", "gpu-2", "gpu-3"], 5.0), card_order(
            kube
        )
        assert tracker.usage()[uuid_of("gpu-3")].allocations == 0


def test_a_burst_of_changes_is_debounced_into_few_syncs(kube: KubeClient, node: str) -> None:
    debounce = 2.0
    with running(kube, "binpack", SharingMode.CAPACITY, debounce=debounce) as (tracker, spy):
        # Each claim alone would reorder the cards; they are created back to back.
        started = time.monotonic()
        create_allocated_claim(kube, capacity_claim("a", "gpu-3", "10Gi"))
        create_allocated_claim(kube, capacity_claim("b", "gpu-1", "20Gi"))
        create_allocated_claim(kube, capacity_claim("c", "gpu-2", "30Gi"))
        elapsed = time.monotonic() - started
        expected = ["gpu-2", "gpu-1", "gpu-3", "gpu-0"]
        assert wait_until(lambda: card_order(kube) == expected, 3 * debounce), card_order(kube)
        # One recomputation for the first event, then at most one per debounce interval: on any
        # machine that creates three claims within 2 s, two syncs at most.
        assert 1 <= tracker.sync_requests <= 2 + int(elapsed // debounce)
        assert spy.requests == tracker.sync_requests


def test_policy_none_keeps_index_order_and_watches_nothing(kube: KubeClient, node: str) -> None:
    create_allocated_claim(kube, capacity_claim("x", "gpu-3", "30Gi"))
    with running(kube, "none", SharingMode.CAPACITY) as (tracker, spy):
        assert card_order(kube) == ["gpu-0", "gpu-1", "gpu-2", "gpu-3"]
        assert tracker.recomputations == 0 and spy.requests == 0


def test_unknown_policy_is_rejected(kube: KubeClient) -> None:
    with pytest.raises(ValueError, match="'fifo'"):
        CardPolicyTracker(
            kube,
            driver=DRIVER,
            node_name=NODE,
            cards=[],
            policy="fifo",  # type: ignore[arg-type]
            controller=SyncSpy(
                SliceController(SlicePublisher(kube, driver=DRIVER, node_name=NODE, devices=list))
            ),
        )
