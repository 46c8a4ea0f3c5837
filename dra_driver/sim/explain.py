"""Why a claim is (or is not) allocatable: per request and per candidate device on every node.

Owns: ``explain_claim`` and the ``Explanation`` data it returns (rendered by ``render.py``). For
each request (each ``firstAvailable`` sub-request separately) every device of every node gets its
first rejection (``diagnose.first_rejection``) or "usable"; then the claim is placed (without
committing) to say where it would go (and which other nodes tie with it: the real scheduler takes
one of them at random, DESIGN §8) or, per node, why it would stay pending. A claim that is
already allocated is judged as if its own allocation were released. This module must never change
the cluster state.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, dataclass, field
from typing import Any

from dra_driver.sim.checks import claim_problems
from dra_driver.sim.counters import CounterLedger
from dra_driver.sim.diagnose import first_rejection
from dra_driver.sim.errors import mapping, sequence
from dra_driver.sim.placement import Pending, claim_key
from dra_driver.sim.policy import Policy
from dra_driver.sim.requests import Alternative, parse_claim
from dra_driver.sim.scheduler import ClusterState
from dra_driver.sim.usage import Usage


@dataclass
class DeviceVerdict:
    node: str
    driver: str
    pool: str
    device: str
    usable: bool
    kind: str | None = None
    reason: str | None = None
    details: dict[str, Any] = field(default_factory=dict)


@dataclass
class AlternativeExplanation:
    request: str
    device_class: str
    mode: str
    selectors: list[str]
    capacity: dict[str, str]
    admin_access: bool
    usable: int
    total: int
    devices: list[DeviceVerdict]


@dataclass
class TieExplanation:
    node: str
    devices: list[str]


@dataclass
class Explanation:
    claim: str
    status: str
    """``allocated``, ``allocatable`` or ``pending``."""
    node: str | None
    devices: list[str]
    errors: list[str]
    pending: dict[str, list[str]]
    requests: list[AlternativeExplanation]
    notes: list[str]
    ties: list[TieExplanation] = field(default_factory=list)
    """For ``allocatable``: the other nodes the real scheduler may pick with the same score."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


def explain_claim(
    claim: Mapping[str, Any], state: ClusterState, *, policy: Policy | str | None = None
) -> Explanation:
    """Explain ``claim`` against ``state``; raises ``AllocationError`` only for a malformed claim."""
    spec = parse_claim(claim)
    key = claim_key(claim)
    status = mapping(claim.get("status"), f"claim {key}: status")
    existing = mapping(status.get("allocation"), f"claim {key}: status.allocation") or state.usage.claims.get(
        key
    )
    usage = state.usage.copy_without(key) if key in state.usage.claims else state.usage
    notes = list(state.inventory.ignored)
    if state.default_classes:
        notes.insert(
            0, "no DeviceClasses given: assumed one class per hdra driver selecting device.driver == <name>"
        )
    notes.extend(str(pool.problem) for pool in state.inventory.all_pools() if pool.problem)
    errors = claim_problems(spec, state.engine, state.classes, state.namespaces)
    requests = [
        _alternative(spec, alternative, state, usage)
        for request in spec.requests
        for alternative in request.alternatives
    ]
    if existing:
        devices = mapping(existing.get("devices"), f"claim {key}: status.allocation.devices")
        results = sequence(devices.get("results"), f"claim {key}: status.allocation.devices.results")
        nodes = sorted(_nodes(existing))
        return Explanation(
            key,
            "allocated",
            nodes[0] if nodes else None,
            [_result_name(r) for r in results],
            errors,
            {},
            requests,
            notes,
        )
    if errors:
        return Explanation(key, "pending", None, [], errors, {}, requests, notes)
    outcome = state.place_pod([claim], policy=policy, ties=True)
    if isinstance(outcome, Pending):
        return Explanation(key, "pending", None, [], outcome.errors, outcome.reasons, requests, notes)
    results = (outcome.allocations[0].allocation.get("devices") or {}).get("results") or []
    ties = [
        TieExplanation(tie.node, [_result_name(r) for found in tie.devices.values() for r in found])
        for tie in outcome.ties
    ]
    return Explanation(
        key, "allocatable", outcome.node, [_result_name(r) for r in results], [], {}, requests, notes, ties
    )


def _alternative(
    spec: Any, alternative: Alternative, state: ClusterState, usage: Usage
) -> AlternativeExplanation:
    verdicts: list[DeviceVerdict] = []
    for node in state.nodes:
        pools = state.inventory.pools(node)
        ledger = CounterLedger(pools, usage)
        for pool in pools:
            for device in pool.devices:
                rejection = first_rejection(
                    spec,
                    alternative=alternative,
                    device=device,
                    pool=pool,
                    usage=usage,
                    device_filter=state.filter,
                    ledger=ledger,
                )
                verdicts.append(
                    DeviceVerdict(node, device.driver, device.pool, device.name, rejection is None)
                    if rejection is None
                    else DeviceVerdict(
                        node,
                        device.driver,
                        device.pool,
                        device.name,
                        False,
                        rejection.kind,
                        rejection.message,
                        dict(rejection.details),
                    )
                )
    return AlternativeExplanation(
        request=alternative.result_name,
        device_class=alternative.class_name,
        mode=alternative.mode,
        selectors=list(alternative.selectors),
        capacity={name: amount.text for name, amount in alternative.capacity.items()},
        admin_access=alternative.admin_access,
        usable=sum(1 for v in verdicts if v.usable),
        total=len(verdicts),
        devices=verdicts,
    )


def _result_name(result: Mapping[str, Any]) -> str:
    return f"{result.get('request')}: {result.get('driver')}/{result.get('pool')}/{result.get('device')}"


def _nodes(allocation: Mapping[str, Any]) -> set[str]:
    found: set[str] = set()
    for term in (allocation.get("nodeSelector") or {}).get("nodeSelectorTerms") or ():
        for requirement in term.get("matchFields") or ():
            if requirement.get("key") == "metadata.name":
                found.update(requirement.get("values") or ())
    return found
