"""``hdra explain``: why a ResourceClaim is pending (or where it would go), per request and device.

The claim comes from a file (``--claim FILE``) or is named ``NS/NAME`` and looked up in the
cluster (``--kubeconfig``) or in ``--claims`` files. Slices and classes come from files or the
cluster; other allocated claims found there hold their devices. Without DeviceClasses the default
class per hdra driver is assumed, and the output says so. A claim reserved for several pods whose
requests HAMi-core may enforce gets a note: one PID namespace at a time (DESIGN §5). Nothing is
written anywhere.
"""

from __future__ import annotations

import argparse
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from dra_driver.cli.common import CommandError
from dra_driver.cli.sim_inputs import add_gate_arguments, build_state, gates_from, gather, read_files
from dra_driver.rules.regions import ONE_NAMESPACE_FIX, intercepted_requests
from dra_driver.sim import Policy, SimError, explain_claim, render_explanation
from dra_driver.sim.placement import claim_key


def add_parser(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    parser = subparsers.add_parser("explain", help="explain why a claim is or is not allocatable")
    parser.add_argument(
        "name", nargs="?", metavar="NS/NAME", help="the claim, looked up in the cluster or --claims"
    )
    parser.add_argument("--claim", type=Path, metavar="FILE", help="a file holding the claim")
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--slices", type=Path, nargs="+", metavar="FILE", help="ResourceSlice files")
    source.add_argument(
        "--kubeconfig", type=Path, metavar="K", help="read slices, classes and claims from a cluster"
    )
    parser.add_argument("--classes", type=Path, nargs="+", metavar="FILE", help="DeviceClass files")
    parser.add_argument(
        "--claims", type=Path, nargs="+", metavar="FILE", help="other claims (allocated ones hold devices)"
    )
    parser.add_argument(
        "--policy",
        choices=[p.value for p in Policy],
        default=Policy.FIRST_FIT.value,
        help="node and card order: first-fit (default: published order, nodes by name), binpack or spread",
    )
    add_gate_arguments(parser)
    parser.add_argument("--json", action="store_true", help="print JSON instead of text")
    parser.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    if bool(args.name) == bool(args.claim):
        raise CommandError("name the claim either as NS/NAME or with --claim FILE (exactly one)")
    gates = gates_from(args)
    inputs = gather(args)
    candidates = inputs.allocated_claims + inputs.pending_claims
    if args.claim:
        found = read_files([args.claim]).claims
        if len(found) != 1:
            raise CommandError(
                f"--claim {args.claim}: expected exactly one ResourceClaim, found {len(found)}"
            )
        claim = found[0]
    else:
        key = args.name if "/" in args.name else f"default/{args.name}"
        matches = [c for c in candidates if claim_key(c) == key]
        if not matches:
            raise CommandError(
                f"claim {key} not found in the {'cluster' if args.kubeconfig else '--claims files'}"
            )
        claim = matches[0]
    key = claim_key(claim)
    inputs.allocated_claims = [c for c in inputs.allocated_claims if claim_key(c) != key]
    state = build_state(inputs, gates=gates)
    try:
        explanation = explain_claim(claim, state, policy=args.policy)
    except SimError as exc:
        raise CommandError(str(exc)) from exc
    explanation.notes.extend(_sharing_notes(claim))
    print(render_explanation(explanation, "json" if args.json else "text"), end="")
    return 0


def _sharing_notes(claim: Mapping[str, Any]) -> list[str]:
    """A note when several pods hold a claim whose limits HAMi-core may enforce (``rules.regions``)."""
    status = claim.get("status") or {}
    pods = [str(r.get("name")) for r in status.get("reservedFor") or [] if r.get("resource") == "pods"]
    requests = intercepted_requests(claim.get("spec") or {})
    if len(pods) < 2 or not requests:
        return []
    return [
        f"reserved for {len(pods)} pods ({', '.join(pods)}) while requests {', '.join(requests)} may get "
        "HAMi-core limits: only one of them runs at a time, the others' containers are refused by hdra's "
        f"CDI hook until it ends; {ONE_NAMESPACE_FIX}"
    ]
