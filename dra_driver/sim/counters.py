"""Shared counters (partitionable devices, KEP-4815): what a pool has left, and what a search takes.

Owns: ``available_counters`` (a pool's counter sets minus what allocated devices consume; each
allocated or shared device consumes its ``consumesCounters`` once) and ``CounterLedger`` (counters
taken by devices being allocated in one search, with undo). Counter sets may be published in any
slice of the pool. This module must never decide which devices are tried.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from dra_driver.rules import MEMORY
from dra_driver.sim.inventory import DeviceEntry, Pool
from dra_driver.sim.quantities import format_quantity
from dra_driver.sim.usage import Usage

CounterSets = dict[str, dict[str, Decimal]]


def available_counters(pool: Pool, usage: Usage) -> CounterSets:
    """Counters of ``pool`` not consumed by devices that allocated claims hold."""
    available = {name: dict(counters) for name, counters in pool.counter_sets.items()}
    for device in pool.devices:
        if usage.is_allocated(device.key):
            for set_name, counters in device.consumes:
                left = available.setdefault(set_name, {})
                for counter, amount in counters.items():
                    left[counter] = left.get(counter, Decimal(0)) - amount
    return available


@dataclass(frozen=True)
class CounterShortage:
    counter_set: str
    counter: str
    needed: Decimal
    left: Decimal
    total: Decimal

    def __str__(self) -> str:
        binary = self.counter == MEMORY
        needed, total = (
            format_quantity(self.needed, binary=binary),
            format_quantity(self.total, binary=binary),
        )
        left = format_quantity(max(self.left, Decimal(0)), binary=binary)
        return (
            f"counter set {self.counter_set!r} counter {self.counter!r} ran out: needs {needed}, "
            f"{left} of {total} left"
        )


class CounterLedger:
    """Counters available per pool (from committed usage) minus those taken during one search."""

    def __init__(self, pools: Iterable[Pool], usage: Usage) -> None:
        self._pools = {(pool.driver, pool.name): pool for pool in pools}
        self._left: dict[tuple[str, str], CounterSets] = {}
        self._usage = usage

    def _sets(self, device: DeviceEntry) -> CounterSets:
        pool_id = (device.driver, device.pool)
        if pool_id not in self._left:
            self._left[pool_id] = available_counters(self._pools[pool_id], self._usage)
        return self._left[pool_id]

    def shortage(self, device: DeviceEntry) -> CounterShortage | None:
        """The first counter ``device`` cannot get, or None when all fit."""
        sets = self._sets(device)
        pool = self._pools[(device.driver, device.pool)]
        for set_name, counters in device.consumes:
            for counter, amount in counters.items():
                left = sets.get(set_name, {}).get(counter, Decimal(0))
                if amount > left:
                    total = pool.counter_sets.get(set_name, {}).get(counter, Decimal(0))
                    return CounterShortage(set_name, counter, amount, left, total)
        return None

    def take(self, device: DeviceEntry) -> None:
        self._apply(device, -1)

    def give_back(self, device: DeviceEntry) -> None:
        self._apply(device, 1)

    def _apply(self, device: DeviceEntry, sign: int) -> None:
        sets = self._sets(device)
        for set_name, counters in device.consumes:
            left = sets.setdefault(set_name, {})
            for counter, amount in counters.items():
                left[counter] = left.get(counter, Decimal(0)) + sign * amount
