"""The depth-first search that allocates a pod's claims on one node (d-r-a structured allocator).

Owns: ``NodeSearch`` and ``Picked``. Claims are allocated one after the other, each request in
order, each device of a request in candidate order; a ``firstAvailable`` request tries its
sub-requests in order. Every tentatively picked device updates the in-search state (devices
marked in use, capacity being consumed, counters taken, constraint trackers) and is undone when
the search backtracks, so the first complete solution in candidate order wins, exactly like the
upstream allocator. Within one request devices are combined, not permuted (a request never
retries devices before the last one it picked).

Deliberate differences from kube-scheduler, for a simulator that explains instead of aborting:
selector runtime errors rule the device out (see ``cel_env``); ``adminAccess`` picks ignore
usage, capacity already consumed and counters, and consume nothing (the policy limits still apply);
the search stops after ``max_steps`` device attempts (the scheduler has a 10 s filter timeout).
This module must never build allocation results or pick nodes.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal

from dra_driver.sim.capacity import Amount, check_capacity
from dra_driver.sim.checks import DeviceFilter
from dra_driver.sim.constraints import ConstraintTracker
from dra_driver.sim.counters import CounterLedger
from dra_driver.sim.inventory import DeviceEntry, DeviceKey, Pool
from dra_driver.sim.requests import Alternative, ClaimSpec
from dra_driver.sim.taints import blocking_taint
from dra_driver.sim.usage import Usage

MAX_RESULTS = 32
"""``AllocationResultsMaxSize``: devices per claim."""


@dataclass
class Picked:
    """One device picked for one request of one claim; ``consumed`` only for shareable devices."""

    claim_index: int
    alternative: Alternative
    device: DeviceEntry
    consumed: dict[str, Amount] | None
    counters_taken: bool


class SearchAborted(Exception):
    """The search used up its step budget."""


class NodeSearch:
    """One attempt to allocate ``claims`` together from the pools of one node."""

    def __init__(
        self,
        claims: Sequence[ClaimSpec],
        pools: Sequence[Pool],
        *,
        order: Sequence[DeviceEntry],
        usage: Usage,
        device_filter: DeviceFilter,
        max_steps: int,
    ) -> None:
        self.claims = claims
        self.problem_pools = [pool for pool in pools if pool.problem]
        broken = {(pool.driver, pool.name) for pool in self.problem_pools}
        self.order = [device for device in order if (device.driver, device.pool) not in broken]
        self.usage = usage
        self.filter = device_filter
        self.max_steps = max_steps
        self.steps = 0
        self.ledger = CounterLedger(pools, usage)
        self.trackers = [[ConstraintTracker(c) for c in claim.constraints] for claim in claims]
        self.picked: list[Picked] = []
        self.chosen: dict[tuple[int, int], Alternative] = {}
        self.notes: list[str] = []
        self._allocating: dict[DeviceKey, set[int]] = {}
        self._capacity: dict[DeviceKey, dict[str, Decimal]] = {}
        self._shares: dict[DeviceKey, int] = {}
        self._candidates: dict[tuple[int, int, int], list[DeviceEntry]] = {}

    def run(self) -> bool:
        """Search; on success ``picked`` and ``chosen`` hold the solution."""
        try:
            return self._claim(0)
        except SearchAborted:
            self.notes.append(f"search gave up after {self.max_steps} device attempts")
            return False

    # -- recursion ------------------------------------------------------------------------------

    def _claim(self, ci: int) -> bool:
        return ci == len(self.claims) or self._request(ci, 0)

    def _request(self, ci: int, ri: int) -> bool:
        claim = self.claims[ci]
        if ri == len(claim.requests):
            return self._claim(ci + 1)
        for ai, alternative in enumerate(claim.requests[ri].alternatives):
            self.chosen[(ci, ri)] = alternative
            if alternative.all_devices:
                if self._all(ci, ri, alternative):
                    return True
            elif self._pick((ci, ri, ai), alternative, alternative.count, 0):
                return True
        del self.chosen[(ci, ri)]
        return False

    def _pick(self, at: tuple[int, int, int], alternative: Alternative, remaining: int, start: int) -> bool:
        """Pick ``remaining`` more devices for alternative ``at`` = (claim, request, alternative)."""
        ci, ri, _ = at
        if remaining == 0:
            return self._request(ci, ri + 1)
        if self._results(ci) + remaining > MAX_RESULTS:
            return False
        candidates = self._candidates_for(at, alternative)
        for index in range(start, len(candidates)):
            picked = self.try_device(ci, alternative, candidates[index])
            if picked is None:
                continue
            if self._pick(at, alternative, remaining - 1, index + 1):
                return True
            self.undo(picked)
        return False

    def _all(self, ci: int, ri: int, alternative: Alternative) -> bool:
        if self.problem_pools:
            self.notes.append(
                f"claim {self.claims[ci].key} request {alternative.result_name} asks for all devices, but "
                + "; ".join(str(pool.problem) for pool in self.problem_pools)
            )
            return False
        devices = [
            device
            for device in self.order
            if self.filter.selectors(alternative, device) is None
            and check_capacity(device.capacity, alternative.capacity, self.in_use(device.key)).ok
        ]
        if not devices or self._results(ci) + len(devices) > MAX_RESULTS:
            return False
        taken: list[Picked] = []
        for device in devices:
            picked = None
            if blocking_taint(device.taints, alternative.tolerations) is None:
                picked = self.try_device(ci, alternative, device)
            if picked is None:
                break
            taken.append(picked)
        else:
            if self._request(ci, ri + 1):
                return True
        for picked in reversed(taken):
            self.undo(picked)
        return False

    def _candidates_for(self, at: tuple[int, int, int], alternative: Alternative) -> list[DeviceEntry]:
        found = self._candidates.get(at)
        if found is None:
            found = [device for device in self.order if self.filter.static(alternative, device) is None]
            self._candidates[at] = found
        return found

    def _results(self, ci: int) -> int:
        return sum(1 for picked in self.picked if picked.claim_index == ci)

    # -- one device -----------------------------------------------------------------------------

    def in_use(self, key: DeviceKey) -> Mapping[str, Decimal]:
        """Capacity consumed on ``key`` by allocated claims plus this search's picks."""
        committed = self.usage.shared.get(key)
        pending = self._capacity.get(key)
        if not pending:
            return committed or {}
        total = dict(committed or {})
        for name, amount in pending.items():
            total[name] = total.get(name, Decimal(0)) + amount
        return total

    def try_device(self, ci: int, alternative: Alternative, device: DeviceEntry) -> Picked | None:
        """Pick ``device`` for ``alternative`` if it is free, fits and keeps the constraints."""
        self.steps += 1
        if self.steps > self.max_steps:
            raise SearchAborted
        key = device.key
        admin = alternative.admin_access
        if admin:
            if not device.allow_multiple and ci in self._allocating.get(key, ()):
                return None
        elif key in self.usage.exclusive or self._allocating.get(key):
            return None
        verdict = check_capacity(device.capacity, alternative.capacity, {} if admin else self.in_use(key))
        if not verdict.ok:
            return None
        shared_already = key in self.usage.shared or self._shares.get(key, 0) > 0
        take_counters = not admin and bool(device.consumes) and not (device.allow_multiple and shared_already)
        if take_counters:
            if self.ledger.shortage(device) is not None:
                return None
            self.ledger.take(device)
        trackers = self.trackers[ci]
        for added, tracker in enumerate(trackers):
            if not tracker.add(alternative, device):
                for earlier in reversed(trackers[:added]):
                    earlier.remove(alternative)
                if take_counters:
                    self.ledger.give_back(device)
                return None
        if not device.allow_multiple:
            self._allocating.setdefault(key, set()).add(ci)
        consumed = verdict.consumed if device.allow_multiple else None
        if consumed is not None and not admin:
            pending = self._capacity.setdefault(key, {})
            for name, amount in consumed.items():
                pending[name] = pending.get(name, Decimal(0)) + amount.value
            self._shares[key] = self._shares.get(key, 0) + 1
        picked = Picked(ci, alternative, device, consumed, take_counters)
        self.picked.append(picked)
        return picked

    def undo(self, picked: Picked) -> None:
        """Reverse ``try_device`` for the most recent pick."""
        if not self.picked or self.picked[-1] is not picked:
            raise RuntimeError("undo must reverse the most recent pick first")
        self.picked.pop()
        key = picked.device.key
        if picked.consumed is not None and not picked.alternative.admin_access:
            pending = self._capacity[key]
            for name, amount in picked.consumed.items():
                pending[name] -= amount.value
            self._shares[key] -= 1
            if not self._shares[key]:
                del self._shares[key], self._capacity[key]
        if not picked.device.allow_multiple:
            self._allocating[key].discard(picked.claim_index)
            if not self._allocating[key]:
                del self._allocating[key]
        for tracker in reversed(self.trackers[picked.claim_index]):
            tracker.remove(picked.alternative)
        if picked.counters_taken:
            self.ledger.give_back(picked.device)
