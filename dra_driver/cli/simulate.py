"""``hdra simulate``: place ResourceClaims on hdra's slices the way kube-scheduler would.

Inputs come from YAML/JSON files (``--slices``, ``--claims``, ``--classes``; Namespace objects in
any of them give the namespace labels adminAccess needs) or from a cluster (``--kubeconfig``:
slices, classes, namespaces and claims; allocated claims there hold their devices). Claims are
placed one pod at a time in file order; claims with the same ``hdra.io/pod`` annotation (in one
namespace) form one pod and are allocated together, every other claim is its own pod. Prints the
placed claims (node, devices, memory MiB, cores %), the pending ones with reasons, and the use of
every card. Nothing is written anywhere.
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from kubernetes.client import CoreV1Api

from dra_driver.cli.common import CommandError, format_table, open_client
from dra_driver.kube import KubeError
from dra_driver.kube.quantity import MIB, parse_quantity
from dra_driver.rules import CAPACITY_NAMES
from dra_driver.sim import ClusterState, Pending, Placement, Policy, SimError
from dra_driver.sim.documents import Objects, by_kind, load_objects
from dra_driver.sim.placement import claim_key

POD_ANNOTATION = "hdra.io/pod"
DEFAULT_CLASSES_NOTE = (
    "no DeviceClasses given: assumed one class per hdra driver (nvidia, amd, ascend, cambricon, hygon, "
    'mock .hdra.io), each selecting device.driver == "<name>"'
)


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("simulate", help="predict where claims would be allocated")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--slices", type=Path, nargs="+", metavar="FILE", help="ResourceSlice files")
    source.add_argument(
        "--kubeconfig", type=Path, metavar="K", help="read slices, classes and claims from a cluster"
    )
    parser.add_argument("--claims", type=Path, nargs="+", metavar="FILE", help="ResourceClaim files to place")
    parser.add_argument("--classes", type=Path, nargs="+", metavar="FILE", help="DeviceClass files")
    parser.add_argument("--policy", choices=["binpack", "spread"], default=None, help="node and card policy")
    parser.add_argument("--seed", type=int, default=None, help="seed for reproducible share IDs")
    parser.add_argument("--json", action="store_true", help="print JSON instead of tables")
    parser.set_defaults(run=run)


@dataclass
class Inputs:
    """Everything a simulation starts from; ``pending_claims`` are those to place."""

    objects: Objects
    pending_claims: list[dict[str, Any]]
    allocated_claims: list[dict[str, Any]]
    notes: list[str]


def read_files(paths: Sequence[Path] | None) -> Objects:
    objects: list[dict[str, Any]] = []
    for path in paths or ():
        try:
            objects.extend(load_objects(path))
        except SimError as exc:
            raise CommandError(str(exc)) from None
    return by_kind(objects)


def read_cluster(kubeconfig: Path) -> Objects:
    """Slices, classes, claims (as API-shaped dicts) and namespace labels from the cluster."""

    def dump(items: Sequence[Any]) -> list[dict[str, Any]]:
        return [item.model_dump(by_alias=True, exclude_none=True, mode="json") for item in items]

    client = open_client(kubeconfig)
    try:
        with client:
            found = Objects(
                slices=dump(client.resource_slices.list().items),
                classes=dump(client.device_classes.list().items),
                claims=dump(client.resource_claims.list().items),
            )
            for namespace in CoreV1Api(client.api_client).list_namespace().items:
                meta = namespace.metadata
                if meta is not None and meta.name:
                    found.namespaces[meta.name] = dict(meta.labels or {})
    except (KubeError, OSError) as exc:
        raise CommandError(f"--kubeconfig {kubeconfig}: {exc}") from exc
    return found


def gather(args: argparse.Namespace) -> Inputs:
    """Merge files and cluster into one set of inputs; CommandError for missing pieces."""
    objects = read_cluster(args.kubeconfig) if args.kubeconfig else read_files(args.slices)
    extra = read_files(getattr(args, "classes", None))
    objects.classes.extend(extra.classes)
    claims_from_files = read_files(getattr(args, "claims", None))
    objects.namespaces.update(claims_from_files.namespaces)
    objects.namespaces.update(extra.namespaces)
    if not objects.slices:
        raise CommandError(
            "no ResourceSlices found in " + (str(args.kubeconfig) if args.kubeconfig else "--slices")
        )
    allocated = [c for c in objects.claims if (c.get("status") or {}).get("allocation")]
    pending = [c for c in objects.claims if not (c.get("status") or {}).get("allocation")]
    if claims_from_files.claims or getattr(args, "claims", None):
        allocated += [c for c in claims_from_files.claims if (c.get("status") or {}).get("allocation")]
        pending = [c for c in claims_from_files.claims if not (c.get("status") or {}).get("allocation")]
    notes = [] if objects.classes else [DEFAULT_CLASSES_NOTE]
    return Inputs(objects, pending, allocated, notes)


def build_state(inputs: Inputs, seed: int | None = None) -> ClusterState:
    try:
        return ClusterState(
            inputs.objects.slices,
            inputs.objects.classes or None,
            namespaces=inputs.objects.namespaces,
            claims=inputs.allocated_claims,
            seed=seed,
        )
    except SimError as exc:
        raise CommandError(str(exc)) from exc


def group_pods(claims: Sequence[dict[str, Any]]) -> list[tuple[str, list[dict[str, Any]]]]:
    """Pods in order of their first claim: ``hdra.io/pod`` groups claims of one namespace."""
    pods: dict[str, list[dict[str, Any]]] = {}
    for claim in claims:
        meta = claim.get("metadata") or {}
        namespace = meta.get("namespace") or "default"
        pod = (meta.get("annotations") or {}).get(POD_ANNOTATION) or meta.get("name")
        pods.setdefault(f"{namespace}/{pod}", []).append(claim)
    return list(pods.items())


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
    inputs = gather(args)
    if not inputs.pending_claims and not args.kubeconfig:
        raise CommandError("no ResourceClaims to place: give --claims FILE")
    state = build_state(inputs, args.seed)
    policy = Policy.parse(args.policy)
    placed: list[dict[str, Any]] = []
    pending: list[dict[str, Any]] = []
    for pod, claims in group_pods(inputs.pending_claims):
        try:
            outcome = state.place_pod(claims, policy=policy)
            if isinstance(outcome, Placement):
                state.commit(outcome)
        except SimError as exc:
            outcome = Pending(errors=[str(exc)])
        if isinstance(outcome, Placement):
            placed.append(_placed(state, pod, outcome))
        else:
            pending.append(
                {
                    "pod": pod,
                    "claims": [claim_key(c) for c in claims],
                    "reasons": outcome.message.splitlines(),
                }
            )
    cards = _cards(state)
    notes = inputs.notes + state.inventory.ignored
    if args.json:
        report = {
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
    return {"pod": pod, "node": placement.node, "claims": claims}


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
            entry["node"],
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
