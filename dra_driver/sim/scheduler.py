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
``uuid_factory`` (default uuid4; ``seed`` makes them reproducible). What is reused between pods
(card use, "these claims do not fit this node", usage snapshots for reasons) and when it goes stale
is ``memo.py``'s; the per-node reasons of a ``Pending`` are built only when read. This module must
never talk to an API server.
"""

from __future__ import annotations

import random
import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dra_driver.sim.capacity import DemandCache
from dra_driver.sim.cel_env import CelEngine
from dra_driver.sim.checks import DeviceFilter, claim_problems
from dra_driver.sim.diagnose import summarize
from dra_driver.sim.errors import AllocationError, AllocatorError
from dra_driver.sim.gates import DEFAULT_GATES, FeatureGates
from dra_driver.sim.inventory import DeviceEntry, Inventory, Pool
from dra_driver.sim.memo import NodeMemo, shape_of
from dra_driver.sim.nodes import Node, NodeSelectorError, selector_matches
from dra_driver.sim.placement import ClaimAllocation, Pending, Placement, Tie, claim_key
from dra_driver.sim.policy import CardUse, Policy, order_devices
from dra_driver.sim.requests import (
    ClaimSpec,
    DeviceClassInfo,
    default_device_classes,
    parse_claim,
    parse_class,
)
from dra_driver.sim.results import build_allocation
from dra_driver.sim.scores import prioritized_list_score, total_scores
from dra_driver.sim.search import NodeSearch
from dra_driver.sim.usage import Usage
from dra_driver.slices.usage import node_score

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
        self.demands = DemandCache()
        self.memo = NodeMemo(self.inventory, self.usage)

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
        self.classes = dict(self.classes)  # a new dict: reasons not read yet keep the classes they saw
        for obj in classes:
            info = parse_class(obj)
            self.classes[info.name] = info
        self.filter = DeviceFilter(self.engine, self.classes)
        self.memo.forget_outcomes()

    def set_namespace_labels(self, namespace: str, labels: Mapping[str, str]) -> None:
        self.namespaces[namespace] = dict(labels)

    def add_claims(self, claims: Iterable[Mapping[str, Any]]) -> None:
        """Record claims; those with ``status.allocation`` hold their devices from now on."""
        for claim in claims:
            allocation = (claim.get("status") or {}).get("allocation")
            if allocation:
                self.usage.add(claim_key(claim), allocation)

    def release(self, claim: Mapping[str, Any] | str) -> None:
        """Forget the allocation of a claim (dict or ``ns/name``), e.g. after it was deleted."""
        self.usage.remove(claim if isinstance(claim, str) else claim_key(claim))

    @property
    def nodes(self) -> list[str]:
        return self.inventory.nodes

    def card_uses(self, node: str | None = None) -> list[CardUse]:
        """Every card (of ``node``, or of all nodes) with memory, cores and claims it holds."""
        nodes = self.nodes if node is None else [node]
        return [card for name in nodes for card in self.memo.card_uses(name)]

    # -- placing --------------------------------------------------------------------------------

    def parse(self, claims: Iterable[Mapping[str, Any]]) -> list[ClaimSpec]:
        return [parse_claim(claim) for claim in claims]

    def device_order(self, node: str, policy: Policy) -> list[DeviceEntry]:
        """The devices of ``node``'s usable pools in the order the allocator tries them."""
        return list(self.memo.per_generation(node, policy, lambda: self._device_order(node, policy)))

    def _device_order(self, node: str, policy: Policy) -> list[DeviceEntry]:
        usable = [d for pool in self.inventory.pools(node) if _usable(pool) for d in pool.devices]
        if policy is Policy.FIRST_FIT:
            return usable
        allowed = {id(d) for d in usable}
        return [d for d in order_devices(self.memo.card_uses(node), policy) if id(d) in allowed]

    def node_order(self, policy: Policy) -> list[str]:
        if policy is Policy.FIRST_FIT:
            return self.nodes
        return self.memo.node_order(policy)

    def allocate(
        self, claims: Sequence[Mapping[str, Any]], node: str, *, policy: Policy | str | None = None
    ) -> NodeOutcome:
        """What kube-scheduler's allocator decides for ``claims`` (none allocated yet) on ``node``.

        Raises ``AllocationError`` for malformed claims; nothing changes.
        """
        return self._allocate(self.parse(claims), node, Policy.parse(policy))

    def _allocate(
        self,
        specs: Sequence[ClaimSpec],
        node: str,
        policy: Policy,
        *,
        new_share_id: Callable[[], str] | None = None,
    ) -> NodeOutcome:
        try:
            pools = self.inventory.pools(node)
            search = NodeSearch(
                specs,
                pools,
                node=self.inventory.node(node),
                order=self.memo.per_generation(node, policy, lambda: self._device_order(node, policy)),
                usage=self.usage,
                device_filter=self.filter,
                gates=self.gates,
                max_steps=self.max_steps,
                demands=self.demands,
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
                    new_share_id=new_share_id or self.new_share_id,
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
        ties: bool = False,
    ) -> Placement | Pending:
        """Find a node where all of ``claims`` fit together; nothing changes until ``commit``.

        ``nodes`` restricts the candidates (tried in that order). Raises ``AllocationError`` for
        malformed claims; everything else that prevents placement is reported in ``Pending``.

        The node is the feasible one with the best score (``scores.total_scores``: the policy's
        extender score and DynamicResources' ``firstAvailable`` score), the first in candidate order
        among equals. Without a ``firstAvailable`` choice the DynamicResources score is equal
        everywhere, so the first feasible candidate is taken and, unless ``ties``, no other node
        is tried. With ``ties`` the placement also lists the other feasible nodes of equal score
        (``Placement.ties``), which the real scheduler may pick instead (DESIGN §8).
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
        # A firstAvailable request can get a different sub-request per node: then every node is scored.
        prioritized = any(len(request.alternatives) > 1 for spec in specs for request in spec.requests)
        extender: dict[str, int] | None = None  # computed once a second node is looked at
        feasible: dict[str, list[ClaimAllocation]] = {}
        shape = shape_of([claim for claim, _ in todo])
        memo_key = None if shape is None else (shape, chosen_policy, self.max_steps)
        failed: list[tuple[str, NodeOutcome | None]] = []  # reasons only matter if no node fits
        for node in candidates:
            if feasible and not prioritized:
                if not ties:
                    break
                extender = self.extender_scores(chosen_policy) if extender is None else extender
                # Candidates in node order come by extender score: the first lower one ends the ties.
                if nodes is None and extender.get(node, 0) < extender.get(next(iter(feasible)), 0):
                    break
            if memo_key is not None and self.memo.known_unsatisfiable(node, memo_key):
                failed.append((node, None))
                continue
            # Share IDs come from the state's factory only for the first feasible node, as before
            # ties were looked for: seeded share IDs stay the same. Others get a placeholder.
            outcome = self._allocate(
                specs, node, chosen_policy, new_share_id=None if not feasible else _no_share_id
            )
            if outcome.outcome == "allocated":
                feasible[node] = done + [
                    ClaimAllocation(claim, allocation)
                    for (claim, _), allocation in zip(todo, outcome.allocations, strict=True)
                ]
                continue
            if outcome.outcome == "error" and not outcome.node_local:
                return Pending(errors=[str(outcome.error)], pod=pod)
            notes = outcome.search.notes if outcome.search is not None else []
            if outcome.outcome == "unsatisfiable" and memo_key is not None and not notes:
                self.memo.record_unsatisfiable(node, memo_key)
            failed.append((node, outcome))
        if len(feasible) == 1:
            node, allocations = next(iter(feasible.items()))
            return Placement(node, allocations, pod, self.usage.version)
        if feasible:
            extender = self.extender_scores(chosen_policy) if extender is None else extender
            return self._best(feasible, extender, todo, pod=pod, policy=chosen_policy, ties=ties)
        pending = Pending(pod=pod)
        for node, failure in failed:
            if failure is not None and failure.outcome == "error":
                pending.add_reasons(node, [str(failure.error)])
            else:
                pending.add_reasons(node, self._deferred_reasons(specs, node, failure))
        if not candidates:
            pending.errors.append(
                "no candidate node"
                + (": the pod's allocated claims select no known node" if selectors else "")
            )
        return pending

    def _deferred_reasons(
        self, specs: Sequence[ClaimSpec], node: str, outcome: NodeOutcome | None = None
    ) -> Callable[[], list[str]]:
        """Why ``specs`` are unsatisfiable on ``node``, built when read from the state of now."""
        pools = self.inventory.pools(node)
        usage = self.memo.snapshot(node)
        device_filter = self.filter
        notes = [str(pool.problem) for pool in pools if pool.problem]
        notes += outcome.search.notes if outcome is not None and outcome.search is not None else []
        return lambda: summarize(specs, pools, usage, device_filter, notes)

    def extender_scores(self, policy: Policy) -> dict[str, int]:
        """hdra's extender answer (0..10) per node under ``policy``; none (empty) for first fit."""
        if policy is Policy.FIRST_FIT:
            return {}
        return {node: node_score(self.memo.node_use(node), policy.value) for node in self.nodes}

    def _best(
        self,
        feasible: Mapping[str, list[ClaimAllocation]],
        extender: Mapping[str, int],
        todo: Sequence[tuple[Mapping[str, Any], ClaimSpec]],
        *,
        pod: Mapping[str, Any] | None,
        policy: Policy,
        ties: bool,
    ) -> Placement:
        """The placement on the best-scored feasible node (the first of equals), with its ties."""
        totals = total_scores(
            extender, {node: prioritized_list_score(found) for node, found in feasible.items()}
        )
        best = max(totals.values())
        node = next(n for n, total in totals.items() if total == best)
        allocations = feasible[node]
        if node != next(iter(feasible)):
            # Allocated with placeholder share IDs: allocate again with the state's factory.
            outcome = self._allocate([spec for _, spec in todo], node, policy)
            allocations = allocations[: len(allocations) - len(todo)] + [
                ClaimAllocation(claim, allocation)
                for (claim, _), allocation in zip(todo, outcome.allocations, strict=True)
            ]
        placement = Placement(node, allocations, pod, self.usage.version)
        if ties:
            placement.ties = [
                Tie(other, {a.key: _devices(a.allocation) for a in found})
                for other, found in feasible.items()
                if other != node and totals[other] == best
            ]
        return placement

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
        return placement.claims()


def _no_share_id() -> str:
    """The share ID of an allocation on a node that is only looked at, never committed."""
    return ""


def _devices(allocation: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    """An allocation's results without ``shareID`` (``Tie.devices``)."""
    results = (allocation.get("devices") or {}).get("results") or ()
    return [{k: v for k, v in result.items() if k != "shareID"} for result in results]


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
