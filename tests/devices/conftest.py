"""Fixtures for the device backend tests: a fake NVML library installed under nvidia-ml-py.

Owns: ``install_nvml`` (install any ``FakeNvmlLib`` for one test), ``fake_nvml`` (a two-GPU node:
an H200 and an A100) and ``nvml_missing`` (a node without the NVIDIA driver). Every fixture
restores pynvml's module state afterwards; none of them needs a GPU.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import ExitStack
from pathlib import Path

import pynvml
import pytest

from tests.support.fake_nvml import FakeGpu, FakeNvmlLib, installed, library_missing

H200_UUID = "GPU-11111111-2222-3333-4444-555555555555"
A100_UUID = "GPU-aaaaaaaa-bbbb-cccc-dddd-eeeeeeeeeeee"


def two_gpus() -> list[FakeGpu]:
    return [
        FakeGpu(
            name="NVIDIA H200",
            uuid=H200_UUID,
            memory_total=150754820096,
            pci_bus_id="00000000:1B:00.0",
            minor=0,
            cuda_compute_capability=(9, 0),
            architecture=pynvml.NVML_DEVICE_ARCH_HOPPER,
            brand=pynvml.NVML_BRAND_NVIDIA,
            mig_mode=(0, 0),
        ),
        FakeGpu(
            name="NVIDIA A100-SXM4-40GB",
            uuid=A100_UUID,
            memory_total=42949672960,
            pci_bus_id="00000000:3B:00.0",
            minor=1,
            cuda_compute_capability=(8, 0),
            architecture=pynvml.NVML_DEVICE_ARCH_AMPERE,
            brand=pynvml.NVML_BRAND_NVIDIA,
            mig_mode=(1, 1),
        ),
    ]


@pytest.fixture
def install_nvml() -> Iterator[Callable[[FakeNvmlLib], FakeNvmlLib]]:
    with ExitStack() as stack:
        yield lambda lib: stack.enter_context(installed(lib))


@pytest.fixture
def fake_nvml(install_nvml: Callable[[FakeNvmlLib], FakeNvmlLib]) -> FakeNvmlLib:
    return install_nvml(FakeNvmlLib(two_gpus()))


@pytest.fixture
def nvml_missing() -> Iterator[None]:
    with library_missing():
        yield


@pytest.fixture
def sysfs(tmp_path: Path) -> Callable[[dict[str, str]], Path]:
    """Build a sysfs tree where ``bus/pci/devices/<bus id>`` links below ``devices/<root>/``."""

    def build(roots: dict[str, str]) -> Path:
        root = tmp_path / "sys"
        links = root / "bus" / "pci" / "devices"
        links.mkdir(parents=True, exist_ok=True)
        for bus_id, pcie_root in roots.items():
            target = root / "devices" / pcie_root / f"{pcie_root[3:]}:00.0" / bus_id
            target.mkdir(parents=True)
            (links / bus_id).symlink_to(target)
        return root

    return build
