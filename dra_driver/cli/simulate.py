"""``hdra simulate``: place ResourceClaims on hdra's slices the way kube-scheduler would.

Inputs come from YAML/JSON files (``--slices``, ``--claims``, ``--classes``; Namespace objects in
any of them give the namespace labels adminAccess needs) or from a cluster (``--kubeconfig``:
slices, classes, namespaces and claims; allocated claims there hold their devices). ``--claims``
files may hold ResourceClaims, ResourceClaimTemplates, Pods and pod-owning workloads; how they
become pods is ``sim_inputs``' contract. Pods are placed one at a time, in order. Prints the placed
claims (node, devices, memory MiB, cores %), the pending ones with reasons, and the use of every
card. A pod whose node ties with others (equal score: the real scheduler takes one at random,
DESIGN §8) names them and the devices it would get on each (JSON: ``ties``); the simulator commits
its own choice, the first of them, and a note says that the placements after it assume that node.
Nothing is written anywhere.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from decimal import Decimal
from pathlib import Path
from typing import Any

from dra_driver.cli.common import CommandError, format_table
from dra_driver.cli.sim_inputs import add_gate_arguments, build_state, gates_from, gather
from dra_driver.kube.quantity import MIB, parse_quantity
from dra_driver.rules import CAPACITY_NAMES
from dra_driver.sim import ClusterState, Pending, Placement, Policy, SimError
from dra_driver.sim.placement import claim_key, with_ties


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("simulate", help="predict where claims would be allocated")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--slices", type=Path, nargs="+", metavar="FILE", help="ResourceSlice files")
    source.add_argument(
        "--kubeconfig", type=Path, metavar="K", help="read slices, classes and claims from a cluster"
    )
    parser.add_argument(
        "--claims",
        type=Path,
        nargs="+",
        metavar="FILE",
        help="ResourceClaims, ResourceClaimTemplates, Pods, Deployments, ... to place",
    )
    parser.add_argument("--classes", type=Path, nargs="+", metavar="FILE", help="DeviceClass files")
    parser.add_argument(
        "--policy",
        choices=[p.value for p in Policy],
        default=Policy.FIRST_FIT.value,
        help="node and card order: first-fit (default: published order, nodes by name), binpack or spread",
    )
    parser.add_argument("--seed", type=int, default=None, help="seed for reproducible share IDs")
    add_gate_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.set_defaults(run=run)


def _amounts(state: ClusterState, result: Mapping[str, Any]) -> tuple[str, str]:
    """(memory MiB, cores %) one allocation result holds: consumed capacity or the device's own."""
    consumed = result.get("consumedCapacity") or {}
    device = state.inventory.device((result["driver"], result["pool"], result["device"]))
    values = []
    for name in CAPACITY_NAMES:
        text = consumed.get(name)
        if text is None and device is not None:
            capacity = device.capacity.get(name)
            text = capacity.value.text if capacity is not None else None
        values.append(parse_quantity(text) if text is not None else None)
    memory, cores = values
    return (_mib(memory) if memory is not None else "-", _number(cores) if cores is not None else "-")


def _mib(value: Decimal) -> str:
    return _number(value / MIB)


def _number(value: Decimal) -> str:
    return str(int(value)) if value == value.to_integral_value() else f"{value:.1f}"


def run(args: argparse.Namespace) -> int:
    gates = gates_from(args)
    inputs = gather(args)
    if not inputs.units and not args.kubeconfig:
        raise CommandError(
            "nothing to place: --claims gave no pending ResourceClaims and no pods with resource claims"
        )
    state = build_state(inputs, args.seed, gates)
    policy = Policy.parse(args.policy)
    # The latest version of every claim: a claim shared by several pods is allocated by the first.
    latest = {claim_key(c): c for c in inputs.allocated_claims + inputs.pending_claims}
    placed: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    for unit in inputs.units:
        claims = [latest.get(claim_key(c), c) for c in unit.claims]
        outcome: Placement | Pending
        if unit.problems:
            outcome = Pending(errors=unit.problems)
        else:
            try:
                outcome = state.place_pod(claims, policy=policy, ties=True)
                if isinstance(outcome, Placement):
                    for allocated in state.commit(outcome):
                        latest[claim_key(allocated)] = allocated
            except SimError as exc:
                outcome = Pending(errors=[str(exc)])
        if isinstance(outcome, Placement):
            placed.append(_placed(state, unit.pod, outcome))
        else:
            pending.append(
                {
                    "pod": unit.pod,
                    "claims": [claim_key(c) for c in claims],
                    "reasons": outcome.message.splitlines(),
                }
            )
    cards = _cards(state)
    notes = inputs.notes + state.inventory.ignored + _tie_notes(placed)
    if args.json:
        report = {
            "kubernetes": gates.version,
            "featureGates": sorted(gates.enabled),
            "policy": policy.value,
            "notes": notes,
            "placed": placed,
            "pending": pending,
            "cards": cards,
        }
        print(json.dumps(report, indent=2))
        return 0
    _print_text(policy, notes, placed, pending, cards)
    return 0


def _placed(state: ClusterState, pod: str, placement: Placement) -> dict[str, Any]:
    claims = []
    for allocation in placement.allocations:
        devices = []
        for result in (allocation.allocation.get("devices") or {}).get("results") or []:
            memory, cores = _amounts(state, result)
            devices.append(
                {
                    "request": result["request"],
                    "device": f"{result['driver']}/{result['pool']}/{result['device']}",
                    "memoryMiB": memory,
                    "coresPercent": cores,
                }
            )
        claims.append({"claim": allocation.key, "devices": devices, "allocation": allocation.allocation})
    ties = [
        {
            "node": tie.node,
            "claims": [
                {
                    "claim": key,
                    "devices": [
                        {"request": r["request"], "device": f"{r['driver']}/{r['pool']}/{r['device']}"}
                        for r in results
                    ],
                }
                for key, results in tie.devices.items()
            ],
        }
        for tie in placement.ties
    ]
    return {"pod": pod, "node": placement.node, "claims": claims, "ties": ties}


def _tie_notes(placed: Sequence[Mapping[str, Any]]) -> list[str]:
    """One note per pod whose node ties with others: which ones, and that later pods assume its node."""
    return [
        f"pod {entry['pod']}: {with_ties(entry['node'], [t['node'] for t in entry['ties']])}; "
        f"the placements after it assume {entry['node']}"
        for entry in placed
        if entry["ties"]
    ]


def _cards(state: ClusterState) -> list[dict[str, Any]]:
    return [
        {
            "node": card.node,
            "card": card.devices[0].name if card.devices else card.card,
            "product": card.product,
            "memoryUsedMiB": _mib(card.memory_used),
            "memoryTotalMiB": _mib(card.memory_total),
            "coresUsedPercent": _number(card.cores_used),
            "claims": len(card.claims),
        }
        for card in state.card_uses()
    ]


def _print_text(
    policy: Policy,
    notes: Sequence[str],
    placed: Sequence[Mapping[str, Any]],
    pending: Sequence[Mapping[str, Any]],
    cards: Sequence[Mapping[str, Any]],
) -> None:
    print(f"Policy: {policy.value}")
    for note in notes:
        print(f"Note: {note}")
    rows = [
        (
            entry["pod"],
            claim["claim"],
            entry["node"] + (" (tie)" if entry["ties"] else ""),
            device["device"],
            device["memoryMiB"],
            device["coresPercent"],
        )
        for entry in placed
        for claim in entry["claims"]
        for device in claim["devices"]
    ]
    print(f"\nPlaced ({len(placed)} pods)")
    print(
        format_table(("POD", "CLAIM", "NODE", "DEVICE", "MEMORY MiB", "CORES %"), rows) if rows else "  none"
    )
    print(f"\nPending ({len(pending)} pods)")
    if pending:
        print(
            format_table(
                ("POD", "CLAIMS", "REASON"),
                [(p["pod"], ", ".join(p["claims"]), reason) for p in pending for reason in p["reasons"]],
            )
        )
    else:
        print("  none")
    tied = [
        (entry["pod"], tie["node"], ", ".join(d["device"] for c in tie["claims"] for d in c["devices"]))
        for entry in placed
        for tie in entry["ties"]
    ]
    if tied:
        print("\nTies (the scheduler may pick these nodes instead: equal score, DESIGN §8)")
        print(format_table(("POD", "NODE", "DEVICES"), tied))
    print("\nCards")
    print(
        format_table(
            ("NODE", "CARD", "PRODUCT", "MEMORY USED MiB", "MEMORY TOTAL MiB", "CORES USED %", "CLAIMS"),
            [
                (
                    c["node"],
                    c["card"],
                    c["product"],
                    c["memoryUsedMiB"],
                    c["memoryTotalMiB"],
                    c["coresUsedPercent"],
                    c["claims"],
                )
                for c in cards
            ],
        )
    )
