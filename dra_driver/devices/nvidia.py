"""The NVIDIA backend: discovers a node's GPUs through NVML (nvidia-ml-py, ``import pynvml``).

Owns: ``NvidiaBackend``: one ``nvmlInit`` … ``nvmlShutdown`` session per ``discover()`` that turns
every GPU into an ``AcceleratorDevice`` with the attributes NVIDIA's own DRA driver publishes
(productName, brand, architecture, cudaComputeCapability, driverVersion, cudaDriverVersion, PCI
bus id / PCIe root) plus ``migEnabled`` and ``minor`` (the ``/dev/nvidia<minor>`` node CDI needs).
Policy: count, handle, name, UUID and memory are mandatory (failure → ``BackendError`` naming the
device index and NVML error); the rest is optional and omitted when NVML answers NotSupported or
FunctionNotFound. It must never keep NVML initialised between calls, never publish a non-semver
version, and never return a partial device list.
"""

from __future__ import annotations

import logging
from pathlib import Path

import pynvml

from dra_driver.devices.base import (
    AcceleratorDevice,
    AttributeValue,
    BackendError,
    BackendUnavailable,
    Version,
)
from dra_driver.devices.nvml_queries import (
    ARCHITECTURE_NAMES,
    BRAND_NAMES,
    UNAVAILABLE_ERRORS,
    describe,
    mandatory,
    normalize_pci_bus_id,
    optional,
    pcie_root_of,
    text,
)
from dra_driver.devices.versions import cuda_version_from_int, normalize_version

log = logging.getLogger("hdra.devices")

NVIDIA_VENDOR = "nvidia"
NO_DRIVER = "no NVIDIA driver found on this node"
DRIVER = "NVIDIA driver"


class NvidiaBackend:
    """Discovers NVIDIA GPUs with NVML. ``sysfs_root`` is where the PCIe topology is read from."""

    def __init__(self, *, sysfs_root: Path = Path("/sys")) -> None:
        self._sysfs_root = sysfs_root

    @property
    def vendor(self) -> str:
        return NVIDIA_VENDOR

    def discover(self) -> list[AcceleratorDevice]:
        try:
            pynvml.nvmlInit()
        except pynvml.NVMLError as error:
            if error.value in UNAVAILABLE_ERRORS:
                # pynvml raises LibraryNotFound inside its ``except OSError``: keep the loader's reason.
                reason = f" ({error.__context__})" if isinstance(error.__context__, OSError) else ""
                raise BackendUnavailable(f"{NO_DRIVER}: {describe(error)}{reason}") from error
            raise BackendError(f"NVML initialisation failed: {describe(error)}") from error
        try:
            return self._discover_initialised()
        finally:
            try:
                pynvml.nvmlShutdown()
            except pynvml.NVMLError as error:
                # The answers already read stay valid; a failed shutdown only leaks NVML state.
                log.warning("nvmlShutdown failed after discovery: %s", describe(error))

    def _discover_initialised(self) -> list[AcceleratorDevice]:
        try:
            count = int(pynvml.nvmlDeviceGetCount())
        except pynvml.NVMLError as error:
            raise BackendError(
                f"NVIDIA device count: nvmlDeviceGetCount failed: {describe(error)}"
            ) from error
        driver_version = self._driver_version()
        cuda_version = self._cuda_driver_version()
        devices = [self._device(index, driver_version, cuda_version) for index in range(count)]
        return sorted(devices, key=lambda device: device.index)

    def _driver_version(self) -> Version | None:
        raw = optional("nvmlSystemGetDriverVersion", DRIVER, pynvml.nvmlSystemGetDriverVersion)
        if raw is None:
            return None
        try:
            return normalize_version(text(raw))
        except ValueError as error:
            # Publishing it would make the API server reject the whole slice; omit it, loudly.
            log.warning("omitting driverVersion: %s", error)
            return None

    def _cuda_driver_version(self) -> Version | None:
        raw = optional("nvmlSystemGetCudaDriverVersion", DRIVER, pynvml.nvmlSystemGetCudaDriverVersion)
        if raw is None:
            raw = optional(
                "nvmlSystemGetCudaDriverVersion_v2", DRIVER, pynvml.nvmlSystemGetCudaDriverVersion_v2
            )
        if raw is None:
            return None
        try:
            return cuda_version_from_int(int(raw))
        except ValueError as error:
            log.warning("omitting cudaDriverVersion: %s", error)
            return None

    def _device(self, index: int, driver_version: Version | None, cuda: Version | None) -> AcceleratorDevice:
        subject = f"NVIDIA device {index}"
        handle = mandatory(
            "nvmlDeviceGetHandleByIndex", subject, lambda: pynvml.nvmlDeviceGetHandleByIndex(index)
        )
        name = text(mandatory("nvmlDeviceGetName", subject, lambda: pynvml.nvmlDeviceGetName(handle)))
        uuid = text(mandatory("nvmlDeviceGetUUID", subject, lambda: pynvml.nvmlDeviceGetUUID(handle)))
        memory = mandatory("nvmlDeviceGetMemoryInfo", subject, lambda: pynvml.nvmlDeviceGetMemoryInfo(handle))
        memory_bytes = int(memory.total)
        if memory_bytes <= 0:
            raise BackendError(
                f"NVIDIA device {index}: nvmlDeviceGetMemoryInfo reported {memory_bytes} bytes"
            )

        extra: dict[str, AttributeValue] = {}
        brand = optional("nvmlDeviceGetBrand", subject, lambda: pynvml.nvmlDeviceGetBrand(handle))
        if brand is not None:
            extra["brand"] = BRAND_NAMES.get(int(brand), "Unknown")
        capability = optional(
            "nvmlDeviceGetCudaComputeCapability",
            subject,
            lambda: pynvml.nvmlDeviceGetCudaComputeCapability(handle),
        )
        if capability is not None:
            major, minor_cc = capability
            extra["cudaComputeCapability"] = Version(semver=f"{int(major)}.{int(minor_cc)}.0")
        if cuda is not None:
            extra["cudaDriverVersion"] = cuda
        mig = optional("nvmlDeviceGetMigMode", subject, lambda: pynvml.nvmlDeviceGetMigMode(handle))
        extra["migEnabled"] = mig is not None and int(mig[0]) == pynvml.NVML_DEVICE_MIG_ENABLE
        minor = optional("nvmlDeviceGetMinorNumber", subject, lambda: pynvml.nvmlDeviceGetMinorNumber(handle))
        if minor is not None:
            extra["minor"] = int(minor)

        arch = optional(
            "nvmlDeviceGetArchitecture", subject, lambda: pynvml.nvmlDeviceGetArchitecture(handle)
        )
        architecture = "" if arch is None else ARCHITECTURE_NAMES.get(int(arch), "Unknown")

        pci = optional("nvmlDeviceGetPciInfo_v3", subject, lambda: pynvml.nvmlDeviceGetPciInfo_v3(handle))
        pci_bus_id = None if pci is None else normalize_pci_bus_id(text(pci.busId), index)
        pcie_root = None if pci_bus_id is None else pcie_root_of(pci_bus_id, self._sysfs_root)

        try:
            return AcceleratorDevice(
                name=f"gpu-{index}",
                index=index,
                uuid=uuid,
                vendor=NVIDIA_VENDOR,
                device_type="gpu",
                product_name=name,
                architecture=architecture,
                memory_bytes=memory_bytes,
                driver_version=driver_version,
                pci_bus_id=pci_bus_id,
                pcie_root=pcie_root,
                extra_attributes=extra,
            )
        except ValueError as error:
            raise BackendError(
                f"NVIDIA device {index} ({uuid}): NVML answers are not a valid device: {error}"
            ) from error
