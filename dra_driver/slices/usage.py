"""Placement policy (DESIGN section 8): how used each card and node is, and the orders that follow.

The one definition of card use and node use that the node plugin's card order, the extender's
node scores, ``hdra simulate --policy``, ``hdra top`` and the controller's metrics all use.
Owns: ``SliceIndex`` (published device name → card and capacities), ``CardUsage``, ``NodeUsage``,
the pure functions that compute them, ``order_by_use`` (the card order of a policy) and
``node_score`` (the extender's 0..10 score of a policy). Everything here works on JSON dicts in API
shape, as ``model_dump(by_alias=True, exclude_none=True, mode="json")`` gives them (the same shape
the scheduler extender receives). It must never call an API server.

Orders (documented decision): ``binpack`` puts the most-used card first, ``spread`` the least-used
first, ``none`` keeps the published (card index) order; equal scores keep that order too, so an
order only changes when usage really changes. Nodes: ``binpack`` scores ``round(10 u)``,
``spread`` ``10 - round(10 u)``; the simulator tries nodes by that score, then by name.

What one allocation result takes from its card (the numbers the scheduler itself accounted):

* a device with ``allowMultipleAllocations`` (capacity mode): its ``consumedCapacity``; a capacity
  the result does not list counts with the request policy's default, or the capacity's whole
  value when it has no policy (what the allocator consumes for an unrequested capacity);
* any other device (partitions, replicas, exclusive, the partitions-mode whole card): the
  device's own published capacity, so a whole-card device takes the whole card;
* an ``adminAccess`` result takes nothing (the allocator does not count it either).

A card's totals are those of the device that is the card itself (no ``parentUUID``: the capacity
and exclusive device, the partitions-mode whole card); in replicas mode, where only children are
published, the sum of the replicas. Only the newest ``pool.generation`` of each pool counts, as
in the allocator.

Usage scores (documented contract, both in [0, 1]):

* card: ``max(memory fraction, cores fraction)`` — the scarcer dimension says how full a card is;
* node: allocated memory / total memory of the counted drivers' cards on the node.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Literal, TypeVar, get_args

from dra_driver.kube.quantity import parse_quantity
from dra_driver.rules import CORES, MEMORY

PARENT_UUID = "parentUUID"
UUID = "uuid"

JsonDict = dict[str, Any]
DeviceKey = tuple[str, str, str]
"""(driver, pool, device name): how an allocation result names a device."""


@dataclass(frozen=True)
class AccountedDevice:
    """One device of a slice, reduced to what accounting needs (capacities as integers)."""

    driver: str
    pool: str
    name: str
    card: str
    node: str | None
    is_card: bool
    shared: bool
    memory: int
    cores: int
    memory_default: int
    cores_default: int


@dataclass(frozen=True)
class CardCapacity:
    """One physical card as published: where it is and what it has."""

    uuid: str
    driver: str
    pool: str
    node: str | None
    memory_bytes: int
    cores: int
    name: str = ""
    """The card's device name (``gpu-3``), as demo and simulate show it; empty when unknown."""


@dataclass(frozen=True)
class CardUsage:
    """What is allocated on one card. Fractions are clamped to [0, 1]."""

    card: CardCapacity
    memory_bytes: int = 0
    cores: int = 0
    allocations: int = 0

    @property
    def memory_fraction(self) -> float:
        return _fraction(self.memory_bytes, self.card.memory_bytes)

    @property
    def cores_fraction(self) -> float:
        return _fraction(self.cores, self.card.cores)

    @property
    def score(self) -> float:
        """The card's usage score: the larger of its memory and cores fractions."""
        return max(self.memory_fraction, self.cores_fraction)


@dataclass(frozen=True)
class NodeUsage:
    """Allocated and total memory of the counted cards on one node."""

    node: str
    memory_bytes: int
    memory_total: int
    cards: int

    @property
    def score(self) -> float:
        """The node's usage score: allocated memory / total memory (0 for a node without memory)."""
        return _fraction(self.memory_bytes, self.memory_total)


def _fraction(part: int, whole: int) -> float:
    if whole <= 0:
        return 0.0
    return min(1.0, max(0.0, part / whole))


def _quantity(value: Any, where: str) -> int:
    try:
        return _integer(str(value))
    except ValueError as exc:
        raise ValueError(f"{where}: {exc}") from None


@lru_cache(maxsize=4096)
def _integer(text: str) -> int:
    """``int(parse_quantity(text))``, memoised: accounting sees the same few texts over and over."""
    return int(parse_quantity(text))


def _dict(value: Any) -> JsonDict:
    return value if isinstance(value, dict) else {}


def _list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def _attribute(attributes: JsonDict, driver: str, key: str) -> str | None:
    """A string attribute by its short or driver-qualified name."""
    for name in (key, f"{driver}/{key}"):
        value = _dict(attributes.get(name)).get("string")
        if isinstance(value, str) and value:
            return value
    return None


class SliceIndex:
    """The published devices and cards of the slices given, for the drivers (and pool) asked for."""

    def __init__(self, devices: Iterable[AccountedDevice]) -> None:
        self.devices: dict[DeviceKey, AccountedDevice] = {(d.driver, d.pool, d.name): d for d in devices}
        self.cards: dict[str, CardCapacity] = _cards(self.devices.values())

    @classmethod
    def from_slices(
        cls, slices: Iterable[JsonDict], *, drivers: Collection[str] | None = None, pool: str | None = None
    ) -> SliceIndex:
        """``drivers`` None counts every driver; ``pool`` None every pool. Old generations are skipped."""
        chosen = [
            spec
            for spec in (_dict(s.get("spec")) for s in slices)
            if (drivers is None or spec.get("driver") in drivers)
            and (pool is None or _dict(spec.get("pool")).get("name") == pool)
        ]
        newest: dict[tuple[str, str], int] = {}
        for spec in chosen:
            key = (str(spec.get("driver")), str(_dict(spec.get("pool")).get("name")))
            newest[key] = max(newest.get(key, 0), int(_dict(spec.get("pool")).get("generation", 0)))
        devices: list[AccountedDevice] = []
        for spec in chosen:
            driver, pool_spec = str(spec.get("driver")), _dict(spec.get("pool"))
            pool_name = str(pool_spec.get("name"))
            if int(pool_spec.get("generation", 0)) != newest[(driver, pool_name)]:
                continue
            node = spec.get("nodeName") if isinstance(spec.get("nodeName"), str) else None
            for device in _list(spec.get("devices")):
                published = accounted_device(_dict(device), driver, pool_name, node)
                if published is not None:
                    devices.append(published)
        return cls(devices)


def accounted_device(device: JsonDict, driver: str, pool: str, node: str | None) -> AccountedDevice | None:
    """The accounting view of one slice device; None for a device without a card uuid (not ours)."""
    attributes = _dict(device.get("attributes"))
    name = device.get("name")
    uuid = _attribute(attributes, driver, UUID)
    if not isinstance(name, str) or uuid is None:
        return None
    parent = _attribute(attributes, driver, PARENT_UUID)
    capacity = _dict(device.get("capacity"))
    where = f"slice device {driver}/{pool}/{name} capacity"
    values: dict[str, int] = {}
    defaults: dict[str, int] = {}
    for key in (MEMORY, CORES):
        entry = _dict(capacity.get(key))
        values[key] = _quantity(entry["value"], f"{where} {key}") if "value" in entry else 0
        default = _dict(entry.get("requestPolicy")).get("default")
        defaults[key] = _quantity(default, f"{where} {key} default") if default is not None else values[key]
    return AccountedDevice(
        driver=driver,
        pool=pool,
        name=name,
        card=parent or uuid,
        node=node,
        is_card=parent is None,
        shared=bool(device.get("allowMultipleAllocations")),
        memory=values[MEMORY],
        cores=values[CORES],
        memory_default=defaults[MEMORY],
        cores_default=defaults[CORES],
    )


def _cards(devices: Iterable[AccountedDevice]) -> dict[str, CardCapacity]:
    """Per card uuid: the totals of the card device, or the sum of its children without one."""
    whole: dict[str, AccountedDevice] = {}
    children: dict[str, list[AccountedDevice]] = {}
    for device in devices:
        if device.is_card:
            whole[device.card] = device
        else:
            children.setdefault(device.card, []).append(device)
    cards: dict[str, CardCapacity] = {}
    for uuid in {*whole, *children}:
        card = whole.get(uuid)
        parts = children.get(uuid, [])
        first = card or parts[0]
        cards[uuid] = CardCapacity(
            uuid=uuid,
            driver=first.driver,
            pool=first.pool,
            node=first.node,
            memory_bytes=card.memory if card is not None else sum(p.memory for p in parts),
            cores=card.cores if card is not None else sum(p.cores for p in parts),
            name=card.name if card is not None else _card_name([p.name for p in parts]),
        )
    return cards


def _card_name(pieces: list[str]) -> str:
    """The card's name from its pieces' names (``gpu-0-r0``, ``gpu-0-r1`` → ``gpu-0``): pieces are
    named ``<card>-<suffix>`` (``slices.attributes.derived_name``), so the card is what they share
    up to the last hyphen."""
    shared = pieces[0] if pieces else ""
    for piece in pieces[1:]:
        length = 0
        while length < min(len(shared), len(piece)) and shared[length] == piece[length]:
            length += 1
        shared = shared[:length]
    return shared.rsplit("-", 1)[0] if "-" in shared else shared


def allocation_results(
    claim: JsonDict, *, drivers: Collection[str] | None = None, pool: str | None = None
) -> list[JsonDict]:
    """The allocation results of ``claim`` for ``drivers`` (None: all) and ``pool`` (None: all)."""
    results = _list(_dict(_dict(_dict(claim.get("status")).get("allocation")).get("devices")).get("results"))
    return [
        _dict(r)
        for r in results
        if (drivers is None or _dict(r).get("driver") in drivers)
        and (pool is None or _dict(r).get("pool") == pool)
    ]


def usage_from_results(index: SliceIndex, results: Iterable[JsonDict]) -> dict[str, CardUsage]:
    """Usage of every card in ``index`` (unused cards included) after ``results``.

    A result naming a device the index does not know (another driver, a stale name) is skipped.
    """
    return usage_from_uses(index, (use for r in results if (use := result_use(index, r)) is not None))


ResultUse = tuple[str, int, int]
"""What one allocation result takes: (card uuid, memory bytes, cores)."""


def result_use(index: SliceIndex, result: JsonDict) -> ResultUse | None:
    """What ``result`` takes of its card; None for admin access or a device ``index`` does not know."""
    if result.get("adminAccess") is True:
        return None
    key = (str(result.get("driver")), str(result.get("pool")), str(result.get("device")))
    device = index.devices.get(key)
    if device is None or device.card not in index.cards:
        return None
    used_memory, used_cores = _consumed(device, result)
    return device.card, used_memory, used_cores


def usage_from_uses(index: SliceIndex, uses: Iterable[ResultUse]) -> dict[str, CardUsage]:
    """Usage of every card in ``index`` (unused cards included) from what results take (``result_use``)."""
    memory = dict.fromkeys(index.cards, 0)
    cores = dict.fromkeys(index.cards, 0)
    count = dict.fromkeys(index.cards, 0)
    for card_uuid, used_memory, used_cores in uses:
        memory[card_uuid] += used_memory
        cores[card_uuid] += used_cores
        count[card_uuid] += 1
    return {
        uuid: CardUsage(card=card, memory_bytes=memory[uuid], cores=cores[uuid], allocations=count[uuid])
        for uuid, card in index.cards.items()
    }


def _consumed(device: AccountedDevice, result: JsonDict) -> tuple[int, int]:
    if not device.shared:
        return device.memory, device.cores
    consumed = _dict(result.get("consumedCapacity"))
    where = f"allocation of {device.driver}/{device.pool}/{device.name} consumedCapacity"
    memory = consumed.get(MEMORY)
    cores = consumed.get(CORES)
    return (
        _quantity(memory, f"{where} {MEMORY}") if memory is not None else device.memory_default,
        _quantity(cores, f"{where} {CORES}") if cores is not None else device.cores_default,
    )


def card_usage(
    slices: Iterable[JsonDict],
    claims: Iterable[JsonDict],
    *,
    drivers: Collection[str] | None = None,
    pool: str | None = None,
) -> dict[str, CardUsage]:
    """Usage per card uuid of the cards published by ``drivers`` (in ``pool``), from ``claims``."""
    index = SliceIndex.from_slices(slices, drivers=drivers, pool=pool)
    results = [r for claim in claims for r in allocation_results(claim, drivers=drivers, pool=pool)]
    return usage_from_results(index, results)


def node_usage(cards: Iterable[CardUsage] | Mapping[str, CardUsage]) -> dict[str, NodeUsage]:
    """Per node name: the sum over its cards. Cards of slices without ``nodeName`` are left out."""
    values = cards.values() if isinstance(cards, Mapping) else cards
    allocated: dict[str, int] = {}
    total: dict[str, int] = {}
    count: dict[str, int] = {}
    for usage in values:
        node = usage.card.node
        if node is None:
            continue
        allocated[node] = allocated.get(node, 0) + min(usage.memory_bytes, usage.card.memory_bytes)
        total[node] = total.get(node, 0) + usage.card.memory_bytes
        count[node] = count.get(node, 0) + 1
    return {
        node: NodeUsage(node=node, memory_bytes=allocated[node], memory_total=total[node], cards=count[node])
        for node in total
    }


CardPolicy = Literal["binpack", "spread", "none"]
CARD_POLICIES: tuple[CardPolicy, ...] = get_args(CardPolicy)
NodePolicy = Literal["binpack", "spread"]
NODE_POLICIES: tuple[NodePolicy, ...] = get_args(NodePolicy)
MAX_NODE_SCORE = 10
"""``MaxExtenderPriority`` of k8s.io/kube-scheduler/extender/v1/types.go."""

T = TypeVar("T")


def check_card_policy(policy: str) -> CardPolicy:
    """``policy`` as a ``CardPolicy``; a ValueError naming the value and the choices otherwise."""
    for known in CARD_POLICIES:
        if policy == known:
            return known
    raise ValueError(f"unknown card policy {policy!r}; choose one of {', '.join(CARD_POLICIES)}")


def order_by_use(items: Sequence[T], score: Callable[[T], float], policy: str) -> list[T]:
    """``items`` (in published order) in the order ``policy`` prefers, by their card use ``score``."""
    chosen = check_card_policy(policy)
    indexed = list(enumerate(items))
    if chosen == "binpack":
        indexed.sort(key=lambda pair: (-score(pair[1]), pair[0]))
    elif chosen == "spread":
        indexed.sort(key=lambda pair: (score(pair[1]), pair[0]))
    return [item for _, item in indexed]


def node_score(usage: float, policy: str) -> int:
    """The extender score (0..10) of a node with usage score ``usage`` in [0, 1]."""
    clamped = min(1.0, max(0.0, usage))
    binpack = math.floor(MAX_NODE_SCORE * clamped + 0.5)
    if policy == "binpack":
        return binpack
    if policy == "spread":
        return MAX_NODE_SCORE - binpack
    raise ValueError(f"unknown node policy {policy!r}; choose one of {', '.join(NODE_POLICIES)}")
