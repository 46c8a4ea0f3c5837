"""The outcome types of placing a pod: ``Placement`` (a node and one allocation per claim) or ``Pending``.

Owns: ``ClaimAllocation``, ``Tie``, ``Placement``, ``Pending`` and ``with_ties`` (how simulate,
explain and demo name a node that ties with others). A placement's ``claims()`` are ready to be
written as the claims' status (``status.allocation``, and ``reservedFor`` when a pod with a uid was
given). A ``Pending``'s per-node reasons may be given as functions that build them: they run when
``reasons`` (or ``message``) is first read, and must describe the state of when the pod was placed
(the scheduler hands them a snapshot). This module must never allocate.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from dra_driver.sim.results import reserve


def claim_key(claim: Mapping[str, Any]) -> str:
    meta = claim.get("metadata") or {}
    return f"{meta.get('namespace') or 'default'}/{meta.get('name')}"


_SCALARS = frozenset({str, int, float, bool, type(None)})


def _copied(value: Any) -> Any:
    """``copy.deepcopy`` for JSON-shaped data, without its bookkeeping: plain dicts and lists are
    rebuilt, immutable scalars shared, anything else deep-copied."""
    kind = type(value)
    if kind is dict:
        return {key: item if type(item) in _SCALARS else _copied(item) for key, item in value.items()}
    if kind is list:
        return [item if type(item) in _SCALARS else _copied(item) for item in value]
    if kind in _SCALARS:
        return value
    return copy.deepcopy(value)


@dataclass(frozen=True)
class ClaimAllocation:
    """One claim of a placement and its allocation; ``new`` is False for a claim that already had one."""

    claim: Mapping[str, Any]
    allocation: Mapping[str, Any]
    new: bool = True

    @property
    def key(self) -> str:
        return claim_key(self.claim)

    def allocated_claim(self, pod: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """A copy of the claim with ``status.allocation`` set (and ``pod`` reserved when it has a uid)."""
        updated: dict[str, Any] = _copied(dict(self.claim))
        updated.setdefault("status", {})["allocation"] = _copied(dict(self.allocation))
        if pod is not None and (pod.get("metadata") or {}).get("uid"):
            updated = reserve(updated, pod)
        return updated


def with_ties(node: str, ties: Sequence[str]) -> str:
    """``node``, and the nodes of equal score the real scheduler may take instead, for people to read."""
    if not ties:
        return node
    return f"{node} (tie: {', '.join(ties)} — the scheduler picks one at random)"


@dataclass(frozen=True)
class Tie:
    """Another node the real scheduler may pick for the pod, with the same score as the placement's.

    ``devices``: per claim key, the allocation results the pod's new claims would get there
    (``request``, ``driver``, ``pool``, ``device``; no ``shareID``: none is made for a node not taken).
    """

    node: str
    devices: Mapping[str, list[Mapping[str, Any]]]

    def device_names(self) -> list[str]:
        """The devices of all claims, in claim and result order (as ``Placement.device_names``)."""
        return [str(result["device"]) for results in self.devices.values() for result in results]


@dataclass
class Placement:
    """All claims of a pod allocated together on ``node``.

    ``ties``: the other feasible nodes with the same score (``scores.py``), in the simulator's node
    order; the real scheduler takes one of ``node`` and them at random. Filled only when
    ``place_pod`` was asked for ties.
    """

    node: str
    allocations: list[ClaimAllocation]
    pod: Mapping[str, Any] | None = None
    usage_version: int = -1
    """The cluster state's usage version this placement was computed against (commit checks it)."""
    ties: list[Tie] = field(default_factory=list)

    def device_names(self) -> list[str]:
        """The devices of all claims (already allocated ones included), in claim and result order."""
        return [
            str(result["device"])
            for allocation in self.allocations
            for result in (allocation.allocation.get("devices") or {}).get("results") or ()
        ]

    def claims(self) -> list[dict[str, Any]]:
        """The allocated claims, ready to be written as their status."""
        return [a.allocated_claim(self.pod) for a in self.allocations]

    def allocation(self, key: str) -> Mapping[str, Any]:
        """The allocation of claim ``ns/name``; KeyError naming the claim when it is not part of this pod."""
        for allocation in self.allocations:
            if allocation.key == key:
                return allocation.allocation
        raise KeyError(f"claim {key} is not part of this placement ({[a.key for a in self.allocations]})")


@dataclass
class Pending:
    """No node can hold all claims of the pod: reasons per node, and errors that hold everywhere."""

    errors: list[str] = field(default_factory=list)
    pod: Mapping[str, Any] | None = None
    _reasons: dict[str, list[str] | Callable[[], list[str]]] = field(default_factory=dict, repr=False)

    def add_reasons(self, node: str, reasons: list[str] | Callable[[], list[str]]) -> None:
        """Why the pod does not fit ``node``: the reasons, or a function that builds them when read."""
        self._reasons[node] = reasons

    @property
    def reasons(self) -> dict[str, list[str]]:
        """Node → why the pod does not fit there (in the order the nodes were tried)."""
        built: dict[str, list[str]] = {}
        for node, given in self._reasons.items():
            built[node] = given() if callable(given) else given
        self._reasons.update(built)  # built once
        return built

    @property
    def message(self) -> str:
        lines = list(self.errors)
        for node, reasons in self.reasons.items():
            lines.extend(f"node {node}: {reason}" for reason in reasons)
        return "\n".join(lines) or "no node has devices"
