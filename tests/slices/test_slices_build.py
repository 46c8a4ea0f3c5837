"""build_slices over every mode, inventory and release: schema-valid, within limits, well-formed pools."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import kubernetes_validate
import pytest
from jsonschema import ValidationError

from dra_driver.devices import AcceleratorDevice
from dra_driver.kube.features import KubeVersion
from dra_driver.slices import SharingMode, SliceOptions, build_slices
from tests.slices.slices_support import (
    DNS_SUBDOMAIN,
    DRIVER,
    INVENTORIES,
    NODE,
    VERSIONS,
    a100_node,
    as_dict,
    big_node,
    check_limits,
    h200_node,
    validator,
)

MODES = [mode for mode in SharingMode if mode is not SharingMode.AUTO]


def _build(
    cards: list[AcceleratorDevice], mode: SharingMode, version: str, **options: Any
) -> list[dict[str, Any]]:
    opts = SliceOptions(kube_version=KubeVersion.parse(version), **options)
    return [as_dict(s) for s in build_slices(cards, driver=DRIVER, node_name=NODE, mode=mode, options=opts)]


def _devices(slices: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [device for slice_ in slices for device in slice_["spec"].get("devices", [])]


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("inventory", sorted(INVENTORIES))
@pytest.mark.parametrize("mode", MODES)
def test_slices_are_valid_and_within_limits(mode: SharingMode, inventory: str, version: str) -> None:
    cards = INVENTORIES[inventory]()
    slices = _build(cards, mode, version)
    for slice_ in slices:
        validator(version).validate(slice_)
    check_limits(slices, version)

    names = [slice_["metadata"]["name"] for slice_ in slices]
    assert names == [f"{NODE}-{DRIVER}-{k}" for k in range(len(slices))]
    for slice_ in slices:
        spec = slice_["spec"]
        assert spec["driver"] == DRIVER
        assert spec["nodeName"] == NODE
        assert spec["pool"] == {"name": NODE, "generation": 1, "resourceSliceCount": len(slices)}
        assert "generation" not in slice_["metadata"]
        assert "ownerReferences" not in slice_["metadata"]
    # Deterministic: a second build is identical.
    assert _build(cards, mode, version) == slices
    # Every card is published, unhealthy ones included, in index order.
    uuids = [device["attributes"]["uuid"]["string"] for device in _devices(slices)]
    expected = [card.uuid for card in sorted(cards, key=lambda card: card.index)]
    assert list(dict.fromkeys(uuids)) == expected


@pytest.mark.parametrize("version", VERSIONS)
def test_cached_validator_agrees_with_kubernetes_validate(version: str) -> None:
    for mode in MODES:
        for slice_ in _build(a100_node()[:2], mode, version):
            kubernetes_validate.validate(slice_, f"{version}.0", strict=True)
    broken = _build(a100_node()[:1], SharingMode.CAPACITY, version)[0]
    broken["spec"]["devices"][0]["capacity"]["memory"]["requestPolicy"]["validRange"]["mximum"] = "1"
    with pytest.raises(ValidationError):
        validator(version).validate(broken)
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, f"{version}.0", strict=True)


def test_partitions_on_135_put_counters_in_their_own_slices_first() -> None:
    slices = _build(big_node(), SharingMode.PARTITIONS, "1.35")
    kinds = ["counters" if s["spec"].get("sharedCounters") else "devices" for s in slices]
    # 40 counter sets, 8 per slice; 15 devices per card, 4 cards (60 devices) per slice.
    assert kinds == ["counters"] * 5 + ["devices"] * 10
    sets = [cs["name"] for s in slices[:5] for cs in s["spec"]["sharedCounters"]]
    assert sets == [f"gpu-{i}-counters" for i in range(40)]
    assert [len(s["spec"]["devices"]) for s in slices[5:]] == [60] * 10


def test_partitions_on_134_keep_counters_with_their_devices() -> None:
    slices = _build(big_node(), SharingMode.PARTITIONS, "1.34")
    # 8 cards x 15 devices = 120 <= 128; 16 counters <= 32; 240 consumed counters <= 1024.
    assert len(slices) == 5
    for k, slice_ in enumerate(slices):
        spec = slice_["spec"]
        expected = [f"gpu-{i}-counters" for i in range(8 * k, 8 * k + 8)]
        assert [cs["name"] for cs in spec["sharedCounters"]] == expected
        assert len(spec["devices"]) == 120


@pytest.mark.parametrize("version", VERSIONS)
def test_large_cards_split_across_slices(version: str) -> None:
    fractions = (2, 4, 8, 16, 32, 64)  # 127 devices per card
    slices = _build(a100_node(), SharingMode.PARTITIONS, version, partition_fractions=fractions)
    for slice_ in slices:
        validator(version).validate(slice_)
    check_limits(slices, version)
    devices = _devices(slices)
    assert len(devices) == 4 * 127
    device_slices = [s for s in slices if s["spec"].get("devices")]
    if version == "1.34":
        assert len(device_slices) == 4  # one card per slice, never split
    else:
        # A card too big for one slice is split into as few pieces as possible (64 + 63), and no
        # other card shares those slices: each card spans exactly two slices.
        assert [len(s["spec"]["devices"]) for s in device_slices] == [64, 63] * 4
        for k, slice_ in enumerate(device_slices):
            uuids = {d["attributes"]["uuid"]["string"] for d in slice_["spec"]["devices"]}
            assert uuids == {a100_node()[k // 2].uuid}


@pytest.mark.parametrize(
    ("mode", "cards", "options", "expected"),
    [
        (SharingMode.REPLICAS, big_node(), {"replicas": 64}, [128] * 20),
        (SharingMode.REPLICAS, big_node(), {}, [128, 32]),
        (SharingMode.EXCLUSIVE, big_node(130), {}, [128, 2]),
        (SharingMode.CAPACITY, big_node(130), {}, [128, 2]),
    ],
)
def test_device_slices_hold_at_most_128(
    mode: SharingMode, cards: list[AcceleratorDevice], options: dict[str, Any], expected: list[int]
) -> None:
    slices = _build(cards, mode, "1.36", **options)
    assert [len(s["spec"]["devices"]) for s in slices] == expected
    check_limits(slices, "1.36")


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("version", VERSIONS)
def test_empty_node_publishes_one_empty_slice(mode: SharingMode, version: str) -> None:
    slices = _build([], mode, version)
    assert len(slices) == 1
    assert slices[0]["spec"]["devices"] == []
    assert slices[0]["spec"]["pool"]["resourceSliceCount"] == 1
    validator(version).validate(slices[0])


def test_auto_is_rejected() -> None:
    with pytest.raises(ValueError, match="auto"):
        build_slices(a100_node(), driver=DRIVER, node_name=NODE, mode=SharingMode.AUTO)


def test_long_names_are_shortened_deterministically() -> None:
    node = ".".join(["n" * 60] * 4)  # 243 characters, a valid node name
    names: dict[str, list[str]] = {}
    for other in (node, node[:-1] + "m"):
        slices = build_slices(big_node(), driver=DRIVER, node_name=other, mode=SharingMode.REPLICAS)
        names[other] = [s.metadata.name for s in slices if s.metadata and s.metadata.name]
        assert len(names[other]) == len(slices) == 2
        for name in names[other]:
            assert len(name) <= 253
            assert DNS_SUBDOMAIN.fullmatch(name), name
        assert len(set(names[other])) == 2
        again = build_slices(big_node(), driver=DRIVER, node_name=other, mode=SharingMode.REPLICAS)
        assert [s.metadata.name for s in again if s.metadata] == names[other]
    first, second = names.values()
    assert not set(first) & set(second), "different nodes must not share slice names"


@pytest.mark.parametrize(
    ("driver", "node_name", "message"),
    [
        ("NVIDIA.hdra.io", NODE, "driver 'NVIDIA.hdra.io'"),
        ("x" * 64, NODE, "driver 'x+' is not a lower-case DNS subdomain of at most 63"),
        (DRIVER, "node_a", "node name 'node_a'"),
    ],
)
def test_invalid_driver_or_node_name(driver: str, node_name: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        build_slices(a100_node(), driver=driver, node_name=node_name, mode=SharingMode.EXCLUSIVE)


@pytest.mark.parametrize(
    ("mutate", "message"),
    [
        (lambda cards: [*cards, cards[0].model_copy(update={"index": 9})], "two devices are named 'gpu-0'"),
        (lambda cards: [*cards, cards[0].model_copy(update={"name": "gpu-9"})], "share index 0"),
    ],
)
def test_duplicate_cards_are_rejected(
    mutate: Callable[[list[AcceleratorDevice]], list[AcceleratorDevice]], message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        build_slices(mutate(a100_node()), driver=DRIVER, node_name=NODE, mode=SharingMode.EXCLUSIVE)


def test_unhealthy_card_is_published_unchanged() -> None:
    """Without device taints (off by default on 1.35) an unhealthy card is kept, untainted;
    the health taint itself is covered in tests/health."""
    slices = _build(h200_node(), SharingMode.EXCLUSIVE, "1.35")
    devices = {d["name"]: d for d in _devices(slices)}
    assert set(devices) == {f"gpu-{i}" for i in range(8)}
    assert "taints" not in devices["gpu-5"]
