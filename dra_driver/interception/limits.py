"""Per-device limits of one claim, and the order in which CUDA numbers the claim's devices.

Owns: ``DeviceLimit`` and ``cuda_order``. With ``CUDA_DEVICE_ORDER=PCI_BUS_ID`` CUDA numbers the
visible cards by PCI address (domain, bus, device, function), so HAMi-core's index ``i`` in
``CUDA_DEVICE_MEMORY_LIMIT_<i>`` is the card's position in that order — never the order the
limits arrived in (DESIGN §5). Two shares of one card in one claim are one CUDA device: their
limits are added. It must never touch files.

Semantics (HAMi-core, hami.md §2.2): ``memory_mib`` None means no memory limit; the value is
written as ``<MiB>m``. ``cores_percent`` None, 0 or 100 all mean no core limit (HAMi-core treats
an SM limit of 0 or unset as 100); 1..99 caps SM utilisation at that percentage.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from dra_driver.cdi import CdiError, validate_claim_uid
from dra_driver.devices import AcceleratorDevice
from dra_driver.interception.settings import InterceptionError
from dra_driver.rules import FULL_CORES, cores_unlimited, memory_unlimited

# "0000:17:00.0" (sysfs) or "00000000:17:00.0" (NVML); the domain may be absent ("17:00.0").
_PCI_BUS_ID = re.compile(
    r"(?:(?P<domain>[0-9a-fA-F]{1,8}):)?(?P<bus>[0-9a-fA-F]{1,2}):(?P<dev>[0-9a-fA-F]{1,2})\.(?P<fn>[0-7])"
)


def pci_sort_key(device_name: str, pci_bus_id: str) -> tuple[int, int, int, int]:
    """(domain, bus, device, function) of a PCI bus id; ``InterceptionError`` if it is malformed."""
    match = _PCI_BUS_ID.fullmatch(pci_bus_id.strip())
    if match is None:
        raise InterceptionError(f"device {device_name} has a malformed PCI bus id {pci_bus_id!r}")
    domain = int(match["domain"], 16) if match["domain"] else 0
    return domain, int(match["bus"], 16), int(match["dev"], 16), int(match["fn"], 16)


@dataclass(frozen=True)
class DeviceLimit:
    """What one allocated card (or share of a card) may use inside the claim's containers."""

    device: AcceleratorDevice
    memory_mib: int | None = None
    cores_percent: int | None = None

    def __post_init__(self) -> None:
        name = self.device.name
        if self.memory_mib is not None:
            if (
                isinstance(self.memory_mib, bool)
                or not isinstance(self.memory_mib, int)
                or self.memory_mib < 1
            ):
                # 0 would mean "unlimited" to HAMi-core: refuse it rather than silently lift the limit.
                raise InterceptionError(f"memory limit {self.memory_mib!r} MiB for device {name} is not >= 1")
            if self.memory_mib > self.device.memory_mib:
                raise InterceptionError(
                    f"memory limit {self.memory_mib} MiB for device {name} exceeds its "
                    f"{self.device.memory_mib} MiB"
                )
        if self.cores_percent is not None and (
            isinstance(self.cores_percent, bool)
            or not isinstance(self.cores_percent, int)
            or not 0 <= self.cores_percent <= FULL_CORES
        ):
            raise InterceptionError(f"cores limit {self.cores_percent!r} % for device {name} is not 0..100")

    @property
    def memory_limited(self) -> bool:
        return not memory_unlimited(self.memory_mib, self.device.memory_mib)

    @property
    def cores_limited(self) -> bool:
        return not cores_unlimited(self.cores_percent)

    @property
    def is_whole_card(self) -> bool:
        """True when nothing is limited (``dra_driver.rules.capacity``): all memory and all cores."""
        return not (self.memory_limited or self.cores_limited)

    @property
    def memory_limit_mib(self) -> int:
        """The memory limit to write; the card's full memory when unlimited (explicit beats image env)."""
        if self.memory_mib is not None and self.memory_limited:
            return self.memory_mib
        return self.device.memory_mib

    @property
    def sm_limit_percent(self) -> int:
        """The SM limit to write: 100 when unlimited."""
        return self.cores_percent if self.cores_limited and self.cores_percent is not None else FULL_CORES


def _merge(first: DeviceLimit, second: DeviceLimit) -> DeviceLimit:
    """One CUDA device from two shares of one card: limits add up; unlimited wins."""
    memory = None
    if first.memory_limited and second.memory_limited:
        memory = first.memory_limit_mib + second.memory_limit_mib
    cores = None
    if first.cores_limited and second.cores_limited:
        cores = first.sm_limit_percent + second.sm_limit_percent
    try:
        return DeviceLimit(first.device, memory, cores)
    except InterceptionError as exc:
        raise InterceptionError(f"two shares of device {first.device.name} in one claim: {exc}") from exc


def cuda_order(limits: Sequence[DeviceLimit]) -> list[DeviceLimit]:
    """The claim's devices as CUDA numbers them with ``CUDA_DEVICE_ORDER=PCI_BUS_ID``.

    Shares of one card (same UUID) are merged. Cards are sorted by PCI address; cards without a
    PCI bus id come after those with one, by device index; equal keys fall back to index, then UUID.
    """
    merged: dict[str, DeviceLimit] = {}
    for limit in limits:
        uuid = limit.device.uuid
        merged[uuid] = _merge(merged[uuid], limit) if uuid in merged else limit

    def key(limit: DeviceLimit) -> tuple[int, tuple[int, ...], int, str]:
        device = limit.device
        if device.pci_bus_id:
            return 0, pci_sort_key(device.name, device.pci_bus_id), device.index, device.uuid
        return 1, (), device.index, device.uuid

    return sorted(merged.values(), key=key)


def ordered_limits(claim_uid: str, limits: Sequence[DeviceLimit]) -> list[DeviceLimit]:
    """The claim's devices in PCI order, shares of one card merged; ``InterceptionError`` if none."""
    try:
        validate_claim_uid(claim_uid)
    except CdiError as exc:
        raise InterceptionError(str(exc)) from exc
    if not limits:
        raise InterceptionError(f"claim {claim_uid} has no devices to prepare")
    return cuda_order(limits)
