"""Card-level and node-level placement policy in the simulator (DESIGN §8): binpack, spread, first fit.

Owns: ``Policy``, ``CardUse``/``card_uses`` (the cards of a node with their use) and the two
orderings. The use itself is not defined here: it is ``dra_driver.slices.usage`` (a card is the
device with a ``uuid`` attribute and its partitions/replicas naming it as ``parentUUID``; its score
is the larger of its allocated memory and cores fractions; a node's score is allocated / total
memory of its cards), the same numbers the node plugin orders its cards by and the extender
scores nodes by. Devices that name no card (other drivers) are each their own card, never used.
Card-level: binpack tries the devices of the most-used cards first, spread the least-used first,
equal scores (and first fit) keep the published order. Node-level: nodes by the extender's score
of the policy (``node_score``), highest first, then by name; first fit by name. Orders are computed
from committed usage before a pod is placed, not re-sorted while its claims are being allocated.
This module must never allocate.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from dra_driver.sim.inventory import DeviceEntry, Inventory
from dra_driver.sim.usage import Usage
from dra_driver.slices.usage import (
    CardUsage,
    ResultUse,
    SliceIndex,
    accounted_device,
    node_score,
    node_usage,
    order_by_use,
    result_use,
    usage_from_uses,
)


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
    """One physical card on a node and what allocated claims hold of it (``slices.usage`` numbers)."""

    node: str
    card: str
    product: str
    devices: list[DeviceEntry] = field(default_factory=list)
    memory_total: Decimal = Decimal(0)
    memory_used: Decimal = Decimal(0)
    cores_used: Decimal = Decimal(0)
    allocations: int = 0
    claims: set[str] = field(default_factory=set)
    usage: CardUsage | None = None

    @property
    def used(self) -> float:
        """The card's use score in [0, 1] (``CardUsage.score``); 0 for a device that is no card."""
        return self.usage.score if self.usage is not None else 0.0


def node_index(inventory: Inventory, node: str) -> SliceIndex:
    """The accounting view (``slices.usage``) of ``node``'s devices: depends on the slices only."""
    accounted = []
    for pool in inventory.pools(node):
        for device in pool.devices:
            entry = accounted_device(dict(device.raw), device.driver, device.pool, node)
            if entry is not None:
                accounted.append(entry)
    return SliceIndex(accounted)


CardLayout = list[tuple[str, str, list[DeviceEntry]]]
"""(card id, product name, its devices in published order) per card, in published order."""


def card_layout(inventory: Inventory, node: str, index: SliceIndex) -> CardLayout:
    """Which devices of ``node`` make up which card (``index``: ``node_index``): slices only."""
    layout: dict[str, tuple[str, str, list[DeviceEntry]]] = {}
    for pool in inventory.pools(node):
        for device in pool.devices:
            entry = index.devices.get(device.key)
            card_id = entry.card if entry is not None else f"{device.pool}/{device.name}"
            if card_id not in layout:
                product = (device.attribute(f"{device.driver}/productName") or {}).get("string", "")
                layout[card_id] = (card_id, str(product), [])
            layout[card_id][2].append(device)
    return list(layout.values())


def card_uses(
    inventory: Inventory,
    usage: Usage,
    node: str,
    *,
    index: SliceIndex | None = None,
    layout: CardLayout | None = None,
    seen: dict[int, tuple[Mapping[str, Any], ResultUse | None]] | None = None,
) -> list[CardUse]:
    """The cards of ``node`` in published order, with their use (``index``: ``node_index`` and
    ``layout``: ``card_layout``, if known).

    Only results naming devices of the node's pools can name a device of ``index``, so only those
    are read (``Usage.pool_results``). ``seen`` remembers ``result_use`` per result object (results
    in usage are never changed; the entry holds the object, so its id is not reused meanwhile).
    """
    pools = inventory.pools(node)
    if index is None:
        index = node_index(inventory, node)
    if layout is None:
        layout = card_layout(inventory, node, index)
    pool_ids = [(pool.driver, pool.name) for pool in pools]
    seen = {} if seen is None else seen
    current: dict[int, tuple[Mapping[str, Any], ResultUse | None]] = {}
    uses: list[ResultUse] = []
    for result in usage.results_in(pool_ids):
        known = seen.get(id(result))
        if known is None or known[0] is not result:
            known = (result, result_use(index, dict(result)))
        current[id(result)] = known
        if known[1] is not None:
            uses.append(known[1])
    seen.clear()
    seen.update(current)  # only results still in usage are remembered
    used = usage_from_uses(index, uses)
    holders: dict[str, set[str]] = {}
    for key, result in usage.holders_in(pool_ids):
        found = index.devices.get(
            (str(result.get("driver")), str(result.get("pool")), str(result.get("device")))
        )
        if found is not None and not result.get("adminAccess"):
            holders.setdefault(found.card, set()).add(key)
    cards: list[CardUse] = []
    for card_id, product, devices in layout:
        card = CardUse(node, card_id, product, list(devices))
        card_usage = used.get(card_id)
        if card_usage is not None:
            card.usage = card_usage
            card.memory_total = Decimal(card_usage.card.memory_bytes)
            card.memory_used = Decimal(card_usage.memory_bytes)
            card.cores_used = Decimal(card_usage.cores)
            card.allocations = card_usage.allocations
            card.claims = holders.get(card_id, set())
        cards.append(card)
    return cards


def order_devices(cards: Sequence[CardUse], policy: Policy) -> list[DeviceEntry]:
    """The devices of ``cards`` in the order the allocator tries them under ``policy``."""
    name = "none" if policy is Policy.FIRST_FIT else policy.value
    return [device for card in order_by_use(cards, lambda c: c.used, name) for device in card.devices]


def node_use(cards: Sequence[CardUse]) -> float:
    """The node's use score (``NodeUsage.score``: allocated / total memory of its cards)."""
    nodes = node_usage([card.usage for card in cards if card.usage is not None])
    return next(iter(nodes.values())).score if nodes else 0.0


def order_nodes(uses: dict[str, float], policy: Policy) -> list[str]:
    """Node names in the order pods are tried under ``policy``: the extender's score, then the name."""
    if policy is Policy.FIRST_FIT:
        return sorted(uses)
    return sorted(uses, key=lambda node: node_rank(node, uses[node], policy))


def node_rank(node: str, use: float, policy: Policy) -> tuple[int, str]:
    """A node's sort key under binpack or spread (lower first): the extender's score, highest first,
    then the name."""
    return (-node_score(use, policy.value), node)
