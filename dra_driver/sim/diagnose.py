"""Why one device cannot serve one request, judged alone against committed usage.

Owns: ``first_rejection`` (the first reason in a fixed order: pool incomplete/invalid, class and
request selectors, already allocated, capacity (requested, rounded, available), counters, taints,
constraint attributes) and ``summarize`` (per-node Pending reasons built from those verdicts).
A device with no rejection here can still fail together with the others (constraints across
requests, capacity and counters shared by several picks); ``summarize`` says so.
This module must never allocate.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence

from dra_driver.sim.capacity import check_capacity
from dra_driver.sim.checks import DeviceFilter, Rejection
from dra_driver.sim.constraints import attribute_set
from dra_driver.sim.counters import CounterLedger
from dra_driver.sim.inventory import DeviceEntry, Pool
from dra_driver.sim.requests import Alternative, ClaimSpec
from dra_driver.sim.taints import blocking_taint, describe_taint
from dra_driver.sim.usage import Usage

_USAGE_KINDS = frozenset({"in-use", "counter", "taint", "constraint"})


def first_rejection(
    claim: ClaimSpec,
    *,
    alternative: Alternative,
    device: DeviceEntry,
    pool: Pool,
    usage: Usage,
    device_filter: DeviceFilter,
    ledger: CounterLedger,
) -> Rejection | None:
    """The first reason ``device`` cannot serve ``alternative`` of ``claim``, or None."""
    if pool.problem:
        return Rejection("pool", str(pool.problem))
    rejection = device_filter.selectors(alternative, device)
    if rejection is not None:
        return rejection
    admin = alternative.admin_access
    if not admin and device.key in usage.exclusive:
        return Rejection(
            "in-use",
            f"already allocated to claim {usage.exclusive[device.key]}",
            {"holder": usage.exclusive[device.key]},
        )
    verdict = check_capacity(
        device.capacity, alternative.capacity, {} if admin else usage.shared.get(device.key, {})
    )
    if not verdict.ok:
        numbers = {
            "capacity": verdict.capacity,
            "requested": verdict.requested,
            "rounded": verdict.rounded,
            "available": verdict.available,
        }
        shown = ", ".join(f"{k} {v}" for k, v in numbers.items() if v is not None and k != "capacity")
        holders = usage.sharers.get(device.key)
        held = f" (shared by {len(holders)} claim(s))" if holders and verdict.available is not None else ""
        return Rejection(
            "capacity", f"capacity {verdict.capacity!r}: {verdict.reason}: {shown}{held}", numbers
        )
    shared_already = device.key in usage.shared
    if not admin and device.consumes and not (device.allow_multiple and shared_already):
        shortage = ledger.shortage(device)
        if shortage is not None:
            return Rejection(
                "counter",
                str(shortage),
                {"counterSet": shortage.counter_set, "counter": shortage.counter},
            )
    taint = blocking_taint(device.taints, alternative.tolerations)
    if taint is not None:
        return Rejection("taint", f"taint {describe_taint(taint)} is not tolerated", {"taint": dict(taint)})
    for constraint in claim.constraints:
        if constraint.applies(alternative) and attribute_set(device.attribute(constraint.attribute)) is None:
            return Rejection(
                "constraint",
                f"{constraint.kind} {constraint.attribute}: the device has no such attribute",
                {"constraint": constraint.kind, "attribute": constraint.attribute},
            )
    return None


def summarize(
    claims: Sequence[ClaimSpec],
    pools: Sequence[Pool],
    usage: Usage,
    device_filter: DeviceFilter,
    notes: Sequence[str],
) -> list[str]:
    """Why ``claims`` did not fit on the node holding ``pools``: per request, the usable device count
    and the most common rejections; or that they only fail together."""
    ledger = CounterLedger(pools, usage)
    devices = [(pool, device) for pool in pools for device in pool.devices]
    reasons: list[str] = list(notes)
    for claim in claims:
        for request in claim.requests:
            per_alternative = []
            for alternative in request.alternatives:
                verdicts = [
                    first_rejection(
                        claim,
                        alternative=alternative,
                        device=device,
                        pool=pool,
                        usage=usage,
                        device_filter=device_filter,
                        ledger=ledger,
                    )
                    for pool, device in devices
                ]
                usable = sum(1 for v in verdicts if v is None)
                needed = alternative.count
                if alternative.all_devices:
                    # "All" means every device that matches the selectors (and fits the capacity
                    # request) must be free: those ruled out only by usage count as needed.
                    needed = max(1, sum(1 for v in verdicts if v is None or v.kind in _USAGE_KINDS))
                if usable >= needed:
                    continue
                common = Counter(v.message for v in verdicts if v is not None).most_common(3)
                if common:
                    why = "; ".join(f"{n}x {message}" for message, n in common)
                elif devices:  # issue 18 item 19: "4 of 4 usable ... (no devices on this node)"
                    why = f"the node has only {usable}"
                else:
                    why = "no devices on this node"
                where = f"claim {claim.key} request {alternative.result_name}"
                per_alternative.append(
                    f"{where}: {usable} of {len(devices)} device(s) usable, {needed} needed ({why})"
                )
            if len(per_alternative) == len(request.alternatives):
                reasons.extend(per_alternative)
    if len(reasons) == len(notes):
        constraints = [
            f"{c.kind} {c.attribute} over {sorted(c.requests) or 'all requests'} of claim {claim.key}"
            for claim in claims
            for c in claim.constraints
        ]
        reasons.append(
            "every request has enough usable devices on its own, but not all together "
            "(constraints, or capacity and counters shared by several picks)"
            + (f"; constraints: {'; '.join(constraints)}" if constraints else "")
        )
    return reasons
