"""Shared helpers for the slice builder tests: inventories, cached strict schemas, limit checks.

The limit checks restate reference/dra-api.md section 1.2 on their own, independently of
``dra_driver.slices.limits``, so a wrong table in the builder cannot pass its own test.
"""

from __future__ import annotations

import functools
import json
import re
from importlib import resources
from typing import Any

from jsonschema import Draft202012Validator
from referencing import Registry, Resource

from dra_driver.devices import AcceleratorDevice, Version
from dra_driver.kube.models import ResourceSlice

GIB = 1024**3
MIB = 1024**2
DRIVER = "nvidia.hdra.io"
NODE = "node-a"
VERSIONS = ("1.34", "1.35", "1.36")
DNS_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?")
DNS_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")


def a100_node() -> list[AcceleratorDevice]:
    """4 x A100 40GB, with every optional attribute set."""
    return [
        AcceleratorDevice(
            name=f"gpu-{i}",
            index=i,
            uuid=f"GPU-a100{i:04d}-1111-2222-3333-444455556666",
            vendor="nvidia",
            device_type="gpu",
            product_name="NVIDIA A100-SXM4-40GB",
            architecture="Ampere",
            memory_bytes=40 * GIB,
            driver_version=Version(semver="550.54.15"),
            pci_bus_id=f"0000:{0x10 + i:02x}:00.0",
            pcie_root=f"pci0000:{i // 2:02x}",
            extra_attributes={
                "cudaComputeCapability": Version(semver="8.0.0"),
                "cudaDriverVersion": Version(semver="12.4.0"),
                "migCapable": True,
                "smCount": 108,
                "brand": "Tesla",
            },
        )
        for i in range(4)
    ]


def h200_node() -> list[AcceleratorDevice]:
    """8 x H200 141 GiB, given out of index order; card 5 is unhealthy."""
    cards = [
        AcceleratorDevice(
            name=f"gpu-{i}",
            index=i,
            uuid=f"GPU-h200{i:04d}-aaaa-bbbb-cccc-ddddeeeeffff",
            vendor="nvidia",
            device_type="gpu",
            product_name="NVIDIA H200",
            architecture="Hopper",
            memory_bytes=141 * GIB,
            driver_version=Version(semver="570.124.6"),
            pci_bus_id=f"0000:{0x18 + i:02x}:00.0",
            healthy=i != 5,
            health_message="XID 79" if i == 5 else "",
        )
        for i in range(8)
    ]
    return list(reversed(cards))


def big_node(count: int = 40) -> list[AcceleratorDevice]:
    """``count`` small mock cards whose memory is not a whole number of MiB, without optional fields."""
    return [
        AcceleratorDevice(
            name=f"gpu-{i}",
            index=i,
            uuid=f"MOCK-{i:04d}",
            vendor="mock",
            device_type="gpu",
            product_name="Mock 16G",
            memory_bytes=16 * GIB + 12345,
        )
        for i in range(count)
    ]


INVENTORIES = {"a100x4": a100_node, "h200x8": h200_node, "mockx40": big_node}


@functools.cache
def validator(version: str) -> Draft202012Validator:
    """The strict ResourceSlice v1 schema of kubernetes-validate for ``version``, loaded once.

    Built the way ``kubernetes_validate.validate`` builds it (schema + definitions registry);
    ``test_cached_validator_agrees_with_kubernetes_validate`` checks that the two agree.
    """
    base = resources.files("kubernetes_validate") / "kubernetes-json-schema" / f"v{version}.0-local-strict"
    schema = json.loads((base / "resourceslice-resource-v1.json").read_text())
    definitions = json.loads((base / "_definitions.json").read_text())
    registry: Registry[Any] = Resource.from_contents(schema) @ Registry()
    registry = Resource.from_contents(definitions) @ registry
    return Draft202012Validator(schema, registry=registry)


def as_dict(slice_: ResourceSlice) -> dict[str, Any]:
    return slice_.model_dump(by_alias=True, exclude_none=True)


def check_limits(slices: list[dict[str, Any]], version: str) -> None:
    """Assert every size and placement rule of dra-api.md 1.2 for one pool on ``version``."""
    device_names: list[str] = []
    set_names: list[str] = []
    sets_by_name: dict[str, dict[str, Any]] = {}
    for slice_ in slices:
        spec = slice_["spec"]
        devices = spec.get("devices", [])
        sets = spec.get("sharedCounters", [])
        restricted = any(d.get("consumesCounters") or d.get("taints") for d in devices)
        assert len(devices) <= (64 if restricted and version != "1.34" else 128), slice_["metadata"]["name"]
        for counter_set in sets:
            assert DNS_LABEL.fullmatch(counter_set["name"])
            assert len(counter_set["counters"]) <= 32
            sets_by_name[counter_set["name"]] = counter_set
        set_names += [counter_set["name"] for counter_set in sets]
        local_sets = {counter_set["name"] for counter_set in sets}
        if version == "1.34":
            assert sum(len(counter_set["counters"]) for counter_set in sets) <= 32
            consumed = [sum(len(c["counters"]) for c in d.get("consumesCounters", [])) for d in devices]
            assert all(n <= 32 for n in consumed)
            assert sum(consumed) <= 1024
            for device in devices:
                for entry in device.get("consumesCounters", []):
                    assert entry["counterSet"] in local_sets, "1.34: counters must be in the consumer's slice"
        else:
            assert not (devices and sets), "1.35+: a slice holds devices or sharedCounters, never both"
            assert len(sets) <= 8
            for device in devices:
                assert len(device.get("consumesCounters", [])) <= 2
                assert all(len(entry["counters"]) <= 32 for entry in device.get("consumesCounters", []))
        for device in devices:
            assert DNS_LABEL.fullmatch(device["name"])
            assert len(device.get("attributes", {})) + len(device.get("capacity", {})) <= 32
            for value in device.get("attributes", {}).values():
                assert len(value) == 1
                text = value.get("string", value.get("version", ""))
                assert len(text) <= 64
        device_names += [device["name"] for device in devices]
    assert len(device_names) == len(set(device_names)), "device names must be unique in the pool"
    assert len(set_names) == len(set(set_names)), "counter set names must be unique in the pool"
    for slice_ in slices:
        for device in slice_["spec"].get("devices", []):
            for entry in device.get("consumesCounters", []):
                counter_set = sets_by_name[entry["counterSet"]]
                assert set(entry["counters"]) <= set(counter_set["counters"])
