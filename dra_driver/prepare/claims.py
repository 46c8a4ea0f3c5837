"""Reading an allocated ResourceClaim for NodePrepareResources, and refusing bad ones.

Owns: fetching the claim the kubelet names, and every check that must pass before anything is
written — the UID is a UUID and matches, the claim is allocated, the allocation is for this node,
the results for this driver name pools of this node, and the requests they answer ask for no
negative capacity (the API server stores one, and the scheduler rounds it up to the device's
minimum, so a claim for ``memory: -3000Mi`` would run with 1 MiB; it is refused with the cause).
Returns an ``AllocatedClaim`` holding only this driver's results and the opaque configs in
allocation order.

It must never write anything (files, checkpoint, API): a refused claim leaves no trace.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes.client import ResourceV1ResourceClaim, V1DeviceRequestAllocationResult

from dra_driver.kube import KubeClient, KubeError, NotFound
from dra_driver.kube.quantity import parse_quantity
from dra_driver.parameters import OpaqueConfigEntry
from dra_driver.parameters.resolve import SOURCES
from dra_driver.prepare.api import ClaimRef, PrepareError
from dra_driver.rules import claim_uid_problem


@dataclass(frozen=True)
class AllocatedClaim:
    """This driver's part of an allocated claim."""

    ref: ClaimRef
    results: tuple[V1DeviceRequestAllocationResult, ...]
    configs: tuple[OpaqueConfigEntry, ...]


def check_claim_uid(claim: ClaimRef) -> None:
    """The UID names files on disk: the one claim UID rule (``dra_driver.rules.uids``) applies."""
    problem = claim_uid_problem(claim.uid)
    if problem is not None:
        raise PrepareError(f"claim {claim.namespace}/{claim.name}: uid {problem}")


def read_allocated_claim(
    client: KubeClient, claim: ClaimRef, *, driver: str, node_name: str
) -> AllocatedClaim:
    """GET the claim and check it is ours to prepare; raises PrepareError naming the cause."""
    check_claim_uid(claim)
    try:
        obj = client.resource_claims.get(claim.namespace, claim.name)
    except NotFound:
        raise PrepareError(f"claim {claim}: not found in the API server") from None
    except KubeError as exc:
        raise PrepareError(f"claim {claim}: cannot read it from the API server: {exc}") from exc
    actual_uid = obj.metadata.uid if obj.metadata is not None else None
    if actual_uid != claim.uid:
        raise PrepareError(
            f"claim {claim}: the API server has uid {actual_uid} for {claim.namespace}/{claim.name}; "
            "the kubelet asked for another (deleted and re-created?)"
        )
    allocation = obj.status.allocation if obj.status is not None else None
    if allocation is None or allocation.devices is None:
        raise PrepareError(f"claim {claim}: not allocated")
    _check_node(claim, obj, node_name)
    results = tuple(r for r in allocation.devices.results or [] if r.driver == driver)
    if not results:
        raise PrepareError(f"claim {claim}: the allocation has no device of driver {driver}")
    for result in results:
        if result.pool != node_name:
            raise PrepareError(
                f"claim {claim}: device {result.device} is allocated from pool {result.pool}, "
                f"not from this node's pool {node_name}"
            )
    _check_capacity_requests(claim, obj, results)
    configs: list[OpaqueConfigEntry] = []
    for index, entry in enumerate(allocation.devices.config or []):
        if entry.opaque is None:
            continue
        path = f"status.allocation.devices.config[{index}]"
        if entry.source not in SOURCES:
            raise PrepareError(
                f"claim {claim}: {path}.source is {entry.source!r}, not one of {', '.join(SOURCES)}"
            )
        configs.append(
            OpaqueConfigEntry(
                source=entry.source,
                requests=tuple(entry.requests or ()),
                driver=entry.opaque.driver,
                parameters=entry.opaque.parameters,
                path=f"{path}.opaque.parameters",
            )
        )
    return AllocatedClaim(ref=claim, results=results, configs=tuple(configs))


def _check_capacity_requests(
    claim: ClaimRef, obj: ResourceV1ResourceClaim, results: tuple[V1DeviceRequestAllocationResult, ...]
) -> None:
    """No request of ours may ask for a negative capacity (``capacity.requests`` of its spec)."""
    requested: dict[str, dict[str, str]] = {}
    devices = obj.spec.devices if obj.spec is not None else None
    for request in (devices.requests if devices is not None else None) or []:
        if request.exactly is not None and request.exactly.capacity is not None:
            requested[request.name] = dict(request.exactly.capacity.requests or {})
        for sub in request.first_available or []:
            if sub.capacity is not None:
                requested[f"{request.name}/{sub.name}"] = dict(sub.capacity.requests or {})
    for name in sorted({r.request for r in results}):
        for capacity, text in sorted(requested.get(name, {}).items()):
            try:
                negative = parse_quantity(str(text)) < 0
            except ValueError:
                negative = False  # the API server accepted it as a quantity; the scheduler judged it
            if negative:
                raise PrepareError(
                    f"claim {claim}: request {name} asks for {capacity} {text}, a negative amount; "
                    "the scheduler rounds it up to the device's minimum, which is not what the claim "
                    "means, so it is not prepared: ask for a positive amount"
                )


def _check_node(claim: ClaimRef, obj: ResourceV1ResourceClaim, node_name: str) -> None:
    """The allocation's node selector must select this node by name (node-local devices)."""
    allocation = obj.status.allocation if obj.status is not None else None
    selector = allocation.node_selector if allocation is not None else None
    if selector is None:
        return  # network-attached devices have none; our pools are checked per result instead
    names: set[str] = set()
    for term in selector.node_selector_terms or []:
        for field in term.match_fields or []:
            if field.key == "metadata.name" and field.operator == "In":
                names.update(field.values or [])
    if names and node_name not in names:
        raise PrepareError(
            f"claim {claim}: allocated for node {', '.join(sorted(names))}, not for this node {node_name}"
        )


def parent_request(name: str) -> str:
    """``gpu/a100`` → ``gpu``: the kubelet matches containers against the parent request."""
    return name.split("/", 1)[0]
