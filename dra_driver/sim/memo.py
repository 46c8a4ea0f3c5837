"""What ``ClusterState`` reuses between pods, per node, and the one rule that makes it stale.

Owns: ``NodeMemo``. The rule: everything a node's allocation reads of committed usage is about
devices of the pools that give that node devices (those devices, the devices of the same pools on
other nodes that consume the same counters, the card use that orders them), so a node's
*generation* is the tuple of ``Usage.pool_versions`` of those pools (``inventory.pools(node)`` with
devices, in order; a pool the node sees only for its counter sets, e.g. another node's partitions,
gives it nothing to read). An entry stays valid while
its node's generation is the one it was made at; ``Usage.add``/``remove`` bump the versions, so a
commit, a release or a pod's already-allocated claims invalidate exactly the nodes whose pools they
touch. What does not depend on usage (slices, nodes, classes, feature gates) is not in the
generation: ``ClusterState`` makes a new ``NodeMemo`` whenever the inventory is rebuilt and calls
``forget_outcomes`` when classes change. Cached per node:

* the accounting index of its devices (``policy.node_index``: slices only) and its card uses and
  node use score (``policy.card_uses``/``node_use``), which order devices and nodes for binpack/spread;
* "these claims do not fit here": a search that returned unsatisfiable (never one that raised: its
  error names the claim) for a claim-set *shape* (the claims' ``spec.devices``, canonical JSON:
  nothing else of a claim reaches the search's decisions), a policy and a step limit;
* a ``Usage.snapshot`` of its devices, from which a pending pod's reasons are built when read
  (``Pending.reasons``), possibly after later commits.
This module must never allocate or decide a placement.
"""

from __future__ import annotations

import json
from bisect import bisect_left, insort
from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, TypeVar

from dra_driver.sim.errors import AllocatorError
from dra_driver.sim.inventory import Inventory
from dra_driver.sim.policy import (
    CardLayout,
    CardUse,
    Policy,
    card_layout,
    card_uses,
    node_index,
    node_rank,
    node_use,
)
from dra_driver.sim.usage import Usage
from dra_driver.slices.usage import ResultUse, SliceIndex

Generation = tuple[int, ...]
ShapeKey = tuple[Any, ...]
T = TypeVar("T")

MAX_SHAPES_PER_NODE = 256
"""Unsatisfiable shapes remembered per node (oldest dropped first): bounds memory for a long run."""


def shape_of(claims: Sequence[Mapping[str, Any]]) -> tuple[str, ...] | None:
    """The claims' ``spec.devices`` as canonical JSON (None when a claim is not plain JSON)."""
    try:
        return tuple(
            json.dumps((claim.get("spec") or {}).get("devices"), sort_keys=True, separators=(",", ":"))
            for claim in claims
        )
    except (TypeError, ValueError, AttributeError):
        return None


@dataclass
class _Order:
    """Every node's rank under one policy, kept sorted; ``seen``: how much of ``Usage.changes``
    the ranks reflect."""

    ranked: list[tuple[int, str]]
    ranks: dict[str, tuple[int, str]]
    seen: int


class NodeMemo:
    """Per-node caches over one inventory and one (mutable) usage; see the module docstring."""

    def __init__(self, inventory: Inventory, usage: Usage) -> None:
        self.inventory = inventory
        self.usage = usage
        self._pool_ids: dict[str, list[tuple[str, str]] | None] = {}
        self._indexes: dict[str, tuple[SliceIndex, CardLayout]] = {}
        self._result_uses: dict[str, dict[int, tuple[Mapping[str, Any], ResultUse | None]]] = {}
        self._cards: dict[str, tuple[Generation, list[CardUse], float]] = {}
        self._unsatisfiable: dict[str, dict[ShapeKey, Generation]] = {}
        self._snapshots: dict[str, tuple[Generation, Usage]] = {}
        self._derived: dict[tuple[str, Hashable], tuple[Generation, Any]] = {}
        self._orders: dict[Policy, _Order] = {}
        self._pool_nodes: dict[tuple[str, str], list[str]] | None = None

    def generation(self, node: str) -> Generation | None:
        """The usage versions of ``node``'s pools; None when its pools cannot be gathered."""
        if node in self._pool_ids:
            pool_ids = self._pool_ids[node]
        else:
            try:
                pool_ids = [(pool.driver, pool.name) for pool in self.inventory.pools(node) if pool.devices]
            except AllocatorError:
                pool_ids = None
            self._pool_ids[node] = pool_ids
        if pool_ids is None:
            return None
        versions = self.usage.pool_versions
        return tuple(versions.get(pool_id, 0) for pool_id in pool_ids)

    # -- card use (binpack/spread orders) ---------------------------------------------------------

    def _card_entry(self, node: str) -> tuple[list[CardUse], float]:
        generation = self.generation(node)
        found = self._cards.get(node)
        if found is not None and found[0] == generation:
            return found[1], found[2]
        if generation is None:
            cards: list[CardUse] = []
        else:
            static = self._indexes.get(node)
            if static is None:
                index = node_index(self.inventory, node)
                static = self._indexes[node] = (index, card_layout(self.inventory, node, index))
            seen = self._result_uses.setdefault(node, {})
            index, layout = static
            cards = card_uses(self.inventory, self.usage, node, index=index, layout=layout, seen=seen)
        use = node_use(cards)
        self._cards[node] = (generation or (), cards, use)
        return cards, use

    def card_uses(self, node: str) -> list[CardUse]:
        """``policy.card_uses`` of ``node`` (empty when its pools cannot be gathered)."""
        return self._card_entry(node)[0]

    def node_use(self, node: str) -> float:
        """``policy.node_use`` of the node's card uses."""
        return self._card_entry(node)[1]

    def per_generation(self, node: str, what: Hashable, compute: Callable[[], T]) -> T:
        """``compute()`` (something derived from ``node``'s pools and usage), made again only when
        the node's generation changed; not cached when the node's pools cannot be gathered."""
        generation = self.generation(node)
        found = self._derived.get((node, what))
        if found is not None and found[0] == generation:
            value: T = found[1]
            return value
        value = compute()
        if generation is not None:
            self._derived[(node, what)] = (generation, value)
        return value

    def node_order(self, policy: Policy) -> list[str]:
        """``policy.order_nodes`` of every node's use under binpack or spread, kept sorted between
        pods: only nodes whose pools changed since (``Usage.changes``) are ranked again."""
        order = self._orders.get(policy)
        changes = self.usage.changes
        if order is None:
            ranks = {node: node_rank(node, self.node_use(node), policy) for node in self.inventory.nodes}
            order = self._orders[policy] = _Order(sorted(ranks.values()), ranks, len(changes))
        elif order.seen < len(changes):
            pool_nodes = self._nodes_by_pool()
            dirty = {node for pool in changes[order.seen :] for node in pool_nodes.get(pool, ())}
            order.seen = len(changes)
            for node in dirty:
                old, new = order.ranks[node], node_rank(node, self.node_use(node), policy)
                if new != old:
                    del order.ranked[bisect_left(order.ranked, old)]
                    insort(order.ranked, new)
                    order.ranks[node] = new
        return [node for _, node in order.ranked]

    def _nodes_by_pool(self) -> dict[tuple[str, str], list[str]]:
        """(driver, pool) → the nodes whose generation includes it."""
        if self._pool_nodes is None:
            self._pool_nodes = {}
            for node in self.inventory.nodes:
                self.generation(node)  # fills _pool_ids
                for pool_id in self._pool_ids[node] or ():
                    self._pool_nodes.setdefault(pool_id, []).append(node)
        return self._pool_nodes

    # -- "does not fit here" ------------------------------------------------------------------------

    def known_unsatisfiable(self, node: str, shape: ShapeKey) -> bool:
        """Whether a search for ``shape`` on ``node`` was unsatisfiable at the node's generation."""
        generation = self.generation(node)
        return generation is not None and self._unsatisfiable.get(node, {}).get(shape) == generation

    def record_unsatisfiable(self, node: str, shape: ShapeKey) -> None:
        generation = self.generation(node)
        if generation is None:
            return
        shapes = self._unsatisfiable.setdefault(node, {})
        shapes.pop(shape, None)
        if len(shapes) >= MAX_SHAPES_PER_NODE:
            del shapes[next(iter(shapes))]
        shapes[shape] = generation

    def forget_outcomes(self) -> None:
        """Drop every remembered search outcome (what the search reads besides usage changed)."""
        self._unsatisfiable.clear()

    # -- diagnostics ----------------------------------------------------------------------------

    def snapshot(self, node: str) -> Usage:
        """What the devices of ``node``'s pools hold now (shared by every reader until they change)."""
        generation = self.generation(node)
        found = self._snapshots.get(node)
        if found is not None and found[0] == generation:
            return found[1]
        keys = [device.key for pool in self.inventory.pools(node) for device in pool.devices]
        taken = self.usage.snapshot(keys)
        if generation is not None:
            self._snapshots[node] = (generation, taken)
        return taken
