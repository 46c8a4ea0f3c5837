"""Allocating a pod's claims on one node: a port of kube-scheduler's structured allocator.

Owns: ``NodeSearch`` (validation of the claims, then the depth-first search) and ``Picked``. It
follows d-r-a ``structured/internal/incubating/allocator_incubating.go`` (and ``stable`` where the
feature gates select it; v0.36.3) step by step, because which device is tried when decides both
the result and which error surfaces first:

* up front, claim by claim and request by request: sub-requests need DRAPrioritizedList, capacity
  requests DRAConsumableCapacity (not checked by ``stable``), ``adminAccess`` (even false)
  DRAAdminAccess, the class must exist; ``allocationMode: All`` takes its device set now (every
  selectable device of the node that fits the capacity request against committed usage; an
  incomplete or invalid pool is an error); more than 32 devices per claim (counting the smallest
  sub-request) is an error; ``distinctAttribute`` is an error with ``stable``;
* the search: claims in order, requests in order, sub-requests in order until one works; devices
  of complete, valid pools in candidate ``order``, a request combining devices (never revisiting
  one before the last picked); the result-size limit prunes like upstream's
  ``errAllocationResultMaxSizeExceeded``;
* one candidate: in use (or, with admin access, used by the same claim) -> skip; class then
  request selectors (a CEL compile or runtime error fails the allocation), per-device node
  selection; capacity; then counters (skipped for a device already shared), taints (with
  DRADeviceTaints), constraints (a violation while taking "All" devices is an error), capacity
  again; devices with ``allowMultipleAllocations`` (with DRAConsumableCapacity) are not marked in
  use and record their consumed capacity.
Nothing is found and some pool is invalid: node-local error "invalid resource pools were
encountered". The search also stops after ``max_steps`` steps (node-local, the scheduler's filter
timeout); a subtree that can only fail without evaluating anything new is not walked
(``_cannot_fill``), so steps count the work upstream's search can not skip. This module must never
build allocation results or pick nodes.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from dra_driver.sim.capacity import Amount, Demand, DemandCache
from dra_driver.sim.checks import DeviceFilter
from dra_driver.sim.constraints import Tracker, make_tracker
from dra_driver.sim.errors import AllocatorError, CelError
from dra_driver.sim.gates import FeatureGates
from dra_driver.sim.inventory import DeviceEntry, DeviceKey, Pool
from dra_driver.sim.nodes import Node, NodeSelectorError, node_matches
from dra_driver.sim.requests import Alternative, ClaimSpec, DeviceClassInfo
from dra_driver.sim.taints import blocking_taint
from dra_driver.sim.usage import Usage

MAX_RESULTS = 32
"""``AllocationResultsMaxSize``: devices per claim."""

RequestKey = tuple[int, int, int]
"""(claim index, request index, sub-request index)."""


@dataclass
class Picked:
    """One device picked for one request of one claim; ``consumed`` only for shared devices."""

    claim_index: int
    alternative: Alternative
    device: DeviceEntry
    consumed: dict[str, Amount] | None
    shared: bool


@dataclass
class _Request:
    alternative: Alternative
    device_class: DeviceClassInfo
    count: int
    all_devices: list[DeviceEntry] | None = None
    selected: int = 0


class _MaxSize(Exception):
    """More than ``MAX_RESULTS`` devices for one claim down this branch (upstream's sentinel error)."""


class NodeSearch:
    """One attempt to allocate ``claims`` together on ``node`` from the ``pools`` it sees."""

    def __init__(
        self,
        claims: Sequence[ClaimSpec],
        pools: Sequence[Pool],
        *,
        node: Node,
        order: Sequence[DeviceEntry],
        usage: Usage,
        device_filter: DeviceFilter,
        gates: FeatureGates,
        max_steps: int,
        demands: DemandCache | None = None,
    ) -> None:
        self.claims = claims
        self.demands = demands if demands is not None else DemandCache()
        self.pools = pools
        self.node = node
        self.order = list(order)
        self.usage = usage
        self.filter = device_filter
        self.gates = gates
        self.stable = gates.channel == "stable"
        self._binding_gate = gates.binding_conditions  # read once: the gates are fixed for a search
        self._consumable_gate = gates.consumable_capacity
        self._partitionable_gate = gates.partitionable_devices
        self._taints_gate = gates.device_taints
        self.max_steps = max_steps
        self.steps = 0
        self.notes: list[str] = []
        self.picked: list[list[Picked]] = [[] for _ in claims]
        self._requests: dict[RequestKey, _Request] = {}
        self._trackers: list[list[Tracker]] = [[] for _ in claims]
        self._matches: dict[tuple[DeviceKey, RequestKey], bool] = {}
        self._allocating: dict[DeviceKey, set[int]] = {}
        self._capacity: dict[DeviceKey, dict[str, Decimal]] = {}
        self._pool_of = {device.key: pool for pool in pools for device in pool.devices}
        self._available: dict[str, dict[str, dict[str, Decimal]]] = {}
        self._consumed: dict[str, dict[str, dict[str, Decimal]]] = {}
        self._demand: dict[tuple[int, int], Demand] = {}
        """(id(device), id(alternative)) → its ``Demand`` (both live as long as the search)."""
        self._ruled_out: dict[RequestKey, list[bool]] = {}
        # Candidates whose selectors passed once for the request (``_cannot_fill``).
        self._seen: dict[RequestKey, list[bool]] = {}
        """Per request: the candidates (by position in ``order``) already found unselectable or
        refused by the capacity policy, which nothing during the search changes (see ``_one``)."""

    # -- the chosen alternative of each request, for results ---------------------------------------

    def chosen(self, claim_index: int) -> dict[int, Alternative]:
        """Request index → the alternative (request or sub-request) the solution uses."""
        chosen = {}
        for ri in range(len(self.claims[claim_index].requests)):
            sub = self._requests[(claim_index, ri, 0)].selected
            chosen[ri] = self._requests[(claim_index, ri, sub)].alternative
        return chosen

    def run(self) -> bool:
        """Validate and search; on success ``picked`` holds the devices per claim.

        Raises ``AllocatorError`` where kube-scheduler's allocator returns an error.
        """
        self._validate()
        try:
            done = self._one(0, 0, 0, 0, sub_mode=False, start=0)
        except _MaxSize:
            raise AllocatorError("allocation max size exceeded") from None
        if not done:
            if any(pool.invalid is not None for pool in self.pools):
                raise AllocatorError("invalid resource pools were encountered", node_local=True)
            return False
        return True

    # -- validation (upstream: the loop before allocateOne and validateDeviceRequest) ---------------

    def _validate(self) -> None:
        for ci, claim in enumerate(self.claims):
            minimum = 0
            for ri, request in enumerate(claim.requests):
                subs = request.alternatives[0].sub is not None
                if subs and not self.gates.prioritized_list:
                    raise AllocatorError(
                        f"claim {claim.key}, request {request.name}: has subrequests, but the "
                        "DRAPrioritizedList feature is disabled"
                    )
                if not self.stable and not self.gates.consumable_capacity:
                    for alternative in request.alternatives:
                        if alternative.capacity_set:
                            kind, name = (
                                ("subrequest", alternative.sub) if subs else ("request", request.name)
                            )
                            raise AllocatorError(
                                f"claim {claim.key}, {kind} {name}: has capacity requests, but the "
                                "DRAConsumableCapacity feature is disabled"
                            )
                counts = []
                for si, alternative in enumerate(request.alternatives):
                    data = self._validate_request(claim, (ci, ri, si), alternative)
                    self._requests[(ci, ri, si)] = data
                    counts.append(data.count)
                minimum += min(counts)
            if minimum > MAX_RESULTS:
                raise AllocatorError(
                    f"claim {claim.key}: number of requested devices {minimum} exceeds the claim limit of "
                    f"{MAX_RESULTS}"
                )
            for index, constraint in enumerate(claim.constraints):
                if constraint.kind == "distinctAttribute" and self.stable:
                    raise AllocatorError(
                        f"claim {claim.key}, constraint #{index}: empty constraint "
                        "(unsupported constraint type?)"
                    )
                self._trackers[ci].append(make_tracker(constraint))

    def _validate_request(self, claim: ClaimSpec, key: RequestKey, alternative: Alternative) -> _Request:
        name = alternative.sub or alternative.request
        if alternative.admin_access_set and not self.gates.admin_access:
            raise AllocatorError(
                f"claim {claim.key}, request {name}: admin access is requested, but the feature is disabled"
            )
        device_class = self.filter.classes.get(alternative.class_name)
        if device_class is None:
            raise AllocatorError(
                f"claim {claim.key}, request {name}: could not retrieve device class "
                f"{alternative.class_name}: "
                f'deviceclasses.resource.k8s.io "{alternative.class_name}" not found'
            )
        data = _Request(alternative, device_class, alternative.count)
        if not alternative.all_devices:
            return data
        data.all_devices = []
        for pool in self.pools:
            if pool.incomplete:
                raise AllocatorError(
                    f"claim {claim.key}, request {name}: asks for all devices, but resource pool "
                    f"{pool.label} "
                    "is currently being updated"
                )
            if pool.invalid is not None:
                raise AllocatorError(
                    f"claim {claim.key}, request {name}: asks for all devices, but resource pool "
                    f"{pool.label} "
                    "is currently invalid"
                )
            for device in pool.devices:
                if not self._selectable(key, data, device):
                    continue
                if self.gates.consumable_capacity and not self._fits(alternative, device):
                    continue
                data.all_devices.append(device)
        data.count = len(data.all_devices)
        return data

    # -- the search (upstream: allocateOne) ---------------------------------------------------------

    def _one(self, ci: int, ri: int, si: int, di: int, *, sub_mode: bool, start: int) -> bool:
        self.steps += 1
        if self.steps > self.max_steps:
            raise AllocatorError(
                f"timed out trying to allocate devices (the simulator stopped after {self.max_steps} "
                "search steps)",
                node_local=True,
            )
        if ci >= len(self.claims):
            return True
        claim = self.claims[ci]
        if ri >= len(claim.requests):
            try:
                return self._one(ci + 1, 0, 0, 0, sub_mode=False, start=0)
            except _MaxSize:
                return False
        data = self._requests[(ci, ri, si)]
        if not sub_mode and data.alternative.sub is not None:
            all_exceeded = True
            sub = 0
            while (ci, ri, sub) in self._requests:
                try:
                    done = self._one(ci, ri, sub, di, sub_mode=True, start=0)
                except _MaxSize:
                    sub += 1
                    continue
                all_exceeded = False
                if done:
                    self._requests[(ci, ri, 0)].selected = sub
                    return True
                sub += 1
            if all_exceeded:
                raise _MaxSize
            return False
        alternative = data.alternative
        if alternative.all_devices and not data.all_devices:
            return False
        if di >= data.count:
            return self._one(ci, ri + 1, 0, 0, sub_mode=False, start=0)
        if len(self.picked[ci]) + data.count - di > MAX_RESULTS:
            raise _MaxSize
        if data.all_devices is not None:
            undo = self._allocate_device(ci, data, data.all_devices[di], must=True)
            if undo is None:
                return False
            try:
                done = self._one(ci, ri, si, di + 1, sub_mode=sub_mode, start=0)
            except BaseException:
                undo()
                raise
            if not done:
                undo()
            return done
        key: RequestKey = (ci, ri, si)
        # A candidate once unselectable, or refused by its capacity policy, stays so for this
        # request: skipping it at once gives what the checks below would (they have no side effects,
        # and the first _selectable call, which may raise, happens where it always did).
        ruled_out = self._ruled_out.get(key)
        if ruled_out is None:
            ruled_out = self._ruled_out[key] = [False] * len(self.order)
            self._seen[key] = [False] * len(self.order)
        seen = self._seen[key]
        needed = data.count - di
        if needed > 1 and not alternative.admin_access and self._cannot_fill(start, needed, ruled_out, seen):
            return False
        for index in range(start, len(self.order)):
            if ruled_out[index]:
                continue
            device = self.order[index]
            if alternative.admin_access:
                if ci in self._allocating.get(device.key, ()):
                    continue
            elif self._in_use(device.key):
                continue
            if not self._selectable(key, data, device):
                ruled_out[index] = True
                continue
            seen[index] = True
            if self._consumable_gate:
                demand = self._demand_of(alternative, device)
                if not demand.fits(self._in_flight(device.key)):
                    ruled_out[index] = demand.refused and demand.exact
                    continue
            undo = self._allocate_device(ci, data, device, must=False)
            if undo is None:
                continue
            try:
                done = self._one(ci, ri, si, di + 1, sub_mode=sub_mode, start=index + 1)
            except BaseException:
                undo()
                raise
            if done:
                return True
            undo()
        return False

    def _cannot_fill(self, start: int, needed: int, ruled_out: list[bool], seen: list[bool]) -> bool:
        """Whether the loop over candidates ``start..`` can only fail: fewer than ``needed`` of them
        are neither ruled out nor in use, and each of those passed the request's selectors before.

        Then upstream's search of this subtree visits no device for the first time (so no selector
        can raise a new CEL error there), and every path in it runs out of devices before the
        request is complete (devices only get used up and capacity only consumed further down), so
        it ends in the same ``False``. Skipping it changes nothing but the step count: a request
        for more devices than a node has no longer walks every subset of that node's devices.
        """
        eligible = 0
        for index in range(start, len(self.order)):
            if ruled_out[index] or self._in_use(self.order[index].key):
                continue
            if not seen[index]:
                return False
            eligible += 1
            if eligible >= needed:
                return False
        return True

    # -- one candidate --------------------------------------------------------------------------

    def _in_use(self, key: DeviceKey) -> bool:
        return key in self.usage.exclusive or bool(self._allocating.get(key))

    def _selectable(self, key: RequestKey, data: _Request, device: DeviceEntry) -> bool:
        """Class and request selectors and per-device node selection (upstream ``isSelectable``)."""
        if not self._binding_gate and device.binding_conditions:
            return False
        cache_key = (device.key, key)
        found = self._matches.get(cache_key)
        if found is not None:
            return found
        for from_class, expressions in (
            (True, data.device_class.selectors),
            (False, data.alternative.selectors),
        ):
            for index, expression in enumerate(expressions):
                try:
                    match = self.filter.match(expression, device)
                except CelError as exc:
                    source = self._selector_source(key, data, from_class)
                    raise AllocatorError(
                        f"{source}: selector #{index}: CEL compile error: {exc.reason}"
                    ) from None
                if match.error is not None:
                    source = self._selector_source(key, data, from_class)
                    raise AllocatorError(f"{source}: selector #{index}: CEL runtime error: {match.error}")
                if not match.matched:
                    self._matches[cache_key] = False
                    return False
        if device.slice.per_device:
            try:
                matches = node_matches(self.node, device.node_name, device.all_nodes, device.node_selector)
            except NodeSelectorError as exc:
                raise AllocatorError(f"failed to parse node selector: {exc}") from None
            if not matches:
                self._matches[cache_key] = False
                return False
        self._matches[cache_key] = True
        return True

    def _selector_source(self, key: RequestKey, data: _Request, from_class: bool) -> str:
        """Where a failing selector comes from, in upstream's words (built only for an error)."""
        return f"class {data.device_class.name}" if from_class else f"claim {self.claims[key[0]].key}"

    def _in_flight(self, key: DeviceKey) -> Mapping[str, Decimal]:
        """Capacity held by allocated claims plus this search's shares of ``key``."""
        committed = self.usage.shared.get(key)
        pending = self._capacity.get(key)
        if not pending:
            return committed or {}
        total = dict(committed or {})
        for name, amount in pending.items():
            total[name] = total.get(name, Decimal(0)) + amount
        return total

    def _demand_of(self, alternative: Alternative, device: DeviceEntry) -> Demand:
        key = (id(device), id(alternative))
        found = self._demand.get(key)
        if found is None:
            found = self._demand[key] = self.demands.get(device, device.capacity, alternative.capacity)
        return found

    def _fits(self, alternative: Alternative, device: DeviceEntry) -> bool:
        """Upstream ``CmpRequestOverCapacity`` (policy and remaining capacity)."""
        return self._demand_of(alternative, device).fits(self._in_flight(device.key))

    def _allocate_device(
        self, ci: int, data: _Request, device: DeviceEntry, *, must: bool
    ) -> Callable[[], None] | None:
        """Upstream ``allocateDevice``: take ``device`` (returns how to give it back) or None."""
        alternative = data.alternative
        key = device.key
        multiple = self._consumable_gate and device.allow_multiple
        if not multiple and alternative.admin_access and ci in self._allocating.get(key, ()):
            return None
        if not alternative.admin_access and self._in_use(key):
            return None
        if not self._partitionable_gate and device.consumes:
            return None
        skip_counters = multiple and (key in self.usage.shared or key in self._capacity)
        counters = False
        if not skip_counters and device.consumes:
            if not self._take_counters(device):
                return None
            counters = True
        request, sub = alternative.request, alternative.sub or ""
        added: list[Tracker] = []

        def rollback() -> None:
            for tracker in reversed(added):
                tracker.remove(request, sub, device)
            if counters:
                self._give_back_counters(device)

        if self._taints_gate and blocking_taint(device.taints, alternative.tolerations) is not None:
            rollback()
            return None
        for tracker in self._trackers[ci]:
            if not tracker.add(request, sub, device):
                rollback()
                if must:
                    raise AllocatorError(
                        f"claim {self.claims[ci].key}, request {alternative.sub or alternative.request}: "
                        "cannot "
                        f"add device {'/'.join(key)} because a claim constraint would not be satisfied"
                    )
                return None
            added.append(tracker)
        if not multiple:
            self._allocating.setdefault(key, set()).add(ci)
        consumed: dict[str, Amount] | None = None
        existed = key in self._capacity
        if self._consumable_gate:
            if not self._fits(alternative, device):
                if not multiple:
                    self._allocating[key].discard(ci)
                rollback()
                return None
            if multiple:
                consumed = self._demand_of(alternative, device).taken()
                pending = self._capacity.setdefault(key, {})
                for name, amount in consumed.items():
                    pending[name] = pending.get(name, Decimal(0)) + amount.value
        picked = Picked(ci, alternative, device, consumed, multiple)
        self.picked[ci].append(picked)
        size = len(self.picked[ci])

        def undo() -> None:
            del self.picked[ci][size - 1 :]
            if consumed is not None:
                pending = self._capacity[key]
                for name, amount in consumed.items():
                    pending[name] -= amount.value
                if all(value == 0 for value in pending.values()):
                    if existed:
                        pending.clear()
                    else:
                        del self._capacity[key]
            if not multiple:
                self._allocating[key].discard(ci)
            rollback()

        return undo

    # -- counters (upstream checkAvailableCounters; bookkeeping is keyed by pool name) --------------

    def _take_counters(self, device: DeviceEntry) -> bool:
        pool = self._pool_of[device.key]
        available = self._available.get(pool.name)
        if available is None:
            available = {name: dict(counters) for name, counters in pool.counter_sets.items()}
            for other in [*pool.devices, *pool.other_devices]:
                if not self.usage.is_allocated(other.key):
                    continue
                for set_name, counters in other.consumes:
                    left = available.get(set_name)
                    if left is None:
                        continue
                    for counter, amount in counters.items():
                        if counter in left:
                            left[counter] -= amount
            self._available[pool.name] = available
        consumed = self._consumed.setdefault(pool.name, {})
        for set_name, counters in device.consumes:
            taken = consumed.setdefault(set_name, {})
            for counter, amount in counters.items():
                taken[counter] = taken.get(counter, Decimal(0)) + amount
        for set_name, counters in available.items():
            taken = consumed.get(set_name, {})
            for counter, remaining in counters.items():
                if remaining < taken.get(counter, Decimal(0)):
                    self._give_back_counters(device)
                    return False
        return True

    def _give_back_counters(self, device: DeviceEntry) -> None:
        consumed = self._consumed[self._pool_of[device.key].name]
        for set_name, counters in device.consumes:
            taken = consumed.setdefault(set_name, {})
            for counter, amount in counters.items():
                taken[counter] = taken.get(counter, Decimal(0)) - amount
