"""MockBackend: named profiles, deterministic per-node identities, the unknown-profile message."""

from __future__ import annotations

import re

import pytest

from dra_driver.devices import MOCK_PROFILES, AcceleratorDevice, BackendError, MockBackend, Version

GIB = 1024**3


@pytest.mark.parametrize(
    ("profile", "products"),
    [
        ("a100x4", ["NVIDIA A100-SXM4-40GB"] * 4),
        ("h200x8", ["NVIDIA H200"] * 8),
        ("mixed", ["NVIDIA A100-SXM4-40GB"] * 2 + ["Tesla V100-SXM2-32GB"] * 2 + ["NVIDIA H200"] * 4),
    ],
)
def test_profiles_have_their_cards_in_index_order(profile: str, products: list[str]) -> None:
    devices = MockBackend("node-a", profile).discover()
    assert [d.product_name for d in devices] == products
    assert [d.index for d in devices] == list(range(len(products)))
    assert [d.name for d in devices] == [f"gpu-{i}" for i in range(len(products))]
    assert all(d.vendor == "nvidia" and d.device_type == "gpu" and d.healthy for d in devices)


@pytest.mark.parametrize(
    ("product", "memory", "architecture", "capability"),
    [
        ("NVIDIA A100-SXM4-40GB", 42949672960, "Ampere", "8.0.0"),
        ("Tesla V100-SXM2-32GB", 32 * GIB, "Volta", "7.0.0"),
        ("NVIDIA H200", 141 * GIB, "Hopper", "9.0.0"),
    ],
)
def test_card_models_carry_their_specs(product: str, memory: int, architecture: str, capability: str) -> None:
    card = next(d for d in MockBackend("node-a", "mixed").discover() if d.product_name == product)
    assert card.memory_bytes == memory
    assert card.architecture == architecture
    assert card.extra_attributes["cudaComputeCapability"] == Version(semver=capability)
    assert card.extra_attributes["cudaDriverVersion"] == Version(semver="13.0.0")
    assert card.extra_attributes["migEnabled"] is False
    assert card.driver_version == Version(semver="580.95.5")


def test_identities_are_distinct_within_a_node_and_well_formed() -> None:
    devices = MockBackend("node-a", "h200x8").discover()
    assert len({d.uuid for d in devices}) == 8
    assert len({d.pci_bus_id for d in devices}) == 8
    for device in devices:
        assert re.fullmatch(r"GPU-[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", device.uuid)
        assert device.pci_bus_id is not None
        assert re.fullmatch(r"0000:[0-9a-f]{2}:00\.0", device.pci_bus_id)
        assert device.pcie_root is not None
        assert re.fullmatch(r"pci0000:[0-9a-f]{2}", device.pcie_root)
        assert device.extra_attributes["minor"] == device.index
    # Cards pair up behind PCIe roots, like GPUs behind one switch.
    assert len({d.pcie_root for d in devices}) == 4


def test_identities_are_stable_for_a_node_name() -> None:
    first = MockBackend("node-a", "mixed").discover()
    again = MockBackend("node-a", "mixed").discover()
    assert first == again


def test_identities_differ_across_nodes() -> None:
    here = MockBackend("node-a", "a100x4").discover()
    there = MockBackend("node-b", "a100x4").discover()
    assert not {d.uuid for d in here} & {d.uuid for d in there}


@pytest.mark.parametrize("node", [f"node-{i}" for i in range(40)])
def test_bus_ids_stay_on_valid_buses_for_any_node(node: str) -> None:
    devices = MockBackend(node, "h200x8").discover()
    buses = [int(d.pci_bus_id.split(":")[1], 16) for d in devices if d.pci_bus_id]
    assert buses == sorted(buses)
    assert all(0 < bus <= 0xFF for bus in buses)


def test_profile_table_is_exported_and_read_only() -> None:
    assert set(MOCK_PROFILES) == {
        "a100x4",
        "h200x8",
        "mixed",
        "ascend910bx8",
        "mlu370x4",
        "dcuz100x4",
        "mi300x8",
    }
    with pytest.raises(TypeError):
        MOCK_PROFILES["new"] = ()  # type: ignore[index]


def test_unknown_profile_lists_the_known_ones() -> None:
    with pytest.raises(
        BackendError,
        match=r"unknown mock profile 'b200x2'; known profiles: a100x4, ascend910bx8, "
        r"dcuz100x4, h200x8, mi300x8, mixed, mlu370x4",
    ):
        MockBackend("node-a", "b200x2")


def test_empty_node_name_is_refused() -> None:
    with pytest.raises(BackendError, match="node name"):
        MockBackend("", "a100x4")


def test_devices_pass_model_validation_again() -> None:
    for device in MockBackend("node-a", "mixed").discover():
        assert AcceleratorDevice.model_validate(device.model_dump()) == device
