"""The devices of each node, as the allocator sees them: ResourceSlices grouped into pools.

Owns: ``Inventory`` (built from ResourceSlice dicts in API shape), ``Pool`` and ``DeviceEntry``.
Rules (d-r-a ``structured/internal/*/pools.go``): slices are grouped by (driver, pool name); only
the slices of a pool's highest ``generation`` count; a pool with fewer (or more) of those slices
than ``resourceSliceCount`` is incomplete, one with duplicate device or counter-set names or a
device consuming an unknown counter is invalid: both are kept with a reason and never allocated
from. Slices are ordered by name within a pool and devices keep their slice order; pools are
ordered by (driver, pool name). Only node-local slices (``spec.nodeName``) are simulated;
``allNodes``/``nodeSelector``/``perDeviceNodeSelection`` slices are listed in ``ignored``.
This module must never evaluate selectors or track usage.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dra_driver.sim.capacity import Capacity, parse_capacity
from dra_driver.sim.cel_env import CelDevice
from dra_driver.sim.errors import AllocationError
from dra_driver.sim.quantities import qty

DeviceKey = tuple[str, str, str]
"""(driver, pool, device): a device's identity, as in an allocation result."""


class DeviceEntry:
    """One published device with its parsed capacities, counters and CEL input."""

    __slots__ = (
        "allow_multiple",
        "capacity",
        "cel",
        "consumes",
        "driver",
        "key",
        "name",
        "node",
        "pool",
        "raw",
        "slice_name",
        "taints",
    )

    def __init__(self, raw: Mapping[str, Any], *, driver: str, pool: str, node: str, slice_name: str) -> None:
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise AllocationError(f"ResourceSlice {slice_name!r}: a device has no name: {dict(raw)!r}")
        self.raw = raw
        self.name = name
        self.driver = driver
        self.pool = pool
        self.node = node
        self.slice_name = slice_name
        self.key: DeviceKey = (driver, pool, name)
        self.allow_multiple = bool(raw.get("allowMultipleAllocations", False))
        try:
            self.capacity: dict[str, Capacity] = {
                key: parse_capacity(name, key, entry) for key, entry in (raw.get("capacity") or {}).items()
            }
            self.consumes: tuple[tuple[str, dict[str, Decimal]], ...] = tuple(
                (
                    str(item["counterSet"]),
                    {
                        counter: qty(str(c["value"]), what=f"device {name!r} consumesCounters {counter!r}")
                        for counter, c in (item.get("counters") or {}).items()
                    },
                )
                for item in raw.get("consumesCounters") or ()
            )
        except (ValueError, KeyError, TypeError) as exc:
            raise AllocationError(f"ResourceSlice {slice_name!r}: {exc}") from None
        self.taints: tuple[Mapping[str, Any], ...] = tuple(raw.get("taints") or ())
        self.cel = CelDevice(
            name, driver, raw.get("attributes") or {}, raw.get("capacity") or {}, self.allow_multiple
        )

    def attribute(self, qualified: str) -> Mapping[str, Any] | None:
        """The attribute ``domain/id`` (d-r-a ``lookupAttribute``: the driver's domain may be omitted)."""
        attributes = self.raw.get("attributes") or {}
        if qualified in attributes:
            found: Mapping[str, Any] = attributes[qualified]
            return found
        domain, _, ident = qualified.rpartition("/")
        if domain == self.driver and ident in attributes:
            found = attributes[ident]
            return found  # noqa: RET504 - typed as Mapping on purpose
        return None

    def card_id(self) -> str:
        """The physical card: partitions and replicas share their card's ``uuid`` attribute."""
        uuid = self.attribute(f"{self.driver}/uuid")
        return str(uuid.get("string")) if uuid and "string" in uuid else f"{self.pool}/{self.name}"


@dataclass
class Pool:
    """One (driver, pool) on a node: its current slices, devices and counter sets."""

    driver: str
    name: str
    node: str
    generation: int
    slice_names: list[str]
    devices: list[DeviceEntry] = field(default_factory=list)
    counter_sets: dict[str, dict[str, Decimal]] = field(default_factory=dict)
    problem: str | None = None
    """Why nothing can be allocated from this pool (incomplete or invalid), or None."""

    @property
    def label(self) -> str:
        return f"{self.driver}/{self.name}"


class Inventory:
    """Every simulated node's pools, built once from a list of ResourceSlice dicts."""

    def __init__(self, slices: Iterable[Mapping[str, Any]]) -> None:
        self.ignored: list[str] = []
        grouped: dict[tuple[str, str], list[Mapping[str, Any]]] = defaultdict(list)
        for obj in slices:
            name, spec = _slice_parts(obj)
            if not spec.get("nodeName"):
                self.ignored.append(
                    f"ResourceSlice {name!r} is not node-local (no spec.nodeName); not simulated"
                )
                continue
            grouped[(spec["driver"], spec["pool"]["name"])].append(obj)
        self._pools: dict[str, list[Pool]] = defaultdict(list)
        self._devices: dict[DeviceKey, DeviceEntry] = {}
        for (driver, pool_name), members in sorted(grouped.items()):
            pool = _build_pool(driver, pool_name, members)
            self._pools[pool.node].append(pool)
            for device in pool.devices:
                self._devices.setdefault(device.key, device)

    @property
    def nodes(self) -> list[str]:
        return sorted(self._pools)

    def pools(self, node: str) -> list[Pool]:
        return self._pools.get(node, [])

    def all_pools(self) -> list[Pool]:
        return [pool for node in self.nodes for pool in self._pools[node]]

    def device(self, key: DeviceKey) -> DeviceEntry | None:
        return self._devices.get(key)

    def devices(self, node: str | None = None) -> list[DeviceEntry]:
        nodes = self.nodes if node is None else [node]
        return [device for n in nodes for pool in self.pools(n) for device in pool.devices]


def _slice_parts(obj: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]]:
    name = str((obj.get("metadata") or {}).get("name") or "<unnamed>")
    spec = obj.get("spec")
    if not isinstance(spec, Mapping):
        raise AllocationError(f"ResourceSlice {name!r}: spec is missing")
    pool = spec.get("pool")
    if not isinstance(spec.get("driver"), str) or not isinstance(pool, Mapping) or not pool.get("name"):
        raise AllocationError(f"ResourceSlice {name!r}: spec.driver and spec.pool.name are required")
    for field_name in ("generation", "resourceSliceCount"):
        if not isinstance(pool.get(field_name, 0), int):
            raise AllocationError(f"ResourceSlice {name!r}: spec.pool.{field_name} is not an integer")
    return name, spec


def _build_pool(driver: str, pool_name: str, members: list[Mapping[str, Any]]) -> Pool:
    generation = max(int(m["spec"]["pool"].get("generation", 0)) for m in members)
    current = sorted(
        (m for m in members if int(m["spec"]["pool"].get("generation", 0)) == generation),
        key=lambda m: str((m.get("metadata") or {}).get("name") or ""),
    )
    names = [str((m.get("metadata") or {}).get("name") or "<unnamed>") for m in current]
    nodes = {m["spec"]["nodeName"] for m in current}
    pool = Pool(driver, pool_name, min(nodes), generation, names)
    if len(nodes) > 1:
        pool.problem = f"pool {driver}/{pool_name} is invalid: its slices name several nodes {sorted(nodes)}"
    expected = {int(m["spec"]["pool"].get("resourceSliceCount", 1)) for m in current}
    if pool.problem is None and expected != {len(current)}:
        want = ", ".join(str(e) for e in sorted(expected))
        pool.problem = (
            f"pool {driver}/{pool_name} is incomplete: generation {generation} has {len(current)} slice(s) "
            f"but resourceSliceCount is {want}"
        )
    for member, slice_name in zip(current, names, strict=True):
        spec = member["spec"]
        for counter_set in spec.get("sharedCounters") or ():
            set_name = str(counter_set.get("name"))
            if set_name in pool.counter_sets and pool.problem is None:
                pool.problem = f"pool {driver}/{pool_name} is invalid: duplicate counter set {set_name!r}"
            try:
                pool.counter_sets[set_name] = {
                    counter: qty(str(c["value"]), what=f"counter set {set_name!r} counter {counter!r}")
                    for counter, c in (counter_set.get("counters") or {}).items()
                }
            except (ValueError, KeyError, TypeError) as exc:
                raise AllocationError(f"ResourceSlice {slice_name!r}: {exc}") from None
        for raw in spec.get("devices") or ():
            pool.devices.append(
                DeviceEntry(raw, driver=driver, pool=pool_name, node=pool.node, slice_name=slice_name)
            )
    _validate_devices(pool)
    return pool


def _validate_devices(pool: Pool) -> None:
    seen: set[str] = set()
    for device in pool.devices:
        problem = None
        if device.name in seen:
            problem = f"duplicate device name {device.name!r}"
        seen.add(device.name)
        for set_name, counters in device.consumes:
            if set_name not in pool.counter_sets:
                problem = f"device {device.name!r} consumes unknown counter set {set_name!r}"
            elif missing := sorted(set(counters) - set(pool.counter_sets[set_name])):
                problem = f"device {device.name!r} consumes unknown counters {missing} of set {set_name!r}"
        if problem and pool.problem is None:
            pool.problem = f"pool {pool.label} is invalid: {problem}"
