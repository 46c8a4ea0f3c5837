"""The cluster as the scheduler sees it, and placing pods: ``ClusterState``, ``place_pod``, ``commit``.

Owns: ``ClusterState`` (ResourceSlices, DeviceClasses, namespace labels, allocated claims and the
usage they hold) and ``allocate_claim`` (one claim on one named node). A pod's claims are
allocated jointly on one node (one search over all of them). Nodes are tried in the order of the
node-level policy (``policy.py``); devices on a node in the card-level order of the same policy.
Claims that already have ``status.allocation`` hold usage and are never re-allocated; a pod with
such a claim can only go to that claim's node. Share IDs come from ``uuid_factory`` (default
uuid4; ``seed`` makes them reproducible). This module must never talk to an API server.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from dra_driver.sim.cel_env import CelEngine
from dra_driver.sim.checks import DeviceFilter, claim_problems
from dra_driver.sim.diagnose import summarize
from dra_driver.sim.errors import AllocationError
from dra_driver.sim.inventory import DeviceEntry, Inventory
from dra_driver.sim.placement import ClaimAllocation, Pending, Placement, claim_key
from dra_driver.sim.policy import CardUse, Policy, card_uses, node_use, order_devices, order_nodes
from dra_driver.sim.requests import (
    ClaimSpec,
    DeviceClassInfo,
    default_device_classes,
    parse_claim,
    parse_class,
)
from dra_driver.sim.results import build_allocation
from dra_driver.sim.search import NodeSearch
from dra_driver.sim.usage import Usage

DEFAULT_MAX_STEPS = 200_000


def seeded_uuids(seed: int) -> Callable[[], str]:
    """A reproducible uuid4 factory."""
    rng = random.Random(seed)  # noqa: S311 - share IDs need reproducibility, not secrecy
    return lambda: str(uuid.UUID(int=rng.getrandbits(128), version=4))


class ClusterState:
    """Slices, classes, namespace labels and allocated claims; places pods and records them."""

    def __init__(
        self,
        slices: Iterable[Mapping[str, Any]] = (),
        classes: Iterable[Mapping[str, Any]] | None = None,
        *,
        namespaces: Mapping[str, Mapping[str, str]] | None = None,
        claims: Iterable[Mapping[str, Any]] = (),
        uuid_factory: Callable[[], str] | None = None,
        seed: int | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> None:
        self.default_classes = classes is None
        self.classes: dict[str, DeviceClassInfo] = {}
        for obj in default_device_classes() if classes is None else classes:
            info = parse_class(obj)
            self.classes[info.name] = info
        self.namespaces: dict[str, dict[str, str]] = {k: dict(v) for k, v in (namespaces or {}).items()}
        self.engine = CelEngine()
        self.new_share_id = uuid_factory or (
            seeded_uuids(seed) if seed is not None else lambda: str(uuid.uuid4())
        )
        self.max_steps = max_steps
        self.usage = Usage()
        self._slices: list[Mapping[str, Any]] = list(slices)
        self._rebuild()
        self.add_claims(claims)

    # -- inputs ---------------------------------------------------------------------------------

    def _rebuild(self) -> None:
        self.inventory = Inventory(self._slices)
        self.filter = DeviceFilter(self.engine, self.classes)
        self._cards: dict[str, list[CardUse]] = {}

    def add_slices(self, slices: Iterable[Mapping[str, Any]]) -> None:
        """Add ResourceSlices (a newer generation of a pool supersedes the older one)."""
        self._slices.extend(slices)
        self._rebuild()

    def add_classes(self, classes: Iterable[Mapping[str, Any]]) -> None:
        """Add or replace DeviceClasses (the default classes stay unless replaced)."""
        for obj in classes:
            info = parse_class(obj)
            self.classes[info.name] = info
        self.filter = DeviceFilter(self.engine, self.classes)

    def set_namespace_labels(self, namespace: str, labels: Mapping[str, str]) -> None:
        self.namespaces[namespace] = dict(labels)

    def add_claims(self, claims: Iterable[Mapping[str, Any]]) -> None:
        """Record claims; those with ``status.allocation`` hold their devices from now on."""
        for claim in claims:
            allocation = (claim.get("status") or {}).get("allocation")
            if allocation:
                self.usage.add(claim_key(claim), allocation)
        self._cards.clear()

    def release(self, claim: Mapping[str, Any] | str) -> None:
        """Forget the allocation of a claim (dict or ``ns/name``), e.g. after it was deleted."""
        self.usage.remove(claim if isinstance(claim, str) else claim_key(claim))
        self._cards.clear()

    @property
    def nodes(self) -> list[str]:
        return self.inventory.nodes

    def card_uses(self, node: str | None = None) -> list[CardUse]:
        """Every card (of ``node``, or of all nodes) with memory, cores and claims it holds."""
        nodes = self.nodes if node is None else [node]
        result = []
        for name in nodes:
            if name not in self._cards:
                self._cards[name] = card_uses(self.inventory, self.usage, name)
            result.extend(self._cards[name])
        return result

    # -- placing --------------------------------------------------------------------------------

    def parse(self, claims: Iterable[Mapping[str, Any]]) -> list[ClaimSpec]:
        return [parse_claim(claim) for claim in claims]

    def device_order(self, node: str, policy: Policy) -> list[DeviceEntry]:
        if policy is Policy.FIRST_FIT:
            return self.inventory.devices(node)
        return order_devices(self.card_uses(node), policy)

    def node_order(self, policy: Policy) -> list[str]:
        if policy is Policy.FIRST_FIT:
            return self.nodes
        return order_nodes({node: node_use(self.card_uses(node)) for node in self.nodes}, policy)

    def place_pod(
        self,
        claims: Sequence[Mapping[str, Any]],
        *,
        policy: Policy | str | None = None,
        pod: Mapping[str, Any] | None = None,
        nodes: Sequence[str] | None = None,
    ) -> Placement | Pending:
        """Find a node where all of ``claims`` fit together; nothing changes until ``commit``.

        ``nodes`` restricts the candidates (tried in that order). Raises ``AllocationError`` for
        malformed claims; everything else that prevents placement is reported in ``Pending``.
        """
        chosen_policy = Policy.parse(policy)
        done: list[ClaimAllocation] = []
        todo: list[tuple[Mapping[str, Any], ClaimSpec]] = []
        pinned: set[str] = set()
        for claim in claims:
            allocation = (claim.get("status") or {}).get("allocation")
            if allocation:
                self.usage.add(claim_key(claim), allocation)
                done.append(ClaimAllocation(claim, allocation, new=False))
                pinned.update(_allocation_nodes(allocation))
            else:
                todo.append((claim, parse_claim(claim)))
        if len(pinned) > 1:
            return Pending(
                errors=[f"the pod's allocated claims are on different nodes {sorted(pinned)}"], pod=pod
            )
        specs = [spec for _, spec in todo]
        errors = [
            problem
            for spec in specs
            for problem in claim_problems(spec, self.engine, self.classes, self.namespaces)
        ]
        if errors:
            return Pending(errors=errors, pod=pod)
        candidates = list(nodes) if nodes is not None else self.node_order(chosen_policy)
        if pinned:
            candidates = [node for node in candidates if node in pinned]
        failed: list[tuple[str, NodeSearch]] = []
        for node in candidates:
            search = self._search(specs, node, chosen_policy)
            if search.run():
                allocations = [
                    ClaimAllocation(claim, self._allocation(search, index, spec, node))
                    for index, (claim, spec) in enumerate(todo)
                ]
                return Placement(node, done + allocations, pod, self.usage.version)
            failed.append((node, search))
        pending = Pending(pod=pod)
        for node, search in failed:
            pools = self.inventory.pools(node)
            pending.reasons[node] = summarize(specs, pools, self.usage, self.filter, search.notes)
        if not candidates:
            pending.errors.append(
                "no candidate node"
                + (f": allocated claims pin the pod to {sorted(pinned)}" if pinned else "")
            )
        return pending

    def _search(self, specs: Sequence[ClaimSpec], node: str, policy: Policy) -> NodeSearch:
        pools = self.inventory.pools(node)
        return NodeSearch(
            specs,
            pools,
            order=self.device_order(node, policy),
            usage=self.usage,
            device_filter=self.filter,
            max_steps=self.max_steps,
        )

    def _allocation(self, search: NodeSearch, index: int, spec: ClaimSpec, node: str) -> dict[str, Any]:
        picked = [p for p in search.picked if p.claim_index == index]
        chosen = {ri: search.chosen[(index, ri)] for ri in range(len(spec.requests))}
        return build_allocation(
            spec, picked, chosen=chosen, classes=self.classes, node=node, new_share_id=self.new_share_id
        )

    def commit(self, placement: Placement) -> list[dict[str, Any]]:
        """Record ``placement``'s new allocations as usage; returns the allocated claims.

        Raises ``AllocationError`` when usage changed since the placement was computed (place again).
        """
        if placement.usage_version != self.usage.version:
            raise AllocationError(
                f"placement on node {placement.node} is stale: allocations changed since it was computed; "
                "place the pod again"
            )
        for allocation in placement.allocations:
            if allocation.new:
                self.usage.add(allocation.key, allocation.allocation)
        self._cards.pop(placement.node, None)
        return placement.claims()


def _allocation_nodes(allocation: Mapping[str, Any]) -> set[str]:
    nodes: set[str] = set()
    for term in (allocation.get("nodeSelector") or {}).get("nodeSelectorTerms") or ():
        for field in term.get("matchFields") or ():
            if field.get("key") == "metadata.name" and field.get("operator") == "In":
                nodes.update(field.get("values") or ())
    return nodes


def place_pod(
    state: ClusterState,
    claims: Sequence[Mapping[str, Any]],
    *,
    policy: Policy | str | None = None,
    pod: Mapping[str, Any] | None = None,
) -> Placement | Pending:
    """``state.place_pod``: where all of a pod's ``claims`` fit together (nothing is committed)."""
    return state.place_pod(claims, policy=policy, pod=pod)


def allocate_claim(
    claim: Mapping[str, Any],
    slices: Iterable[Mapping[str, Any]],
    *,
    node: str,
    classes: Iterable[Mapping[str, Any]] | None = None,
    namespaces: Mapping[str, Mapping[str, str]] | None = None,
    allocated_claims: Iterable[Mapping[str, Any]] = (),
    policy: Policy | str | None = None,
    uuid_factory: Callable[[], str] | None = None,
) -> dict[str, Any]:
    """The ``status.allocation`` of ``claim`` on ``node``; ``AllocationError`` with the reasons if it
    does not fit (``CelError``-worthy selectors are reported the same way)."""
    state = ClusterState(
        slices, classes, namespaces=namespaces, claims=allocated_claims, uuid_factory=uuid_factory
    )
    if node not in state.nodes:
        raise AllocationError(f"node {node!r} has no node-local ResourceSlices (nodes: {state.nodes})")
    outcome = state.place_pod([claim], policy=policy, nodes=[node])
    if isinstance(outcome, Pending):
        raise AllocationError(
            f"claim {claim_key(claim)} cannot be allocated on node {node}:\n{outcome.message}"
        )
    return dict(outcome.allocations[-1].allocation)
