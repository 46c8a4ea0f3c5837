"""The devices each node can use, as the allocator sees them: ResourceSlices gathered into pools.

Owns: ``Inventory`` (built from ResourceSlice dicts in API shape), ``SliceEntry``, ``DeviceEntry``
and ``Pool``. ``Inventory.pools(node)`` follows d-r-a ``GatherPools`` (structured/internal/
{stable,incubating}/pools_*.go, v0.36.3) for the cluster's feature gates:

* slices considered: the node's own slices, then every slice without ``nodeName`` or with shared
  counters (stable: all slices, in input order); with DRAPartitionableDevices off, slices with
  ``perDeviceNodeSelection`` or ``sharedCounters`` are skipped;
* a slice belongs to the node when it has shared counters, or its ``nodeName``/``allNodes``/
  ``nodeSelector`` matches, or (``perDeviceNodeSelection``) any of its devices matches; slices with
  none of these are ignored;
* per (driver, pool) only the highest generation counts; a pool is complete when it has as many
  slices as the first one's ``resourceSliceCount``, counting, when the node sees fewer, all slices
  of that generation on every node (a newer generation elsewhere makes the pool obsolete: dropped);
* incomplete pools are kept (marked) without devices; invalid pools (duplicate device names among
  the slices the node sees, duplicate counter sets, devices consuming unknown counter sets or
  counters, also in slices of other nodes) are kept, without devices, with ``invalid`` set;
* order: pools by (driver, pool name), pools with binding conditions after all others, slices by
  name (stable: pools and slices in input order), devices in slice order.
A slice that is malformed (no driver, pool, bad quantities) raises ``AllocationError``; a node
selector that cannot be parsed raises ``AllocatorError`` (upstream fails the allocation). This
module must never evaluate selectors or track usage.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dra_driver.sim.capacity import Capacity, parse_capacity
from dra_driver.sim.cel_env import CelDevice
from dra_driver.sim.errors import AllocationError, AllocatorError, mapping, sequence
from dra_driver.sim.gates import DEFAULT_GATES, FeatureGates
from dra_driver.sim.nodes import Node, NodeSelectorError, node_matches
from dra_driver.sim.quantities import qty

DeviceKey = tuple[str, str, str]
"""(driver, pool, device): a device's identity, as in an allocation result."""

CounterSets = dict[str, dict[str, Decimal]]


class DeviceEntry:
    """One published device with its parsed capacities, counters, node selection and CEL input."""

    __slots__ = (
        "all_nodes",
        "allow_multiple",
        "binding_conditions",
        "binding_failure_conditions",
        "binds_to_node",
        "capacity",
        "cel",
        "consumes",
        "driver",
        "key",
        "name",
        "node_name",
        "node_selector",
        "pool",
        "raw",
        "slice",
        "slice_name",
        "taints",
    )

    def __init__(self, raw: Mapping[str, Any], *, slice_entry: SliceEntry) -> None:
        slice_name = slice_entry.name
        raw = mapping(raw, f"ResourceSlice {slice_name!r}: a device")
        name = raw.get("name")
        if not isinstance(name, str) or not name:
            raise AllocationError(f"ResourceSlice {slice_name!r}: a device has no name: {dict(raw)!r}"[:300])
        self.raw = raw
        self.name = name
        self.slice = slice_entry
        self.driver = slice_entry.driver
        self.pool = slice_entry.pool
        self.slice_name = slice_name
        self.key: DeviceKey = (self.driver, self.pool, name)
        self.allow_multiple = raw.get("allowMultipleAllocations") is True
        try:
            self.capacity: dict[str, Capacity] = {
                key: parse_capacity(name, key, entry)
                for key, entry in mapping(raw.get("capacity"), f"device {name!r} capacity").items()
            }
            self.consumes: tuple[tuple[str, dict[str, Decimal]], ...] = tuple(
                (
                    str(item["counterSet"]),
                    {
                        counter: qty(str(c["value"]), what=f"device {name!r} consumesCounters {counter!r}")
                        for counter, c in (item.get("counters") or {}).items()
                    },
                )
                for item in sequence(raw.get("consumesCounters"), f"device {name!r} consumesCounters")
            )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AllocationError(f"ResourceSlice {slice_name!r}: {exc}") from None
        self.taints: tuple[Mapping[str, Any], ...] = tuple(
            sequence(raw.get("taints"), f"device {name!r} taints")
        )
        self.node_name: str | None = raw.get("nodeName")
        self.all_nodes = raw.get("allNodes") is True
        self.node_selector: Mapping[str, Any] | None = raw.get("nodeSelector")
        self.binding_conditions: list[str] | None = raw.get("bindingConditions")
        self.binding_failure_conditions: list[str] | None = raw.get("bindingFailureConditions")
        self.binds_to_node = raw.get("bindsToNode") is True
        self.cel = CelDevice(
            name, self.driver, raw.get("attributes") or {}, raw.get("capacity") or {}, self.allow_multiple
        )

    def attribute(self, qualified: str) -> Mapping[str, Any] | None:
        """The attribute ``domain/id`` (d-r-a ``lookupAttribute``: the driver's domain may be omitted)."""
        attributes = self.raw.get("attributes") or {}
        if qualified in attributes:
            found: Mapping[str, Any] = attributes[qualified]
            return found
        domain, sep, ident = qualified.partition("/")
        if sep and domain == self.driver and ident in attributes:
            found = attributes[ident]
            return found  # noqa: RET504 - typed as Mapping on purpose
        return None

    def card_id(self) -> str:
        """The physical card: partitions and replicas share their card's ``uuid`` attribute."""
        uuid = self.attribute(f"{self.driver}/uuid")
        return str(uuid.get("string")) if uuid and "string" in uuid else f"{self.pool}/{self.name}"


class SliceEntry:
    """One ResourceSlice: its pool membership, node selection, shared counters and devices."""

    def __init__(self, obj: Mapping[str, Any], index: int) -> None:
        obj = mapping(obj, "ResourceSlice")
        self.name = str(mapping(obj.get("metadata"), "ResourceSlice metadata").get("name") or "<unnamed>")
        where = f"ResourceSlice {self.name!r}"
        spec = obj.get("spec")
        if not isinstance(spec, Mapping):
            raise AllocationError(f"{where}: spec is missing")
        pool = spec.get("pool")
        if not isinstance(spec.get("driver"), str) or not isinstance(pool, Mapping) or not pool.get("name"):
            raise AllocationError(f"{where}: spec.driver and spec.pool.name are required")
        for field_name in ("generation", "resourceSliceCount"):
            value = pool.get(field_name, 0)
            if not isinstance(value, int) or isinstance(value, bool):
                raise AllocationError(f"{where}: spec.pool.{field_name} is not an integer")
        self.index = index
        self.driver: str = spec["driver"]
        self.pool = str(pool["name"])
        self.generation = int(pool.get("generation", 0))
        self.count = int(pool.get("resourceSliceCount", 0))
        self.node_name: str | None = spec.get("nodeName") or None
        self.all_nodes = spec.get("allNodes") is True
        self.node_selector: Mapping[str, Any] | None = spec.get("nodeSelector")
        self.per_device: bool | None = spec.get("perDeviceNodeSelection")
        self.shared_counters: list[tuple[str, dict[str, Decimal]]] = []
        try:
            for counter_set in sequence(spec.get("sharedCounters"), f"{where} spec.sharedCounters"):
                set_name = str(counter_set.get("name"))
                self.shared_counters.append(
                    (
                        set_name,
                        {
                            counter: qty(
                                str(c["value"]), what=f"counter set {set_name!r} counter {counter!r}"
                            )
                            for counter, c in (counter_set.get("counters") or {}).items()
                        },
                    )
                )
        except (ValueError, KeyError, TypeError, AttributeError) as exc:
            raise AllocationError(f"{where}: {exc}") from None
        self.devices = [
            DeviceEntry(raw, slice_entry=self)
            for raw in sequence(spec.get("devices"), f"{where} spec.devices")
        ]

    @property
    def pool_id(self) -> tuple[str, str]:
        return (self.driver, self.pool)


@dataclass
class Pool:
    """One (driver, pool) as one node sees it."""

    driver: str
    name: str
    node: str
    generation: int
    slices: list[SliceEntry] = field(default_factory=list)
    """Device slices that target the node (allocation order)."""
    devices: list[DeviceEntry] = field(default_factory=list)
    other_devices: list[DeviceEntry] = field(default_factory=list)
    """Devices of the pool in slices that do not target the node (they still consume counters)."""
    counter_sets: CounterSets = field(default_factory=dict)
    incomplete: bool = False
    invalid: str | None = None
    slice_counts: tuple[int, int] | None = None
    """For an incomplete pool: (slices of its generation, the resourceSliceCount they announce)."""

    @property
    def label(self) -> str:
        return f"{self.driver}/{self.name}"

    @property
    def slice_names(self) -> list[str]:
        return [s.name for s in self.slices]

    @property
    def problem(self) -> str | None:
        """Why nothing can be allocated from this pool (incomplete or invalid), or None."""
        if self.incomplete:
            seen, count = self.slice_counts or (0, 0)
            return (
                f"resource pool {self.label} is currently being updated (incomplete): generation "
                f"{self.generation} has {seen} slice(s) but resourceSliceCount is {count}"
            )
        if self.invalid is not None:
            return f"resource pool {self.label} is currently invalid: {self.invalid}"
        return None

    @property
    def has_binding_conditions(self) -> bool:
        return any(device.binding_conditions is not None for device in self.devices)


class Inventory:
    """Every slice of the cluster; per node the pools it sees (computed on demand, cached)."""

    def __init__(
        self,
        slices: Iterable[Mapping[str, Any]],
        *,
        gates: FeatureGates = DEFAULT_GATES,
        nodes: Mapping[str, Node] | None = None,
    ) -> None:
        self.gates = gates
        self.slices = [SliceEntry(obj, index) for index, obj in enumerate(slices)]
        self.ignored: list[str] = []
        self._nodes: dict[str, Node] = dict(nodes or {})
        for entry in self.slices:
            names = [entry.node_name] if entry.node_name else []
            if entry.per_device:
                names += [d.node_name for d in entry.devices if d.node_name]
            for name in names:
                self._nodes.setdefault(name, Node(name))
            if (
                not (
                    entry.node_name or entry.all_nodes or entry.node_selector is not None or entry.per_device
                )
                and not entry.shared_counters
            ):
                self.ignored.append(
                    f"ResourceSlice {entry.name!r} sets none of nodeName, allNodes, nodeSelector, "
                    "perDeviceNodeSelection; the allocator ignores it"
                )
            elif not gates.partitionable_devices and (entry.per_device is not None or entry.shared_counters):
                self.ignored.append(
                    f"ResourceSlice {entry.name!r} uses perDeviceNodeSelection or sharedCounters, which "
                    "need the DRAPartitionableDevices feature gate (off); the allocator ignores it"
                )
        if not gates.consumable_capacity and any(d.allow_multiple for s in self.slices for d in s.devices):
            self.ignored.append(
                f"DRAConsumableCapacity is off in this cluster (Kubernetes {gates.version}): consumable "
                "capacity does not exist there, so a device with allowMultipleAllocations is allocated "
                "whole, to one claim at a time, and capacity requests are not honoured"
                + (
                    " (they are ignored)"
                    if gates.channel == "stable"
                    else " (a claim that makes them fails with an error)"
                )
            )
        self._sorted_nodes = sorted(self._nodes)
        self._pools: dict[str, list[Pool]] = {}
        self._devices: dict[DeviceKey, DeviceEntry] = {}
        for entry in self.slices:
            for device in entry.devices:
                self._devices.setdefault(device.key, device)

    @property
    def nodes(self) -> list[str]:
        """Node names, sorted (a new list each time; the names are fixed once built)."""
        return list(self._sorted_nodes)

    def node(self, name: str) -> Node:
        return self._nodes.get(name) or Node(name)

    def pools(self, node: str) -> list[Pool]:
        """The pools ``node`` sees, in allocation order; AllocatorError for an unparsable node selector."""
        found = self._pools.get(node)
        if found is None:
            found = gather_pools(self.slices, self.node(node), self.gates)
            self._pools[node] = found
        return found

    def all_pools(self) -> list[Pool]:
        result = []
        for node in self.nodes:
            try:
                result.extend(self.pools(node))
            except AllocatorError:
                continue
        return result

    def device(self, key: DeviceKey) -> DeviceEntry | None:
        return self._devices.get(key)

    def devices(self, node: str | None = None) -> list[DeviceEntry]:
        nodes = self.nodes if node is None else [node]
        return [device for n in nodes for pool in self.pools(n) for device in pool.devices]


def gather_pools(slices: list[SliceEntry], node: Node, gates: FeatureGates) -> list[Pool]:
    """d-r-a ``GatherPools`` for ``node`` (see the module docstring)."""
    stable = gates.channel == "stable"
    if stable:
        considered = list(slices)
    else:
        own = [s for s in slices if s.node_name == node.name and not s.shared_counters]
        considered = own + [s for s in slices if not s.node_name or s.shared_counters]
    grouped: dict[tuple[str, str], list[SliceEntry]] = {}
    for entry in considered:
        if not gates.partitionable_devices and (entry.per_device is not None or entry.shared_counters):
            continue
        if entry.shared_counters:
            relevant = True
        elif entry.node_name or entry.all_nodes or entry.node_selector is not None:
            relevant = _matches(
                node, entry.node_name, entry.all_nodes, entry.node_selector, f"slice {entry.name}"
            )
        elif entry.per_device:
            relevant = any(
                _matches(
                    node, d.node_name, d.all_nodes, d.node_selector, f"device {d.name} in slice {entry.name}"
                )
                for d in entry.devices
            )
        else:
            continue
        if relevant:
            members = grouped.get(entry.pool_id)
            if members is None or entry.generation > members[0].generation:
                grouped[entry.pool_id] = [entry]
            elif entry.generation == members[0].generation:
                members.append(entry)
    pools: list[Pool] = []
    with_binding: list[Pool] = []
    for (driver, pool_name), members in grouped.items():
        first = members[0]
        everywhere: list[SliceEntry] | None = None
        if len(members) != first.count:
            same = [s for s in slices if s.pool_id == (driver, pool_name)]
            if any(s.generation > first.generation for s in same):
                continue  # obsolete: a newer generation is being published elsewhere
            everywhere = [s for s in same if s.generation == first.generation]
            if len(everywhere) != first.count:
                pools.append(
                    Pool(
                        driver,
                        pool_name,
                        node.name,
                        first.generation,
                        incomplete=True,
                        slice_counts=(len(everywhere), first.count),
                    )
                )
                continue
        pool = _build_pool(driver, pool_name, node.name, members, everywhere, gates, stable)
        if pool.invalid is not None:  # upstream keeps only the reason of an invalid pool
            pool.slices, pool.devices, pool.other_devices, pool.counter_sets = [], [], [], {}
        (with_binding if not stable and pool.has_binding_conditions else pools).append(pool)
    if not stable:
        pools.sort(key=lambda p: (p.driver, p.name))
        with_binding.sort(key=lambda p: (p.driver, p.name))
    return pools + with_binding


def _matches(
    node: Node, name: str | None, all_nodes: bool, selector: Mapping[str, Any] | None, what: str
) -> bool:
    try:
        return node_matches(node, name, all_nodes, selector)
    except NodeSelectorError as exc:
        raise AllocatorError(
            f"failed to perform node selection for {what}: failed to parse node selector: {exc}"
        ) from None


def _build_pool(  # noqa: PLR0917 - mirrors upstream buildPool's inputs
    driver: str,
    name: str,
    node: str,
    members: list[SliceEntry],
    everywhere: list[SliceEntry] | None,
    gates: FeatureGates,
    stable: bool,
) -> Pool:
    members = list(members) if stable else sorted(members, key=lambda s: s.name)
    pool = Pool(driver, name, node, members[0].generation)
    if gates.partitionable_devices:
        device_slices = [s for s in members if not s.shared_counters]
        counter_slices = [s for s in members if s.shared_counters]
    else:
        device_slices, counter_slices = members, []
    pool.slices = device_slices
    pool.devices = [device for s in device_slices for device in s.devices]
    seen: set[str] = set()
    for device in pool.devices:
        if device.name in seen:
            pool.invalid = f"duplicate device name {device.name}"
            return pool
        seen.add(device.name)
    if not gates.partitionable_devices:
        return pool
    for entry in counter_slices:
        for set_name, counters in entry.shared_counters:
            if set_name in pool.counter_sets:
                pool.invalid = f"duplicate counter set name {set_name}"
                return pool
            pool.counter_sets[set_name] = counters
    pool.invalid = _consumption_problem(pool.counter_sets, [d for s in members for d in s.devices])
    if pool.invalid is not None or everywhere is None or len(everywhere) == len(members):
        return pool
    names = {s.name for s in members}
    pool.other_devices = [d for s in everywhere if s.name not in names for d in s.devices]
    pool.invalid = _consumption_problem(pool.counter_sets, pool.other_devices)
    return pool


def _consumption_problem(counter_sets: CounterSets, devices: Iterable[DeviceEntry]) -> str | None:
    for device in devices:
        for set_name, counters in device.consumes:
            if set_name not in counter_sets:
                return f"counter set {set_name} not found"
            for counter in counters:
                if counter not in counter_sets[set_name]:
                    return f"counter {counter} not found in counter set {set_name}"
    return None
