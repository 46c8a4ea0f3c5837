"""Card and node usage from allocation results over slices the builder publishes, in every mode."""

from __future__ import annotations

from typing import Any

import pytest

from dra_driver.devices import AcceleratorDevice, make_backend
from dra_driver.slices import SharingMode, build_slices
from dra_driver.slices.usage import (
    CardCapacity,
    CardUsage,
    SliceIndex,
    allocation_results,
    card_usage,
    node_usage,
)

DRIVER = "mock.hdra.io"
GIB = 1024**3


def cards(node: str = "node-a") -> list[AcceleratorDevice]:
    return make_backend("mock", node_name=node, profile="a100x4").discover()


def slices(mode: SharingMode, node: str = "node-a", driver: str = DRIVER) -> list[dict[str, Any]]:
    built = build_slices(cards(node), driver=driver, node_name=node, mode=mode)
    return [s.model_dump(by_alias=True, exclude_none=True, mode="json") for s in built]


def result(device: str, *, pool: str = "node-a", driver: str = DRIVER, **extra: Any) -> dict[str, Any]:
    return {"request": "gpu", "driver": driver, "pool": pool, "device": device, **extra}


def claim(*results: dict[str, Any]) -> dict[str, Any]:
    return {
        "metadata": {"name": "c", "namespace": "default"},
        "status": {"allocation": {"devices": {"results": list(results)}}},
    }


def by_name(usage: dict[str, CardUsage], node: str = "node-a") -> dict[str, CardUsage]:
    names = {card.uuid: card.name for card in cards(node)}
    return {names[uuid]: entry for uuid, entry in usage.items()}


def test_capacity_mode_counts_consumed_capacity() -> None:
    claims = [
        claim(result("gpu-1", consumedCapacity={"memory": "10Gi", "cores": "30", "shares": "1"})),
        claim(result("gpu-1", consumedCapacity={"memory": "5120Mi", "cores": "50", "shares": "1"})),
    ]
    usage = by_name(card_usage(slices(SharingMode.CAPACITY), claims, drivers={DRIVER}))
    gpu1 = usage["gpu-1"]
    assert (gpu1.memory_bytes, gpu1.cores, gpu1.allocations) == (15 * GIB, 80, 2)
    assert gpu1.card.memory_bytes == 40 * GIB and gpu1.card.cores == 100
    assert gpu1.memory_fraction == pytest.approx(0.375)
    assert gpu1.score == pytest.approx(0.8)  # cores are the scarcer dimension here
    assert sorted(usage) == ["gpu-0", "gpu-1", "gpu-2", "gpu-3"]
    assert all(usage[n].score == 0 and usage[n].allocations == 0 for n in ("gpu-0", "gpu-2", "gpu-3"))


def test_capacity_mode_without_consumed_capacity_uses_the_policy_defaults() -> None:
    usage = by_name(card_usage(slices(SharingMode.CAPACITY), [claim(result("gpu-0"))]))
    # memory default = the whole card, cores default = 0
    assert (usage["gpu-0"].memory_bytes, usage["gpu-0"].cores) == (40 * GIB, 0)
    assert usage["gpu-0"].score == 1.0


def test_partitions_count_the_partition_and_the_whole_card() -> None:
    claims = [claim(result("gpu-0-p4-1")), claim(result("gpu-0-p2-0")), claim(result("gpu-1"))]
    usage = by_name(card_usage(slices(SharingMode.PARTITIONS), claims))
    assert (usage["gpu-0"].memory_bytes, usage["gpu-0"].cores) == (30 * GIB, 75)
    assert usage["gpu-0"].allocations == 2
    assert usage["gpu-0"].score == pytest.approx(0.75)
    assert (usage["gpu-1"].memory_bytes, usage["gpu-1"].cores) == (40 * GIB, 100)
    assert usage["gpu-1"].score == 1.0


def test_replicas_count_their_share_of_a_card_made_of_replicas() -> None:
    usage = by_name(card_usage(slices(SharingMode.REPLICAS), [claim(result("gpu-2-r0"), result("gpu-2-r3"))]))
    gpu2 = usage["gpu-2"]
    assert gpu2.card.memory_bytes == 40 * GIB and gpu2.card.cores == 100
    assert (gpu2.memory_bytes, gpu2.cores, gpu2.allocations) == (20 * GIB, 50, 2)
    assert gpu2.score == pytest.approx(0.5)


def test_exclusive_device_takes_the_whole_card() -> None:
    usage = by_name(card_usage(slices(SharingMode.EXCLUSIVE), [claim(result("gpu-3"))]))
    assert usage["gpu-3"].memory_fraction == 1.0 and usage["gpu-3"].cores_fraction == 1.0
    assert usage["gpu-3"].score == 1.0


def test_other_drivers_pools_admin_access_and_unknown_devices_are_skipped() -> None:
    published = slices(SharingMode.EXCLUSIVE) + slices(SharingMode.EXCLUSIVE, node="node-b")
    claims = [
        claim(result("gpu-0", driver="other.example.com")),
        claim(result("gpu-1", pool="node-b")),
        claim(result("gpu-2", adminAccess=True)),
        claim(result("gpu-9")),
        {"metadata": {"name": "pending"}, "status": {}},
        {"metadata": {"name": "no-status"}},
    ]
    usage = card_usage(published, claims, drivers={DRIVER}, pool="node-a")
    assert len(usage) == 4  # node-b's cards are not in pool node-a
    assert all(entry.allocations == 0 for entry in usage.values())
    assert allocation_results(claims[1], drivers={DRIVER}) == [result("gpu-1", pool="node-b")]
    assert allocation_results(claims[1], drivers={DRIVER}, pool="node-a") == []
    assert allocation_results(claims[0], drivers={DRIVER}) == []


def test_only_the_newest_pool_generation_counts() -> None:
    old = slices(SharingMode.EXCLUSIVE)
    new = slices(SharingMode.EXCLUSIVE)
    for slice_ in new:
        slice_["spec"]["pool"]["generation"] = 2
        slice_["spec"]["devices"] = slice_["spec"]["devices"][:2]
    index = SliceIndex.from_slices(old + new, drivers={DRIVER})
    assert sorted(name for _, _, name in index.devices) == ["gpu-0", "gpu-1"]
    usage = card_usage(old + new, [claim(result("gpu-3"))], drivers={DRIVER})
    assert len(usage) == 2 and all(entry.allocations == 0 for entry in usage.values())


def test_unparseable_capacity_names_the_device() -> None:
    broken = slices(SharingMode.CAPACITY)
    broken[0]["spec"]["devices"][1]["capacity"]["memory"]["value"] = "lots"
    with pytest.raises(ValueError, match=r"mock\.hdra\.io/node-a/gpu-1 capacity memory.*'lots'"):
        SliceIndex.from_slices(broken)


def test_node_usage_is_allocated_over_total_memory_per_node() -> None:
    published = slices(SharingMode.CAPACITY) + slices(SharingMode.CAPACITY, node="node-b")
    b_cards = {card.name: card for card in cards("node-b")}
    claims = [
        claim(result("gpu-0", consumedCapacity={"memory": "20Gi"})),
        claim(result("gpu-0", pool="node-b")),  # default: the whole card
        claim(result("gpu-1", pool="node-b", consumedCapacity={"memory": "40Gi", "cores": "100"})),
    ]
    usage = card_usage(published, claims)
    assert usage[b_cards["gpu-1"].uuid].score == 1.0
    nodes = node_usage(usage)
    assert sorted(nodes) == ["node-a", "node-b"]
    assert (nodes["node-a"].memory_bytes, nodes["node-a"].memory_total, nodes["node-a"].cards) == (
        20 * GIB,
        160 * GIB,
        4,
    )
    assert nodes["node-a"].score == pytest.approx(0.125)
    assert nodes["node-b"].score == pytest.approx(0.5)


def test_over_allocation_is_clamped() -> None:
    card = CardCapacity(uuid="u", driver=DRIVER, pool="p", node="n", memory_bytes=10, cores=100)
    usage = CardUsage(card=card, memory_bytes=25, cores=150, allocations=3)
    assert usage.score == 1.0
    assert node_usage([usage])["n"].score == 1.0
    empty = CardCapacity(uuid="e", driver=DRIVER, pool="p", node=None, memory_bytes=0, cores=0)
    assert CardUsage(card=empty, memory_bytes=5).score == 0.0
    assert node_usage([CardUsage(card=empty)]) == {}


@pytest.mark.parametrize("mode", list(SharingMode)[:4])
def test_every_card_is_named_as_its_node_publishes_it(mode: SharingMode) -> None:
    """Issue 18 item 19: ``hdra top`` named cards by UUID; a card made only of replicas has no device
    of its own, so its name comes from its pieces (``gpu-2-r0`` … → ``gpu-2``)."""
    index = SliceIndex.from_slices(slices(mode))
    assert {card.uuid: card.name for card in index.cards.values()} == {c.uuid: c.name for c in cards()}
