"""build_slices(keep_order=True): the card order given is the device order published (DESIGN section 8)."""

from __future__ import annotations

from typing import Any

import pytest

from dra_driver.devices import AcceleratorDevice
from dra_driver.kube.features import KubeVersion
from dra_driver.slices import SharingMode, SliceOptions, build_slices
from tests.slices.slices_support import DRIVER, NODE, a100_node, as_dict, big_node

MODES = [mode for mode in SharingMode if mode is not SharingMode.AUTO]


def _card_order(cards: list[AcceleratorDevice], mode: SharingMode, **kwargs: Any) -> list[str]:
    """The uuid of each published device, in slice order, with consecutive repeats collapsed."""
    slices = build_slices(cards, driver=DRIVER, node_name=NODE, mode=mode, **kwargs)
    order: list[str] = []
    for slice_ in slices:
        for device in as_dict(slice_)["spec"].get("devices", []):
            uuid = device["attributes"]["uuid"]["string"]
            if not order or order[-1] != uuid:
                order.append(uuid)
    return order


@pytest.mark.parametrize("mode", MODES)
def test_keep_order_publishes_cards_in_the_given_order(mode: SharingMode) -> None:
    cards = a100_node()
    shuffled = [cards[2], cards[0], cards[3], cards[1]]
    assert _card_order(shuffled, mode, keep_order=True) == [c.uuid for c in shuffled]


@pytest.mark.parametrize("mode", MODES)
def test_default_still_sorts_by_index(mode: SharingMode) -> None:
    cards = a100_node()
    shuffled = [cards[2], cards[0], cards[3], cards[1]]
    assert _card_order(shuffled, mode) == [c.uuid for c in cards]
    assert _card_order(shuffled, mode, keep_order=False) == [c.uuid for c in cards]


def test_keep_order_over_several_slices_keeps_the_pool_complete() -> None:
    """Reversing a node that needs several slices moves devices between slices, losing none."""
    cards = big_node()
    reverse = list(reversed(cards))
    options = SliceOptions(kube_version=KubeVersion.parse("1.36"))
    kept = _card_order(reverse, SharingMode.REPLICAS, keep_order=True, options=options)
    assert kept == [c.uuid for c in reverse]
    by_index = build_slices(cards, driver=DRIVER, node_name=NODE, mode=SharingMode.REPLICAS, options=options)
    reordered = build_slices(
        reverse, driver=DRIVER, node_name=NODE, mode=SharingMode.REPLICAS, options=options, keep_order=True
    )
    assert len(reordered) == len(by_index) > 1

    def names(slices: list[Any]) -> list[str]:
        return sorted(d.name for s in slices for d in s.spec.devices or [])

    assert names(reordered) == names(by_index)
