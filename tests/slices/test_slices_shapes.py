"""What one card becomes in each mode: attributes, capacities, policies and partition arithmetic."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from kubernetes.utils.quantity import parse_quantity as k8s_quantity
from pydantic import ValidationError

from dra_driver.devices import AcceleratorDevice, Version
from dra_driver.kube.features import KubeVersion
from dra_driver.kube.models import Counter, Device, DeviceCounterConsumption
from dra_driver.slices import SharingMode, SliceOptions, build_slices
from dra_driver.slices.attributes import check_device_size
from dra_driver.slices.limits import limits_for
from tests.slices.slices_support import DRIVER, MIB, NODE, a100_node, as_dict, big_node, h200_node


def q(text: str) -> Decimal:
    """Quantity value via the official client's parser, independent of the builder's own."""
    value = k8s_quantity(text)  # type: ignore[no-untyped-call]
    assert isinstance(value, Decimal)
    return value


def _devices(
    cards: list[AcceleratorDevice], mode: SharingMode, version: str = "1.36", **options: Any
) -> list[dict[str, Any]]:
    opts = SliceOptions(kube_version=KubeVersion.parse(version), **options)
    slices = build_slices(cards, driver=DRIVER, node_name=NODE, mode=mode, options=opts)
    return [device for s in slices for device in as_dict(s)["spec"].get("devices", [])]


def _counter_sets(cards: list[AcceleratorDevice], version: str, **options: Any) -> dict[str, dict[str, Any]]:
    opts = SliceOptions(kube_version=KubeVersion.parse(version), **options)
    slices = build_slices(cards, driver=DRIVER, node_name=NODE, mode=SharingMode.PARTITIONS, options=opts)
    return {cs["name"]: cs for s in slices for cs in as_dict(s)["spec"].get("sharedCounters", [])}


def test_card_attributes_are_typed_and_complete() -> None:
    (device,) = _devices(a100_node()[1:2], SharingMode.EXCLUSIVE)
    assert device["attributes"] == {
        "type": {"string": "gpu"},
        "vendor": {"string": "nvidia"},
        "uuid": {"string": "GPU-a1000001-1111-2222-3333-444455556666"},
        "productName": {"string": "NVIDIA A100-SXM4-40GB"},
        "index": {"int": 1},
        "architecture": {"string": "Ampere"},
        "driverVersion": {"version": "550.54.15"},
        "resource.kubernetes.io/pciBusID": {"string": "0000:11:00.0"},
        "resource.kubernetes.io/pcieRoot": {"string": "pci0000:00"},
        "cudaComputeCapability": {"version": "8.0.0"},
        "cudaDriverVersion": {"version": "12.4.0"},
        "migCapable": {"bool": True},
        "smCount": {"int": 108},
        "brand": {"string": "Tesla"},
    }
    assert device["capacity"] == {"memory": {"value": "40Gi"}, "cores": {"value": "100"}}
    assert "allowMultipleAllocations" not in device
    assert "consumesCounters" not in device


def test_optional_attributes_are_omitted() -> None:
    (device,) = _devices(big_node(1), SharingMode.EXCLUSIVE)
    assert set(device["attributes"]) == {"type", "vendor", "uuid", "productName", "index"}
    # 16 GiB + 12345 bytes is published as whole MiB.
    assert device["capacity"]["memory"] == {"value": "16Gi"}


@pytest.mark.parametrize("cards", [a100_node(), h200_node(), big_node()], ids=["a100", "h200", "mock"])
def test_capacity_mode_policies_follow_the_api_rules(cards: list[AcceleratorDevice]) -> None:
    devices = _devices(cards, SharingMode.CAPACITY, shares=16)
    assert len(devices) == len(cards)
    by_name = {card.name: card for card in cards}
    for device in devices:
        card = by_name[device["name"]]
        assert device["allowMultipleAllocations"] is True
        capacity = device["capacity"]
        assert set(capacity) == {"memory", "cores", "shares"}
        assert q(capacity["memory"]["value"]) == card.memory_mib * MIB
        assert capacity["cores"]["value"] == "100"
        assert capacity["shares"]["value"] == "16"
        assert capacity["shares"]["requestPolicy"] == {"default": "1", "validValues": ["1"]}
        assert capacity["memory"]["requestPolicy"]["default"] == capacity["memory"]["value"]
        assert capacity["cores"]["requestPolicy"]["default"] == "0"
        for name in ("memory", "cores"):
            value = q(capacity[name]["value"])
            policy = capacity[name]["requestPolicy"]
            valid = policy["validRange"]
            low, high, step = (q(valid[k]) for k in ("min", "max", "step"))
            default = q(policy["default"])
            assert 0 <= low <= default <= high <= value
            assert high % step == 0
            assert default % step == 0
            assert low + step <= value
        assert capacity["memory"]["requestPolicy"]["validRange"] == {
            "min": "1Mi",
            "max": capacity["memory"]["value"],
            "step": "1Mi",
        }
        assert capacity["cores"]["requestPolicy"]["validRange"] == {"min": "0", "max": "100", "step": "1"}


@pytest.mark.parametrize("version", ["1.34", "1.36"])
@pytest.mark.parametrize("fractions", [(2, 4, 8), (2,), (4, 16, 64)])
@pytest.mark.parametrize("cards", [a100_node(), h200_node(), big_node(3)], ids=["a100", "h200", "mock"])
def test_partition_arithmetic(
    cards: list[AcceleratorDevice], fractions: tuple[int, ...], version: str
) -> None:
    devices = {
        d["name"]: d for d in _devices(cards, SharingMode.PARTITIONS, version, partition_fractions=fractions)
    }
    sets = _counter_sets(cards, version, partition_fractions=fractions)
    assert len(devices) == len(cards) * (1 + sum(fractions))
    for card in cards:
        counter_set = sets[f"{card.name}-counters"]["counters"]
        card_memory, card_cores = q(counter_set["memory"]["value"]), q(counter_set["cores"]["value"])
        assert card_memory == card.memory_mib * MIB <= card.memory_bytes
        assert card_cores == 100
        whole = devices[card.name]
        assert whole["consumesCounters"] == [{"counterSet": f"{card.name}-counters", "counters": counter_set}]
        assert "parentUUID" not in whole["attributes"]
        for fraction in fractions:
            parts = [devices[f"{card.name}-p{fraction}-{j}"] for j in range(fraction)]
            memory = [q(p["capacity"]["memory"]["value"]) for p in parts]
            cores = [q(p["capacity"]["cores"]["value"]) for p in parts]
            assert sum(memory) <= card_memory
            assert sum(cores) <= card_cores
            assert all(m == card.memory_mib // fraction * MIB for m in memory)
            assert all(c == 100 // fraction for c in cores)
            for part in parts:
                (entry,) = part["consumesCounters"]
                assert entry["counterSet"] == f"{card.name}-counters"
                assert entry["counters"] == {k: {"value": v["value"]} for k, v in part["capacity"].items()}
                assert part["attributes"]["parentUUID"] == {"string": card.uuid}
                assert part["attributes"]["uuid"] == {"string": card.uuid}
                assert part["attributes"]["index"] == {"int": card.index}
                assert "allowMultipleAllocations" not in part


@pytest.mark.parametrize("replicas", [2, 4, 7, 64])
def test_replica_arithmetic(replicas: int) -> None:
    cards = a100_node() + big_node(1)[0:1]
    cards[-1] = cards[-1].model_copy(update={"name": "gpu-9", "index": 9})
    devices = {d["name"]: d for d in _devices(cards, SharingMode.REPLICAS, replicas=replicas)}
    assert len(devices) == len(cards) * replicas
    for card in cards:
        parts = [devices[f"{card.name}-r{j}"] for j in range(replicas)]
        assert sum(q(p["capacity"]["memory"]["value"]) for p in parts) <= card.memory_bytes
        assert sum(q(p["capacity"]["cores"]["value"]) for p in parts) <= 100
        for j, part in enumerate(parts):
            assert q(part["capacity"]["memory"]["value"]) == card.memory_mib // replicas * MIB
            assert part["capacity"]["cores"] == {"value": str(100 // replicas)}
            assert part["attributes"]["replica"] == {"int": j}
            assert part["attributes"]["parentUUID"] == {"string": card.uuid}
            assert part["attributes"]["uuid"] == {"string": card.uuid}
            assert "allowMultipleAllocations" not in part
            assert "consumesCounters" not in part


def _with_extras(count: int) -> AcceleratorDevice:
    return big_node(1)[0].model_copy(update={"extra_attributes": {f"extra{i}": i for i in range(count)}})


@pytest.mark.parametrize(
    ("extras", "mode", "ok"),
    [
        (25, SharingMode.EXCLUSIVE, True),  # 5 + 25 attributes + 2 capacities = 32
        (26, SharingMode.EXCLUSIVE, False),
        (24, SharingMode.CAPACITY, True),  # 5 + 24 + 3 = 32
        (25, SharingMode.CAPACITY, False),
        (24, SharingMode.PARTITIONS, True),  # partitions: 5 + 24 + parentUUID + 2 = 32
        (25, SharingMode.PARTITIONS, False),
        (23, SharingMode.REPLICAS, True),  # 5 + 23 + parentUUID + replica + 2 = 32
        (24, SharingMode.REPLICAS, False),
    ],
)
def test_attribute_and_capacity_limit(extras: int, mode: SharingMode, ok: bool) -> None:
    card = _with_extras(extras)
    if ok:
        devices = _devices([card], mode)
        assert max(len(d["attributes"]) + len(d["capacity"]) for d in devices) == 32
    else:
        with pytest.raises(ValueError, match=r"device 'gpu-0.*at most 32"):
            _devices([card], mode)


@pytest.mark.parametrize(
    ("update", "mode", "message"),
    [
        ({"extra_attributes": {"uuid": "x"}}, SharingMode.EXCLUSIVE, "extra attribute 'uuid' clashes"),
        ({"extra_attributes": {"parentUUID": "x"}}, SharingMode.EXCLUSIVE, "'parentUUID' clashes"),
        ({"pci_bus_id": "0" * 65}, SharingMode.EXCLUSIVE, "pciBusID.*longer than 64"),
        ({"memory_bytes": 3 * MIB}, SharingMode.REPLICAS, "'gpu-0'.*4 parts of at least 1 MiB"),
        ({"memory_bytes": MIB}, SharingMode.CAPACITY, "'gpu-0'.*2 parts"),
        ({"name": "g" * 60}, SharingMode.PARTITIONS, "derived name 'g+-counters' is not a DNS label"),
    ],
)
def test_bad_cards_are_rejected_with_their_name(
    update: dict[str, Any], mode: SharingMode, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        _devices([big_node(1)[0].model_copy(update=update)], mode)


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"partition_fractions": (3,)}, "fraction 3 is not a power of two"),
        ({"partition_fractions": (128,)}, "fraction 128"),
        ({"partition_fractions": (1,)}, "fraction 1"),
        ({"partition_fractions": (2, 2)}, "duplicates"),
        ({"partition_fractions": (4, 2)}, "ascending"),
        ({"partition_fractions": ()}, "at least one"),
        ({"shares": 1}, "shares"),
        ({"shares": 65}, "shares"),
        ({"replicas": 1}, "replicas"),
        ({"replicas": 65}, "replicas"),
        ({"kube_version": KubeVersion(1, 33)}, "1.33 is not supported"),
    ],
)
def test_invalid_options(options: dict[str, Any], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        SliceOptions(**options)


def test_options_defaults() -> None:
    options = SliceOptions()
    assert (options.kube_version, options.shares, options.partition_fractions, options.replicas) == (
        KubeVersion(1, 36),
        10,
        (2, 4, 8),
        4,
    )


def test_driver_version_must_be_semver() -> None:
    with pytest.raises(ValidationError):
        Version(semver="550.54")


@pytest.mark.parametrize(
    ("version", "entries", "counters", "message"),
    [
        ("1.36", 3, 1, "consumes 3 counter sets"),
        ("1.36", 1, 33, "consumes 33 counters"),
        ("1.34", 2, 17, "consumes 34 counters"),
    ],
)
def test_counter_consumption_limits(version: str, entries: int, counters: int, message: str) -> None:
    device = Device(
        name="gpu-0",
        consumes_counters=[
            DeviceCounterConsumption(
                counter_set=f"set-{e}", counters={f"c{i}": Counter(value="1") for i in range(counters)}
            )
            for e in range(entries)
        ],
    )
    limits = limits_for(KubeVersion.parse(version))
    with pytest.raises(ValueError, match=message):
        check_device_size(device, big_node(1)[0], limits)
    ok = device.model_copy(update={"consumes_counters": device.consumes_counters[:1]})  # type: ignore[index]
    if counters <= 32:
        assert check_device_size(ok, big_node(1)[0], limits) is ok
