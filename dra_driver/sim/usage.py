"""What allocated claims already hold: the committed usage the allocator works against.

Owns: ``Usage``. It follows kube-scheduler's allocated state (``GatherAllocatedState`` in
dra_manager.go, ``foreachAllocatedDevice`` in allocateddevices.go): a result with ``adminAccess``
holds nothing; with DRAConsumableCapacity on (``consumable_capacity``), a result with a ``shareID``
is a share (the device stays available to further shares) and its ``consumedCapacity``, when
present, adds to the device's aggregated capacity; any other result (and every result when the
gate is off) makes the device allocated (unavailable). A device that is allocated or shared
consumes its ``consumesCounters`` once. This module must never decide whether a new request fits.

Invalidation contract (what the scheduler's caches in ``memo.py`` rely on): every change of what a
device of pool (driver, pool) holds goes through ``add``/``remove`` and bumps that pool's entry in
``pool_versions`` (and ``version``), logged in ``changes``; nothing else may change the dicts
below. ``snapshot`` copies what the diagnostics read of some devices, so a reason can be built
later from the state of now.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Iterator, Mapping
from decimal import Decimal
from typing import Any

from dra_driver.sim.errors import AllocationError, mapping, sequence
from dra_driver.sim.inventory import DeviceKey
from dra_driver.sim.quantities import qty

PoolId = tuple[str, str]
"""(driver, pool)."""


class Usage:
    """Devices held by allocated claims, keyed by (driver, pool, device)."""

    def __init__(self, *, consumable_capacity: bool = True) -> None:
        self.consumable_capacity = consumable_capacity
        self.exclusive: dict[DeviceKey, str] = {}
        """Device → the claim (``ns/name``) that holds it."""
        self.shared: dict[DeviceKey, dict[str, Decimal]] = {}
        """Device → aggregated consumed capacity of its shares (only shares that list one)."""
        self.sharers: dict[DeviceKey, list[str]] = defaultdict(list)
        """Device → claims holding a share (one entry per share)."""
        self.admin: dict[DeviceKey, list[str]] = defaultdict(list)
        """Device → claims with admin access to it (they hold nothing)."""
        self.claims: dict[str, Mapping[str, Any]] = {}
        """Claim key → its allocation (status.allocation)."""
        self.version = 0
        """Bumped on every change, so callers can cache what they derive from usage."""
        self.pool_versions: dict[PoolId, int] = {}
        """Per (driver, pool): bumped on every change of what its devices hold (absent: never changed)."""
        self.pool_results: dict[PoolId, dict[str, list[Mapping[str, Any]]]] = {}
        """Per (driver, pool): claim key → that claim's results naming devices of the pool."""
        self.changes: list[PoolId] = []
        """Every bump of ``pool_versions``, in order (readers keep how far they have read)."""

    def add(self, claim_key: str, allocation: Mapping[str, Any]) -> None:
        """Record ``allocation`` (``status.allocation``) of claim ``claim_key``; idempotent per claim."""
        if claim_key in self.claims:
            return
        for i, result in enumerate(_results(claim_key, allocation)):
            key: DeviceKey = (str(result["driver"]), str(result["pool"]), str(result["device"]))
            self._touch(key[:2]).setdefault(claim_key, []).append(result)
            if result.get("adminAccess"):
                self.admin[key].append(claim_key)
            elif result.get("shareID") and self.consumable_capacity:
                consumed = result.get("consumedCapacity")
                if consumed is not None:
                    total = self.shared.setdefault(key, {})
                    for name, text in mapping(
                        consumed, f"claim {claim_key} result #{i} consumedCapacity"
                    ).items():
                        amount = qty(
                            str(text), what=f"claim {claim_key} result #{i} consumedCapacity {name!r}"
                        )
                        total[name] = total.get(name, Decimal(0)) + amount
                self.sharers[key].append(claim_key)
            else:
                self.exclusive[key] = claim_key
        self.claims[claim_key] = allocation
        self.version += 1

    def remove(self, claim_key: str) -> None:
        """Forget the allocation of ``claim_key`` (a deleted or deallocated claim)."""
        allocation = self.claims.pop(claim_key, None)
        if allocation is None:
            return
        for result in _results(claim_key, allocation):
            key: DeviceKey = (str(result["driver"]), str(result["pool"]), str(result["device"]))
            self._touch(key[:2]).pop(claim_key, None)
            if result.get("adminAccess"):
                self.admin[key].remove(claim_key)
            elif result.get("shareID") and self.consumable_capacity:
                total = self.shared.get(key, {})
                for name, text in (result.get("consumedCapacity") or {}).items():
                    total[name] = total.get(name, Decimal(0)) - qty(str(text), what="consumedCapacity")
                self.sharers[key].remove(claim_key)
                if not self.sharers[key]:
                    self.shared.pop(key, None)
                    del self.sharers[key]
            elif self.exclusive.get(key) == claim_key:
                del self.exclusive[key]
        self.version += 1

    def _touch(self, pool: PoolId) -> dict[str, list[Mapping[str, Any]]]:
        """Bump ``pool``'s version; its claim → results index, to be updated by the caller."""
        self.pool_versions[pool] = self.pool_versions.get(pool, 0) + 1
        self.changes.append(pool)
        return self.pool_results.setdefault(pool, {})

    def results_in(self, pools: Iterable[PoolId]) -> list[Mapping[str, Any]]:
        """Every result (claims in the order they were added) that names a device of ``pools``."""
        found: list[Mapping[str, Any]] = []
        for pool in pools:
            for results in self.pool_results.get(pool, {}).values():
                found.extend(results)
        return found

    def holders_in(self, pools: Iterable[PoolId]) -> Iterator[tuple[str, Mapping[str, Any]]]:
        """(claim key, result) for every result that names a device of ``pools``."""
        for pool in pools:
            for claim_key, results in self.pool_results.get(pool, {}).items():
                for result in results:
                    yield claim_key, result

    def snapshot(self, keys: Iterable[DeviceKey]) -> Usage:
        """What ``keys`` hold now, as a separate ``Usage`` (for reading only: it has no ``claims``)."""
        copy = Usage(consumable_capacity=self.consumable_capacity)
        for key in keys:
            if key in self.exclusive:
                copy.exclusive[key] = self.exclusive[key]
            if key in self.shared:
                copy.shared[key] = dict(self.shared[key])
            if self.sharers.get(key):
                copy.sharers[key] = list(self.sharers[key])
            if self.admin.get(key):
                copy.admin[key] = list(self.admin[key])
        return copy

    def holders(self, key: DeviceKey) -> list[str]:
        """Claims that hold ``key`` (exclusively or by a share)."""
        holder = self.exclusive.get(key)
        return [holder] if holder else list(self.sharers.get(key, ()))

    def is_allocated(self, key: DeviceKey) -> bool:
        """Whether the device consumes its counters: allocated exclusively or shared at least once."""
        return key in self.exclusive or bool(self.sharers.get(key)) or key in self.shared

    def copy_without(self, claim_key: str) -> Usage:
        """The same usage without ``claim_key``'s allocation."""
        copy = Usage(consumable_capacity=self.consumable_capacity)
        for other, allocation in self.claims.items():
            if other != claim_key:
                copy.add(other, allocation)
        return copy


def _results(claim_key: str, allocation: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    where = f"claim {claim_key}: status.allocation"
    devices = mapping(mapping(allocation, where).get("devices"), f"{where}.devices")
    results = [
        mapping(r, f"{where}.devices.results[{i}]")
        for i, r in enumerate(sequence(devices.get("results"), f"{where}.devices.results"))
    ]
    for i, result in enumerate(results):
        if not all(result.get(f) for f in ("driver", "pool", "device")):
            raise AllocationError(
                f"claim {claim_key}: status.allocation.devices.results[{i}] lacks driver/pool/device"
            )
    return list(results)
