"""NvidiaBackend against FakeNvmlLib: nvidia-ml-py's real wrappers run over a fake libnvidia-ml."""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from pathlib import Path

import pynvml
import pytest

from dra_driver.devices import (
    AcceleratorDevice,
    BackendError,
    BackendUnavailable,
    Version,
)
from dra_driver.devices.nvidia import NvidiaBackend
from tests.devices.conftest import A100_UUID, H200_UUID
from tests.support.fake_nvml import FakeNvmlLib

MANDATORY = [
    "nvmlDeviceGetHandleByIndex_v2",
    "nvmlDeviceGetName",
    "nvmlDeviceGetUUID",
    "nvmlDeviceGetMemoryInfo",
]


@pytest.fixture
def backend(tmp_path: Path) -> NvidiaBackend:
    """A backend reading an empty sysfs, so no host topology leaks into the answers."""
    return NvidiaBackend(sysfs_root=tmp_path / "empty-sys")


def test_two_gpus_are_discovered_with_every_attribute(
    fake_nvml: FakeNvmlLib, sysfs: Callable[[dict[str, str]], Path]
) -> None:
    root = sysfs({"0000:1b:00.0": "pci0000:17"})
    devices = NvidiaBackend(sysfs_root=root).discover()
    assert devices == [
        AcceleratorDevice(
            name="gpu-0",
            index=0,
            uuid=H200_UUID,
            vendor="nvidia",
            device_type="gpu",
            product_name="NVIDIA H200",
            architecture="Hopper",
            memory_bytes=150754820096,
            driver_version=Version(semver="580.95.5"),
            pci_bus_id="0000:1b:00.0",
            pcie_root="pci0000:17",
            extra_attributes={
                "brand": "Nvidia",
                "cudaComputeCapability": Version(semver="9.0.0"),
                "cudaDriverVersion": Version(semver="13.0.0"),
                "migEnabled": False,
                "minor": 0,
            },
        ),
        AcceleratorDevice(
            name="gpu-1",
            index=1,
            uuid=A100_UUID,
            vendor="nvidia",
            device_type="gpu",
            product_name="NVIDIA A100-SXM4-40GB",
            architecture="Ampere",
            memory_bytes=42949672960,
            driver_version=Version(semver="580.95.5"),
            pci_bus_id="0000:3b:00.0",
            pcie_root=None,  # not in this sysfs: omitted, not guessed
            extra_attributes={
                "brand": "Nvidia",
                "cudaComputeCapability": Version(semver="8.0.0"),
                "cudaDriverVersion": Version(semver="13.0.0"),
                "migEnabled": True,
                "minor": 1,
            },
        ),
    ]


def test_nvml_is_initialised_once_and_always_shut_down(
    fake_nvml: FakeNvmlLib, backend: NvidiaBackend
) -> None:
    backend.discover()
    backend.discover()
    assert (fake_nvml.init_calls, fake_nvml.shutdown_calls, fake_nvml.init_depth) == (2, 2, 0)
    assert fake_nvml.calls[0] == "nvmlInitWithFlags"
    assert fake_nvml.calls[-1] == "nvmlShutdown"


def test_not_supported_mig_and_architecture_degrade(fake_nvml: FakeNvmlLib, backend: NvidiaBackend) -> None:
    fake_nvml.gpus[1].mig_mode = None
    fake_nvml.gpus[1].architecture = None
    card = backend.discover()[1]
    assert card.extra_attributes["migEnabled"] is False
    assert card.architecture == ""
    assert card.extra_attributes["cudaComputeCapability"] == Version(semver="8.0.0")


def test_function_not_found_omits_optional_attributes(fake_nvml: FakeNvmlLib, backend: NvidiaBackend) -> None:
    fake_nvml.missing |= {"nvmlDeviceGetBrand", "nvmlDeviceGetMinorNumber", "nvmlDeviceGetMigMode"}
    devices = backend.discover()
    for device in devices:
        assert set(device.extra_attributes) == {"cudaComputeCapability", "cudaDriverVersion", "migEnabled"}
        assert device.extra_attributes["migEnabled"] is False
    # The symbols really were looked up and found absent, not skipped.
    assert "nvmlDeviceGetBrand" not in fake_nvml.calls


def test_missing_pci_info_omits_bus_id_and_root(fake_nvml: FakeNvmlLib, backend: NvidiaBackend) -> None:
    fake_nvml.errors["nvmlDeviceGetPciInfo_v3"] = pynvml.NVML_ERROR_NOT_SUPPORTED
    assert all(d.pci_bus_id is None and d.pcie_root is None for d in backend.discover())


@pytest.mark.parametrize("symbol", MANDATORY)
def test_mandatory_failure_names_the_device_and_error(
    fake_nvml: FakeNvmlLib, backend: NvidiaBackend, symbol: str
) -> None:
    fake_nvml.gpus[1].errors[symbol] = pynvml.NVML_ERROR_GPU_IS_LOST
    with pytest.raises(
        BackendError, match=r"NVIDIA device 1: nvml\w+ failed: NVMLError_GpuIsLost: GPU is lost"
    ):
        backend.discover()
    assert (fake_nvml.shutdown_calls, fake_nvml.init_depth) == (1, 0)


@pytest.mark.parametrize("symbol", MANDATORY[1:])
def test_mandatory_not_supported_is_still_an_error(
    fake_nvml: FakeNvmlLib, backend: NvidiaBackend, symbol: str
) -> None:
    fake_nvml.gpus[0].errors[symbol] = pynvml.NVML_ERROR_NOT_SUPPORTED
    with pytest.raises(BackendError, match=rf"NVIDIA device 0: {symbol}.* failed: NVMLError_NotSupported"):
        backend.discover()


def test_mandatory_symbol_missing_from_library(fake_nvml: FakeNvmlLib, backend: NvidiaBackend) -> None:
    fake_nvml.missing.add("nvmlDeviceGetUUID")
    with pytest.raises(
        BackendError, match="NVIDIA device 0: nvmlDeviceGetUUID failed: NVMLError_FunctionNotFound"
    ):
        backend.discover()


def test_other_error_on_optional_query_fails_naming_it(
    fake_nvml: FakeNvmlLib, backend: NvidiaBackend
) -> None:
    fake_nvml.gpus[0].errors["nvmlDeviceGetMinorNumber"] = pynvml.NVML_ERROR_NO_PERMISSION
    with pytest.raises(
        BackendError, match="NVIDIA device 0: nvmlDeviceGetMinorNumber failed: NVMLError_NoPermission"
    ):
        backend.discover()
    assert fake_nvml.init_depth == 0


def test_device_count_failure(fake_nvml: FakeNvmlLib, backend: NvidiaBackend) -> None:
    fake_nvml.errors["nvmlDeviceGetCount_v2"] = pynvml.NVML_ERROR_UNKNOWN
    with pytest.raises(BackendError, match="nvmlDeviceGetCount failed: NVMLError_Unknown"):
        backend.discover()
    assert fake_nvml.init_depth == 0


def test_no_gpus_is_an_empty_list(fake_nvml: FakeNvmlLib, backend: NvidiaBackend) -> None:
    fake_nvml.gpus.clear()
    assert backend.discover() == []


def test_library_not_found_is_backend_unavailable(nvml_missing: None, backend: NvidiaBackend) -> None:
    with pytest.raises(BackendUnavailable) as caught:
        backend.discover()
    message = str(caught.value)
    assert message.startswith("no NVIDIA driver found on this node: NVMLError_LibraryNotFound")
    assert "libnvidia-ml.so.1" in message  # the loader's own reason is kept


def test_driver_not_loaded_is_backend_unavailable(fake_nvml: FakeNvmlLib, backend: NvidiaBackend) -> None:
    fake_nvml.errors["nvmlInitWithFlags"] = pynvml.NVML_ERROR_DRIVER_NOT_LOADED
    with pytest.raises(
        BackendUnavailable, match="no NVIDIA driver found on this node: NVMLError_DriverNotLoaded"
    ):
        backend.discover()
    assert fake_nvml.shutdown_calls == 0


def test_other_init_failure_is_a_plain_backend_error(fake_nvml: FakeNvmlLib, backend: NvidiaBackend) -> None:
    fake_nvml.errors["nvmlInitWithFlags"] = pynvml.NVML_ERROR_NO_PERMISSION
    with pytest.raises(BackendError, match="NVML initialisation failed: NVMLError_NoPermission") as caught:
        backend.discover()
    assert not isinstance(caught.value, BackendUnavailable)


def test_failed_shutdown_keeps_the_answers(
    fake_nvml: FakeNvmlLib, backend: NvidiaBackend, caplog: pytest.LogCaptureFixture
) -> None:
    fake_nvml.errors["nvmlShutdown"] = pynvml.NVML_ERROR_UNKNOWN
    with caplog.at_level(logging.WARNING, logger="dra_driver.devices.nvidia"):
        assert len(backend.discover()) == 2
    assert "nvmlShutdown failed" in caplog.text


def test_driver_versions_unsupported_are_omitted(fake_nvml: FakeNvmlLib, backend: NvidiaBackend) -> None:
    fake_nvml.driver_version = None
    fake_nvml.cuda_driver_version = None
    device = backend.discover()[0]
    assert device.driver_version is None
    assert "cudaDriverVersion" not in device.extra_attributes


def test_cuda_version_falls_back_to_v2_symbol(fake_nvml: FakeNvmlLib, backend: NvidiaBackend) -> None:
    fake_nvml.missing.add("nvmlSystemGetCudaDriverVersion")
    fake_nvml.cuda_driver_version = 12040
    assert backend.discover()[0].extra_attributes["cudaDriverVersion"] == Version(semver="12.4.0")
    assert "nvmlSystemGetCudaDriverVersion_v2" in fake_nvml.calls


def test_unreadable_driver_version_is_omitted_loudly(
    fake_nvml: FakeNvmlLib, backend: NvidiaBackend, caplog: pytest.LogCaptureFixture
) -> None:
    fake_nvml.driver_version = "r580 beta"
    with caplog.at_level(logging.WARNING, logger="dra_driver.devices.nvidia"):
        assert backend.discover()[0].driver_version is None
    assert "'r580 beta'" in caplog.text


def test_unknown_enum_values_read_as_unknown(fake_nvml: FakeNvmlLib, backend: NvidiaBackend) -> None:
    fake_nvml.gpus[0].architecture = pynvml.NVML_DEVICE_ARCH_UNKNOWN
    fake_nvml.gpus[0].brand = 250
    device = backend.discover()[0]
    assert (device.architecture, device.extra_attributes["brand"]) == ("Unknown", "Unknown")


def test_tesla_brand_and_volta(fake_nvml: FakeNvmlLib, backend: NvidiaBackend) -> None:
    fake_nvml.gpus[0].brand = pynvml.NVML_BRAND_TESLA
    fake_nvml.gpus[0].architecture = pynvml.NVML_DEVICE_ARCH_VOLTA
    device = backend.discover()[0]
    assert (device.architecture, device.extra_attributes["brand"]) == ("Volta", "Tesla")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("00000000:AF:1F.7", "0000:af:1f.7"),
        ("0000:3b:00.0", "0000:3b:00.0"),
        ("00000001:04:00.0", "0001:04:00.0"),
    ],
)
def test_pci_bus_ids_are_normalised(
    fake_nvml: FakeNvmlLib, backend: NvidiaBackend, raw: str, expected: str
) -> None:
    fake_nvml.gpus[0].pci_bus_id = raw
    assert backend.discover()[0].pci_bus_id == expected


def test_malformed_pci_bus_id_names_the_value(fake_nvml: FakeNvmlLib, backend: NvidiaBackend) -> None:
    fake_nvml.gpus[1].pci_bus_id = "bogus"
    with pytest.raises(BackendError, match=r"NVIDIA device 1: PCI bus id 'bogus'"):
        backend.discover()


def test_attribute_names_are_c_identifiers(fake_nvml: FakeNvmlLib, backend: NvidiaBackend) -> None:
    for device in backend.discover():
        for key in device.extra_attributes:
            assert re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]{0,31}", key), key


def test_vendor_is_nvidia() -> None:
    assert NvidiaBackend().vendor == "nvidia"
