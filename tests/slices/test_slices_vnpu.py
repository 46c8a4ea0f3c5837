"""Ascend cards in partitions mode: vNPU template devices instead of the generic fractions."""

from __future__ import annotations

from typing import Any

import pytest

from dra_driver.devices import AcceleratorDevice, make_backend
from dra_driver.kube.features import KubeVersion
from dra_driver.slices import SharingMode, SliceOptions, build_slices
from tests.slices.slices_support import NODE, VERSIONS, as_dict, check_limits, validator

ASCEND = "ascend.hdra.io"
TEMPLATE_DEVICES = [
    "vir05-1c-16g-0",
    "vir05-1c-16g-1",
    "vir05-1c-16g-2",
    "vir05-1c-16g-3",
    "vir10-3c-32g-0",
    "vir10-3c-32g-1",
]


def _ascend_cards() -> list[AcceleratorDevice]:
    return make_backend("mock", node_name=NODE, profile="ascend910bx8").discover()


def _slices(cards: list[AcceleratorDevice], version: str = "1.36") -> list[dict[str, Any]]:
    options = SliceOptions(kube_version=KubeVersion.parse(version))
    built = build_slices(cards, driver=ASCEND, node_name=NODE, mode=SharingMode.PARTITIONS, options=options)
    return [as_dict(s) for s in built]


def _devices(slices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [device for s in slices for device in s["spec"].get("devices", [])]


@pytest.mark.parametrize("version", VERSIONS)
def test_ascend_partitions_are_valid_and_within_limits(version: str) -> None:
    slices = _slices(_ascend_cards(), version)
    for slice_ in slices:
        errors = [e.message for e in validator(version).iter_errors(slice_)]
        assert errors == [], (slice_["metadata"]["name"], errors)
    check_limits(slices, version)
    assert len(_devices(slices)) == 8 * (len(TEMPLATE_DEVICES) + 1)


def test_each_card_offers_its_chips_templates_smallest_first_then_the_whole_card() -> None:
    names = [device["name"] for device in _devices(_slices(_ascend_cards()))]
    expected = [name for i in range(8) for name in [*(f"npu-{i}-{t}" for t in TEMPLATE_DEVICES), f"npu-{i}"]]
    assert names == expected
    assert not any("-p2-" in name or "-p8-" in name for name in names)


def test_template_devices_carry_their_template_and_consume_the_cards_ai_cores() -> None:
    cards = _ascend_cards()
    slices = _slices(cards[:1])
    (counter_set,) = [cs for s in slices for cs in s["spec"].get("sharedCounters", [])]
    assert counter_set["name"] == "npu-0-counters"
    assert counter_set["counters"] == {
        "memory": {"value": "64Gi"},
        "cores": {"value": "100"},
        "ai-core": {"value": "20"},
        "ai-cpu": {"value": "7"},
    }
    by_name = {device["name"]: device for device in _devices(slices)}
    small = by_name["npu-0-vir05-1c-16g-2"]
    assert small["attributes"]["vnpuTemplate"] == {"string": "vir05_1c_16g"}
    assert small["attributes"]["parentUUID"] == {"string": cards[0].uuid}
    assert small["capacity"] == {"memory": {"value": "16Gi"}, "cores": {"value": "25"}}
    (entry,) = small["consumesCounters"]
    assert entry == {
        "counterSet": "npu-0-counters",
        "counters": {
            "memory": {"value": "16Gi"},
            "cores": {"value": "25"},
            "ai-core": {"value": "5"},
            "ai-cpu": {"value": "1"},
        },
    }
    big = by_name["npu-0-vir10-3c-32g-1"]
    assert big["attributes"]["vnpuTemplate"] == {"string": "vir10_3c_32g"}
    assert big["consumesCounters"][0]["counters"]["ai-core"] == {"value": "10"}
    assert big["consumesCounters"][0]["counters"]["ai-cpu"] == {"value": "3"}
    whole = by_name["npu-0"]
    assert "vnpuTemplate" not in whole["attributes"] and "parentUUID" not in whole["attributes"]
    assert whole["consumesCounters"][0]["counters"] == counter_set["counters"]


def test_templates_of_one_kind_never_exceed_the_card() -> None:
    devices = _devices(_slices(_ascend_cards()[:1]))
    for template, cores in (("vir05_1c_16g", 5), ("vir10_3c_32g", 10)):
        chosen = [d for d in devices if d["attributes"].get("vnpuTemplate") == {"string": template}]
        assert len(chosen) * cores <= 20
        assert len(chosen) == 20 // cores


def test_ascend_chip_without_templates_or_ai_cores_falls_back_to_fractions() -> None:
    card = _ascend_cards()[0]
    other_chip = card.model_copy(update={"product_name": "Ascend310P3"})
    no_cores = card.model_copy(update={"extra_attributes": {"aiCpu": 7}})
    for variant in (other_chip, no_cores):
        names = [device["name"] for device in _devices(_slices([variant]))]
        assert names[:2] == ["npu-0-p8-0", "npu-0-p8-1"]
        assert names[-1] == "npu-0"
        assert not any("vir" in name for name in names)


def test_card_without_ai_cpu_counts_ai_cores_only() -> None:
    card = _ascend_cards()[0].model_copy(update={"extra_attributes": {"aiCore": 20}})
    slices = _slices([card])
    (counter_set,) = [cs for s in slices for cs in s["spec"].get("sharedCounters", [])]
    assert set(counter_set["counters"]) == {"memory", "cores", "ai-core"}
    assert len(_devices(slices)) == len(TEMPLATE_DEVICES) + 1
