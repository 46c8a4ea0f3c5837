"""``whole_card_selector``: a request for whole cards never gets a piece of one (issue 18 item 7).

The selector is evaluated with the simulator's CEL engine on the devices each sharing mode
publishes; it must admit exactly the devices that stand for a whole card (no ``parentUUID``: the
card itself in every mode but replicas) and nothing else — replicas, partitions and Ascend vNPU templates.
"""

from __future__ import annotations

import pytest

from dra_driver.devices import make_backend
from dra_driver.sim.cel_env import CelDevice, CelEngine
from dra_driver.slices import SharingMode, build_slices, whole_card_selector


@pytest.mark.parametrize(
    ("profile", "driver"), [("a100x4", "nvidia.hdra.io"), ("ascend910bx8", "ascend.hdra.io")]
)
@pytest.mark.parametrize(
    "mode", [SharingMode.CAPACITY, SharingMode.PARTITIONS, SharingMode.REPLICAS, SharingMode.EXCLUSIVE]
)
def test_selector_admits_exactly_the_whole_cards(profile: str, driver: str, mode: SharingMode) -> None:
    cards = make_backend("mock", node_name="n1", profile=profile).discover()
    engine = CelEngine()
    selector = engine.compile(whole_card_selector(driver))
    admitted: list[str] = []
    pieces: list[str] = []
    for slice_ in build_slices(cards, driver=driver, node_name="n1", mode=mode):
        for device in (slice_.spec.devices if slice_.spec else None) or []:
            plain = device.model_dump(by_alias=True, exclude_none=True, mode="json")
            match = engine.evaluate(
                selector,
                CelDevice(
                    device.name, driver, plain.get("attributes") or {}, plain.get("capacity") or {}, False
                ),
            )
            assert match.error is None, match
            (admitted if match.matched else pieces).append(device.name)
    # replicas mode publishes no device that is a whole card: a whole-card request stays pending there
    wholes = [] if mode is SharingMode.REPLICAS else sorted(card.name for card in cards)
    assert sorted(admitted) == wholes
    if mode in (SharingMode.PARTITIONS, SharingMode.REPLICAS):
        assert pieces, "this mode publishes pieces of cards, and the selector must refuse every one"
    else:
        assert pieces == []
