"""Card order per policy: binpack most-used first, spread least-used first, ties and none by index."""

from __future__ import annotations

import pytest

from dra_driver.controller.ordering import POLICIES, check_policy, order_cards
from dra_driver.devices import AcceleratorDevice, make_backend
from dra_driver.slices.usage import CardCapacity, CardUsage

GIB = 1024**3


def cards() -> list[AcceleratorDevice]:
    return make_backend("mock", node_name="node-a", profile="mixed").discover()[:6]


def used(card: AcceleratorDevice, memory_gib: float, cores: int = 0) -> CardUsage:
    capacity = CardCapacity(
        uuid=card.uuid,
        driver="mock.hdra.io",
        pool="node-a",
        node="node-a",
        memory_bytes=card.memory_bytes,
        cores=100,
    )
    return CardUsage(card=capacity, memory_bytes=int(memory_gib * GIB), cores=cores, allocations=1)


def names(ordered: list[AcceleratorDevice]) -> list[str]:
    return [card.name for card in ordered]


@pytest.fixture
def usage() -> dict[str, CardUsage]:
    c = {card.name: card for card in cards()}
    # gpu-0: A100 40 GiB, gpu-2/3: V100 32 GiB, gpu-4/5: H200 141 GiB
    entries = [
        used(c["gpu-0"], 10),  # 0.25
        used(c["gpu-2"], 16),  # 0.5
        used(c["gpu-3"], 0, cores=50),  # 0.5 by cores: ties with gpu-2
        used(c["gpu-5"], 10),  # ~0.07: used, but least of all
    ]
    return {entry.card.uuid: entry for entry in entries}


def test_binpack_puts_the_most_used_first_and_ties_by_index(usage: dict[str, CardUsage]) -> None:
    assert names(order_cards(cards(), usage, "binpack")) == [
        "gpu-2",
        "gpu-3",
        "gpu-0",
        "gpu-5",
        "gpu-1",
        "gpu-4",
    ]


def test_spread_puts_the_least_used_first_and_ties_by_index(usage: dict[str, CardUsage]) -> None:
    assert names(order_cards(cards(), usage, "spread")) == [
        "gpu-1",
        "gpu-4",
        "gpu-5",
        "gpu-0",
        "gpu-2",
        "gpu-3",
    ]


def test_none_is_index_order_whatever_the_input_order(usage: dict[str, CardUsage]) -> None:
    shuffled = list(reversed(cards()))
    assert names(order_cards(shuffled, usage, "none")) == [f"gpu-{i}" for i in range(6)]


@pytest.mark.parametrize("policy", POLICIES)
def test_without_usage_every_policy_is_index_order(policy: str) -> None:
    shuffled = list(reversed(cards()))
    assert names(order_cards(shuffled, {}, check_policy(policy))) == [f"gpu-{i}" for i in range(6)]


def test_unknown_policy_is_named() -> None:
    with pytest.raises(ValueError, match=r"unknown card policy 'fifo'; choose one of binpack, spread, none"):
        check_policy("fifo")
    with pytest.raises(ValueError, match="'fifo'"):
        order_cards(cards(), {}, "fifo")  # type: ignore[arg-type]
