"""Limits per allocated device: exactly what the scheduler allocated, nothing more or less.

Owns: turning one allocation result into the memory (MiB) and cores (percent) the container may
use on that card.

- capacity mode (the device allows multiple allocations): from the result's ``consumedCapacity``;
- partitions and replicas: from the capacity the device itself was published with;
- a whole card (exclusive, the partitions parent, or a share that consumed all memory with cores
  0 or 100): no limit at all.

It must never read files or the API; unknown devices and missing consumedCapacity are errors.
"""

from __future__ import annotations

from dataclasses import dataclass

from dra_driver.kube.quantity import MIB, parse_quantity
from dra_driver.prepare.api import ClaimRef, PrepareError
from dra_driver.prepare.catalog import CatalogEntry, DeviceCatalog
from dra_driver.prepare.claims import AllocationResult
from dra_driver.rules import CORES, FULL_CORES, MEMORY, cores_unlimited, memory_unlimited


@dataclass(frozen=True)
class AllocatedDevice:
    """One allocation result of ours with the limits it carries (None = unlimited)."""

    result: AllocationResult
    entry: CatalogEntry
    memory_mib: int | None
    cores_percent: int | None

    @property
    def unlimited(self) -> bool:
        return self.memory_mib is None and self.cores_percent is None


def device_limits(
    claim: ClaimRef, results: tuple[AllocationResult, ...], catalog: DeviceCatalog
) -> list[AllocatedDevice]:
    return [_limits(claim, result, catalog) for result in results]


def _limits(claim: ClaimRef, result: AllocationResult, catalog: DeviceCatalog) -> AllocatedDevice:
    entry = catalog.get(result.device)
    if entry is None:
        known = ", ".join(catalog.names()[:8]) or "none"
        raise PrepareError(
            f"claim {claim}: device {result.device} (request {result.request}) is not published by this "
            f"node; known devices: {known}"
        )
    card_memory = entry.card.memory_bytes
    if entry.multiple_allocations:
        consumed = result.consumed_capacity
        if not consumed or MEMORY not in consumed:
            raise PrepareError(
                f"claim {claim}: the allocation of shared device {result.device} has no consumedCapacity "
                "for memory; the scheduler must run with the DRAConsumableCapacity feature gate"
            )
        memory = _amount(claim, result, MEMORY, consumed[MEMORY])
        cores = _amount(claim, result, CORES, consumed.get(CORES, "0"))
    elif entry.is_whole_card:
        return AllocatedDevice(result, entry, None, None)
    else:
        memory = entry.capacity.get(MEMORY, card_memory)
        cores = entry.capacity.get(CORES, FULL_CORES)
    if memory > card_memory:
        raise PrepareError(
            f"claim {claim}: device {result.device} was allocated {memory} bytes of memory, more than the "
            f"card's {card_memory}"
        )
    if not 0 <= cores <= FULL_CORES:
        raise PrepareError(
            f"claim {claim}: device {result.device} was allocated {cores}% cores, outside 0..100"
        )
    memory_mib = None if memory_unlimited(memory, card_memory) else max(1, memory // MIB)
    cores_percent = None if cores_unlimited(cores) else cores
    return AllocatedDevice(result, entry, memory_mib, cores_percent)


def _amount(claim: ClaimRef, result: AllocationResult, name: str, text: str) -> int:
    try:
        value = parse_quantity(text)
    except ValueError as exc:
        raise PrepareError(
            f"claim {claim}: consumedCapacity {name} of device {result.device}: {exc}"
        ) from None
    if value != value.to_integral_value() or value < 0:
        raise PrepareError(
            f"claim {claim}: consumedCapacity {name} of device {result.device} is {text!r}, "
            "not a non-negative whole number"
        )
    return int(value)
