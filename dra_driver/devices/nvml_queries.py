"""Small NVML helpers for the NVIDIA backend: calling, classifying errors, decoding values.

Owns: ``mandatory`` / ``optional`` (one NVML call with the project's error policy), the enum →
name tables NVIDIA's own DRA driver publishes (go-nvlib ``GetArchitectureAsString`` and
``GetBrandAsString``), PCI bus id normalisation and the PCIe root lookup in sysfs.
It must never call ``nvmlInit``/``nvmlShutdown`` or build devices: that is ``nvidia.py``'s job.
Every wrapper here goes through ``pynvml`` so the real ctypes marshalling always runs.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path
from typing import TypeVar

import pynvml

from dra_driver.devices.base import BackendError

T = TypeVar("T")

# Calls that answer these mean "this card or driver does not have it": the attribute is omitted.
DEGRADABLE_ERRORS = frozenset({pynvml.NVML_ERROR_NOT_SUPPORTED, pynvml.NVML_ERROR_FUNCTION_NOT_FOUND})

# nvmlInit answers these when there is no usable NVIDIA driver on the node at all.
UNAVAILABLE_ERRORS = frozenset(
    {
        pynvml.NVML_ERROR_LIBRARY_NOT_FOUND,
        pynvml.NVML_ERROR_DRIVER_NOT_LOADED,
        pynvml.NVML_ERROR_FUNCTION_NOT_FOUND,
    }
)

# Enum values from nvml.h (nvmlDeviceArchitecture_t, nvmlBrandType_t) as literals: older
# nvidia-ml-py releases lack the newer constants, and the values never change.
ARCHITECTURE_NAMES: dict[int, str] = {
    2: "Kepler",
    3: "Maxwell",
    4: "Pascal",
    5: "Volta",
    6: "Turing",
    7: "Ampere",
    8: "Ada Lovelace",
    9: "Hopper",
    10: "Blackwell",
    13: "Rubin",
}

BRAND_NAMES: dict[int, str] = {
    0: "Unknown",
    1: "Quadro",
    2: "Tesla",
    3: "NVS",
    4: "Grid",
    5: "GeForce",
    6: "Titan",
    7: "NvidiaVApps",
    8: "NvidiaVPC",
    9: "NvidiaVCS",
    10: "NvidiaVWS",
    11: "NvidiaCloudGaming",
    12: "QuadroRTX",
    13: "NvidiaRTX",
    14: "Nvidia",
    15: "GeForceRTX",
    16: "TitanRTX",
}

# NVML reports "00000000:3B:00.0" (32-bit domain, upper case); Kubernetes' standard pciBusID
# attribute and sysfs use "0000:3b:00.0".
_BUS_ID = re.compile(
    r"(?P<domain>[0-9a-fA-F]{1,8}):(?P<bus>[0-9a-fA-F]{2}):(?P<dev>[0-9a-fA-F]{2})\.(?P<fn>[0-7])"
)
_PCI_ROOT = re.compile(r"pci[0-9a-f]{4}:[0-9a-f]{2}")


def describe(error: pynvml.NVMLError) -> str:
    """``NVMLError_NotSupported: Not Supported``: the class names the code, str() the text."""
    return f"{type(error).__name__}: {error}"


def mandatory(what: str, subject: str, call: Callable[[], T]) -> T:
    """Run one NVML query that discovery cannot do without; failure names ``subject`` and call.

    ``subject`` says what was asked about: ``"NVIDIA device 1"`` or ``"NVIDIA driver"``.
    """
    try:
        return call()
    except pynvml.NVMLError as error:
        raise BackendError(f"{subject}: {what} failed: {describe(error)}") from error


def optional(what: str, subject: str, call: Callable[[], T]) -> T | None:
    """Run one NVML query whose answer may be absent: ``None`` for NotSupported/FunctionNotFound.

    Any other NVML error (GPU lost, no permission, …) still fails discovery with a message naming
    ``subject`` and the call: a half-answered card must not be published as if it were whole.
    """
    try:
        return call()
    except pynvml.NVMLError as error:
        if error.value in DEGRADABLE_ERRORS:
            return None
        raise BackendError(f"{subject}: {what} failed: {describe(error)}") from error


def text(value: str | bytes) -> str:
    """NVML string fields come back as ``str`` from wrappers but as ``bytes`` from struct fields."""
    return value.decode(errors="replace") if isinstance(value, bytes) else value


def normalize_pci_bus_id(raw: str, index: int) -> str:
    """``00000000:3B:00.0`` → ``0000:3b:00.0``; anything else raises ``BackendError`` naming it."""
    match = _BUS_ID.fullmatch(raw.strip())
    if match is None:
        raise BackendError(f"NVIDIA device {index}: PCI bus id {raw!r} is not domain:bus:device.function")
    domain = int(match.group("domain"), 16)
    if domain > 0xFFFF:
        raise BackendError(f"NVIDIA device {index}: PCI domain of bus id {raw!r} does not fit 16 bits")
    bus, dev, fn = match.group("bus", "dev", "fn")
    return f"{domain:04x}:{bus.lower()}:{dev.lower()}.{fn}"


def pcie_root_of(pci_bus_id: str, sysfs_root: Path) -> str | None:
    """The PCIe root complex (``pci0000:00``) above a device, read from sysfs; ``None`` if unknown.

    ``/sys/bus/pci/devices/<bus id>`` links to ``/sys/devices/pci<domain>:<bus>/…/<bus id>``; the
    first ``pciDDDD:BB`` path component is the root, which is what Kubernetes'
    ``resource.kubernetes.io/pcieRoot`` attribute carries. Containers without /sys get ``None``.
    """
    link = sysfs_root / "bus" / "pci" / "devices" / pci_bus_id
    try:
        resolved = link.resolve(strict=True)
    except OSError:
        return None
    for part in resolved.parts:
        if _PCI_ROOT.fullmatch(part):
            return part
    return None
