"""make_backend, the driver-name table, and attribute parity between the mock and NVIDIA backends."""

from __future__ import annotations

from pathlib import Path

import pytest

from dra_driver.devices import (
    BACKENDS,
    DRIVER_FOR_BACKEND,
    BackendError,
    DeviceBackend,
    MockBackend,
    make_backend,
)
from dra_driver.devices.nvidia import NvidiaBackend
from tests.support.fake_nvml import FakeNvmlLib


def test_every_backend_has_a_driver_name() -> None:
    assert BACKENDS == ("mock", "nvidia", "ascend", "cambricon", "hygon", "amd")
    assert dict(DRIVER_FOR_BACKEND) == {name: f"{name}.hdra.io" for name in BACKENDS}


def test_make_mock_backend() -> None:
    backend = make_backend("mock", node_name="node-a", profile="h200x8")
    assert isinstance(backend, MockBackend)
    assert isinstance(backend, DeviceBackend)
    assert backend.vendor == "mock"
    assert len(backend.discover()) == 8


def test_mock_backend_defaults_to_a100x4() -> None:
    devices = make_backend("mock", node_name="node-a").discover()
    assert [d.product_name for d in devices] == ["NVIDIA A100-SXM4-40GB"] * 4


def test_unknown_mock_profile_is_a_backend_error() -> None:
    with pytest.raises(
        BackendError,
        match="known profiles: a100x4, ascend910bx8, dcuz100x4, h200x8, mi300x8, mixed, mlu370x4",
    ):
        make_backend("mock", node_name="node-a", profile="nope")


def test_make_nvidia_backend_probes_nothing() -> None:
    backend = make_backend("nvidia", node_name="node-a")
    assert isinstance(backend, NvidiaBackend)
    assert backend.vendor == "nvidia"
    assert DRIVER_FOR_BACKEND[backend.vendor] == "nvidia.hdra.io"


def test_nvidia_backend_refuses_a_profile() -> None:
    with pytest.raises(ValueError, match="profile 'a100x4' applies only to the mock backend"):
        make_backend("nvidia", node_name="node-a", profile="a100x4")


def test_unknown_backend_names_the_known_ones() -> None:
    with pytest.raises(
        ValueError,
        match="unknown device backend 'intel'; known backends: mock, nvidia, ascend, cambricon, hygon, amd",
    ):
        make_backend("intel", node_name="node-a")


def test_mock_and_nvidia_publish_the_same_attribute_keys(fake_nvml: FakeNvmlLib, tmp_path: Path) -> None:
    mock_cards = MockBackend("node-a", "mixed").discover()
    nvidia_cards = NvidiaBackend(sysfs_root=tmp_path).discover()
    keys = {frozenset(d.extra_attributes) for d in mock_cards + nvidia_cards}
    assert keys == {frozenset({"brand", "cudaComputeCapability", "cudaDriverVersion", "migEnabled", "minor"})}
    for mock_card, nvidia_card in zip(mock_cards, nvidia_cards, strict=False):
        for key, value in mock_card.extra_attributes.items():
            assert type(value) is type(nvidia_card.extra_attributes[key]), key
    # The standard fields are filled alike, too.
    for card in mock_cards + nvidia_cards:
        assert (card.vendor, card.device_type) == ("nvidia", "gpu")
        assert card.architecture
        assert card.driver_version is not None
        assert card.pci_bus_id
