"""Reading an allocated ResourceClaim for NodePrepareResources, and refusing bad ones.

Owns: fetching the claim the kubelet names, and every check that must pass before anything is
written — the UID is a UUID and matches, the claim is allocated, the allocation is for this node,
and the results for this driver name pools of this node. Returns an ``AllocatedClaim`` holding only
this driver's results and the opaque configs in allocation order.

It must never write anything (files, checkpoint, API): a refused claim leaves no trace.
"""

from __future__ import annotations

from dataclasses import dataclass

from kubernetes.client import ResourceV1ResourceClaim, V1DeviceRequestAllocationResult

from dra_driver.kube import KubeClient, KubeError, NotFound
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
