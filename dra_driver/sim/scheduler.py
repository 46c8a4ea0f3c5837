"""The cluster as the scheduler sees it, and placing pods: ``ClusterState``, ``place_pod``, ``commit``.

Owns: ``ClusterState`` (ResourceSlices, DeviceClasses, nodes, namespace labels, allocated claims
and the usage they hold, the feature gates), ``NodeOutcome`` (what the allocator says for one
node: ``allocated``, ``unsatisfiable`` or ``error``) and ``allocate_claim`` (one claim on one named
node). A pod's claims are allocated jointly on one node (one search over all of them,
``search.py``). Nodes are tried in the order of the node-level policy (``policy.py``); devices on a
node in upstream's order, or the card-level order of the policy. An allocator error that is not
node-local stops the pod (as kube-scheduler does); a node-local one only rules out that node.
Claims that already have ``status.allocation`` hold usage and are never re-allocated; a pod with
such a claim can only go to nodes its node selector matches. Share IDs come from
``uuid_factory`` (default uuid4; ``seed`` makes them reproducible). This module must never talk to
an API server.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dra_driver.sim.cel_env import CelEngine
from dra_driver.sim.checks import DeviceFilter, claim_problems
from dra_driver.sim.diagnose import summarize
from dra_driver.sim.errors import AllocationError, AllocatorError
from dra_driver.sim.gates import DEFAULT_GATES, FeatureGates
from dra_driver.sim.inventory import DeviceEntry, Inventory, Pool
from dra_driver.sim.nodes import Node, NodeSelectorError, selector_matches
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


@dataclass
class NodeOutcome:
    """The allocator's answer for one node: ``allocations`` (one per claim), or why not."""

    node: str
    outcome: str
    """``allocated``, ``unsatisfiable`` or ``error``."""
    allocations: list[dict[str, Any]] = field(default_factory=list)
    error: str | None = None
    node_local: bool = False
    search: NodeSearch | None = None


class ClusterState:
    """Slices, classes, nodes, namespace labels and allocated claims; places pods and records them."""

    def __init__(
        self,
        slices: Iterable[Mapping[str, Any]] = (),
        classes: Iterable[Mapping[str, Any]] | None = None,
        *,
        namespaces: Mapping[str, Mapping[str, str]] | None = None,
        claims: Iterable[Mapping[str, Any]] = (),
        nodes: Iterable[Node | Mapping[str, Any]] = (),
        gates: FeatureGates = DEFAULT_GATES,
        uuid_factory: Callable[[], str] | None = None,
        seed: int | None = None,
        max_steps: int = DEFAULT_MAX_STEPS,
    ) -> None:
        self.gates = gates
        self.default_classes = classes is None
        self.classes: dict[str, DeviceClassInfo] = {}
        for obj in default_device_classes() if classes is None else classes:
            info = parse_class(obj)
            self.classes[info.name] = info
        self.namespaces: dict[str, dict[str, str]] = {k: dict(v) for k, v in (namespaces or {}).items()}
        self.node_objects: dict[str, Node] = {}
        for node in nodes:
            parsed = node if isinstance(node, Node) else _parse_node(node)
            self.node_objects[parsed.name] = parsed
        self.engine = CelEngine(
            list_attributes=gates.list_type_attributes, multi_allocations=gates.channel != "stable"
        )
        self.new_share_id = uuid_factory or (
            seeded_uuids(seed) if seed is not None else lambda: str(uuid.uuid4())
        )
        self.max_steps = max_steps
        self.usage = Usage(consumable_capacity=gates.consumable_capacity)
        self._slices: list[Mapping[str, Any]] = list(slices)
        self._rebuild()
        self.add_claims(claims)

    # -- inputs ---------------------------------------------------------------------------------

    def _rebuild(self) -> None:
        self.inventory = Inventory(self._slices, gates=self.gates, nodes=self.node_objects)
        self.filter = DeviceFilter(self.engine, self.classes)
        self._cards: dict[str, list[CardUse]] = {}

    def add_slices(self, slices: Iterable[Mapping[str, Any]]) -> None:
        """Add ResourceSlices (a newer generation of a pool supersedes the older one)."""
        self._slices.extend(slices)
        self._rebuild()

    def add_nodes(self, nodes: Iterable[Node | Mapping[str, Any]]) -> None:
        """Add or replace nodes (name and labels; node selectors of slices match against them)."""
        for node in nodes:
            parsed = node if isinstance(node, Node) else _parse_node(node)
            self.node_objects[parsed.name] = parsed
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
                try:
                    self._cards[name] = card_uses(self.inventory, self.usage, name)
                except AllocatorError:
                    self._cards[name] = []
            result.extend(self._cards[name])
        return result

    # -- placing --------------------------------------------------------------------------------

    def parse(self, claims: Iterable[Mapping[str, Any]]) -> list[ClaimSpec]:
        return [parse_claim(claim) for claim in claims]

    def device_order(self, node: str, policy: Policy) -> list[DeviceEntry]:
        """The devices of ``node``'s usable pools in the order the allocator tries them."""
        usable = [d for pool in self.inventory.pools(node) if _usable(pool) for d in pool.devices]
        if policy is Policy.FIRST_FIT:
            return usable
        allowed = {id(d) for d in usable}
        return [d for d in order_devices(self.card_uses(node), policy) if id(d) in allowed]

    def node_order(self, policy: Policy) -> list[str]:
        if policy is Policy.FIRST_FIT:
            return self.nodes
        return order_nodes({node: node_use(self.card_uses(node)) for node in self.nodes}, policy)

    def allocate(
        self, claims: Sequence[Mapping[str, Any]], node: str, *, policy: Policy | str | None = None
    ) -> NodeOutcome:
        """What kube-scheduler's allocator decides for ``claims`` (none allocated yet) on ``node``.

        Raises ``AllocationError`` for malformed claims; nothing changes.
        """
        return self._allocate(self.parse(claims), node, Policy.parse(policy))

    def _allocate(self, specs: Sequence[ClaimSpec], node: str, policy: Policy) -> NodeOutcome:
        try:
            pools = self.inventory.pools(node)
            search = NodeSearch(
                specs,
                pools,
                node=self.inventory.node(node),
                order=self.device_order(node, policy),
                usage=self.usage,
                device_filter=self.filter,
                gates=self.gates,
                max_steps=self.max_steps,
            )
            if not search.run():
                return NodeOutcome(node, "unsatisfiable", search=search)
            allocations = [
                build_allocation(
                    spec,
                    search.picked[index],
                    chosen=search.chosen(index),
                    classes=self.classes,
                    node=node,
                    new_share_id=self.new_share_id,
                    binding_conditions=self.gates.binding_conditions,
                )
                for index, spec in enumerate(specs)
            ]
        except AllocatorError as exc:
            return NodeOutcome(node, "error", error=str(exc), node_local=exc.node_local)
        return NodeOutcome(node, "allocated", allocations, search=search)

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
        selectors: list[Mapping[str, Any]] = []
        for claim in claims:
            allocation = (claim.get("status") or {}).get("allocation")
            if allocation:
                self.usage.add(claim_key(claim), allocation)
                done.append(ClaimAllocation(claim, allocation, new=False))
                if allocation.get("nodeSelector"):
                    selectors.append(allocation["nodeSelector"])
            else:
                todo.append((claim, parse_claim(claim)))
        specs = [spec for _, spec in todo]
        errors = [
            problem
            for spec in specs
            for problem in claim_problems(spec, self.engine, self.classes, self.namespaces)
        ]
        if errors:
            return Pending(errors=errors, pod=pod)
        candidates = list(nodes) if nodes is not None else self.node_order(chosen_policy)
        if selectors:
            try:
                candidates = [
                    n
                    for n in candidates
                    if all(selector_matches(self.inventory.node(n), s) for s in selectors)
                ]
            except NodeSelectorError as exc:
                return Pending(
                    errors=[f"an allocated claim of the pod has a bad node selector: {exc}"], pod=pod
                )
        pending = Pending(pod=pod)
        for node in candidates:
            outcome = self._allocate(specs, node, chosen_policy)
            if outcome.outcome == "allocated":
                allocations = [
                    ClaimAllocation(claim, allocation)
                    for (claim, _), allocation in zip(todo, outcome.allocations, strict=True)
                ]
                return Placement(node, done + allocations, pod, self.usage.version)
            if outcome.outcome == "error" and not outcome.node_local:
                return Pending(errors=[str(outcome.error)], pod=pod)
            if outcome.outcome == "error":
                pending.reasons[node] = [str(outcome.error)]
                continue
            pools = self.inventory.pools(node)
            notes = [str(pool.problem) for pool in pools if pool.problem]
            notes += outcome.search.notes if outcome.search is not None else []
            pending.reasons[node] = summarize(specs, pools, self.usage, self.filter, notes)
        if not candidates:
            pending.errors.append(
                "no candidate node"
                + (": the pod's allocated claims select no known node" if selectors else "")
            )
        return pending

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
        self._cards.clear()
        return placement.claims()


def _usable(pool: Pool) -> bool:
    return not pool.incomplete and pool.invalid is None


def _parse_node(obj: Mapping[str, Any]) -> Node:
    meta = obj.get("metadata") or {}
    name = meta.get("name")
    if not isinstance(name, str) or not name:
        raise AllocationError(f"Node without metadata.name: {dict(obj)!r}"[:300])
    labels = meta.get("labels") or {}
    if not isinstance(labels, Mapping):
        raise AllocationError(f"Node {name!r}: metadata.labels must be an object")
    return Node(name, {str(k): str(v) for k, v in labels.items()})


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
    gates: FeatureGates = DEFAULT_GATES,
) -> dict[str, Any]:
    """The ``status.allocation`` of ``claim`` on ``node``; ``AllocationError`` with the reasons if it
    does not fit (``CelError``-worthy selectors are reported the same way)."""
    state = ClusterState(
        slices,
        classes,
        namespaces=namespaces,
        claims=allocated_claims,
        uuid_factory=uuid_factory,
        gates=gates,
    )
    if node not in state.nodes:
        raise AllocationError(f"node {node!r} has no node-local ResourceSlices (nodes: {state.nodes})")
    outcome = state.place_pod([claim], policy=policy, nodes=[node])
    if isinstance(outcome, Pending):
        raise AllocationError(
            f"claim {claim_key(claim)} cannot be allocated on node {node}:\n{outcome.message}"
        )
    return dict(outcome.allocations[-1].allocation)
