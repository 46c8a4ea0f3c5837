"""Card-level and node-level placement policy (DESIGN §8): binpack, spread, or plain first fit.

Owns: ``Policy``, ``CardUse``/``card_uses`` (how used each physical card is) and the two orderings.

The exact rule. A card is the set of a node's devices sharing the ``uuid`` attribute (partitions and
replicas keep their card's uuid; a device without one is its own card). Its ``used`` share is
``memory used / memory total``, where
* total = the ``memory`` counter of the card's counter set when its devices consume counters
  (partitions mode), else the sum of the ``memory`` capacities of its devices;
* used = for ``allowMultipleAllocations`` devices the aggregated consumed ``memory`` of their
  shares, for other devices the ``memory`` capacity of each allocated device;
* a card without a memory capacity counts ``1.0`` when any of its devices is allocated, else 0.
Ties are broken by the number of allocations on the card (more first for binpack, fewer first for
spread), then by the published order (slice name, then device order), which is also the first-fit
order without a policy.
Card-level: binpack tries the devices of the most-used cards first, spread the least-used first.
Node-level: a node's use is the mean ``used`` share of its cards; binpack tries the most-used node
first, spread the least-used; ties and no policy go by node name. Orders are computed from committed
usage before a pod is placed (the node plugin re-publishes its order the same way after changes),
not re-sorted while one pod's claims are being allocated.
This module must never allocate.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass, field
from decimal import Decimal

from dra_driver.rules import CORES, MEMORY
from dra_driver.sim.inventory import DeviceEntry, Inventory
from dra_driver.sim.usage import Usage


class Policy(enum.Enum):
    FIRST_FIT = "first-fit"
    BINPACK = "binpack"
    SPREAD = "spread"

    @classmethod
    def parse(cls, value: Policy | str | None) -> Policy:
        if value is None:
            return cls.FIRST_FIT
        if isinstance(value, Policy):
            return value
        try:
            return cls(value)
        except ValueError:
            raise ValueError(f"policy {value!r} is not one of binpack, spread, first-fit") from None


@dataclass
class CardUse:
    """One physical card on a node and what allocated claims hold of it."""

    node: str
    card: str
    product: str
    devices: list[DeviceEntry] = field(default_factory=list)
    memory_total: Decimal = Decimal(0)
    memory_used: Decimal = Decimal(0)
    cores_used: Decimal = Decimal(0)
    allocations: int = 0
    claims: set[str] = field(default_factory=set)

    @property
    def used(self) -> float:
        if self.memory_total > 0:
            return float(self.memory_used / self.memory_total)
        return 1.0 if self.allocations else 0.0


def _capacity(device: DeviceEntry, name: str) -> Decimal | None:
    entry = device.capacity.get(name) or device.capacity.get(f"{device.driver}/{name}")
    return entry.value.value if entry is not None else None


def _shared(usage: Usage, device: DeviceEntry, name: str) -> Decimal:
    consumed = usage.shared.get(device.key, {})
    return consumed.get(name, consumed.get(f"{device.driver}/{name}", Decimal(0)))


def card_uses(inventory: Inventory, usage: Usage, node: str) -> list[CardUse]:
    """The cards of ``node`` in published order, with their use."""
    cards: dict[str, CardUse] = {}
    counter_totals: dict[str, Decimal] = {}
    for pool in inventory.pools(node):
        for device in pool.devices:
            card_id = device.card_id()
            product = (device.attribute(f"{device.driver}/productName") or {}).get("string", "")
            card = cards.setdefault(card_id, CardUse(node, card_id, str(product)))
            card.devices.append(device)
            for set_name, _ in device.consumes:
                memory = pool.counter_sets.get(set_name, {}).get(MEMORY)
                if memory is not None:
                    counter_totals[card_id] = memory
            memory = _capacity(device, MEMORY)
            if not device.consumes and memory is not None:
                card.memory_total += memory
            if device.allow_multiple and device.key in usage.shared:
                card.memory_used += _shared(usage, device, MEMORY)
                card.cores_used += _shared(usage, device, CORES)
                card.allocations += len(usage.sharers.get(device.key, ()))
                card.claims.update(usage.sharers.get(device.key, ()))
            elif device.key in usage.exclusive:
                card.memory_used += memory or Decimal(0)
                card.cores_used += _capacity(device, CORES) or Decimal(0)
                card.allocations += 1
                card.claims.add(usage.exclusive[device.key])
    for card_id, total in counter_totals.items():
        cards[card_id].memory_total = total
    return list(cards.values())


def order_devices(cards: Sequence[CardUse], policy: Policy) -> list[DeviceEntry]:
    """The devices of ``cards`` in the order the allocator tries them under ``policy``."""
    indexed = list(enumerate(cards))
    if policy is Policy.BINPACK:
        indexed.sort(key=lambda item: (-item[1].used, -item[1].allocations, item[0]))
    elif policy is Policy.SPREAD:
        indexed.sort(key=lambda item: (item[1].used, item[1].allocations, item[0]))
    return [device for _, card in indexed for device in card.devices]


def node_use(cards: Sequence[CardUse]) -> float:
    return sum(card.used for card in cards) / len(cards) if cards else 0.0


def order_nodes(uses: dict[str, float], policy: Policy) -> list[str]:
    """Node names in the order pods are tried under ``policy``."""
    if policy is Policy.BINPACK:
        return sorted(uses, key=lambda node: (-uses[node], node))
    if policy is Policy.SPREAD:
        return sorted(uses, key=lambda node: (uses[node], node))
    return sorted(uses)
