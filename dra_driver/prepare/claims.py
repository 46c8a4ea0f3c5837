"""Reading an allocated ResourceClaim for NodePrepareResources, and refusing bad ones.

Owns: fetching the claim the kubelet names, and every check that must pass before anything is
written — the UID is a UUID and matches, the claim is allocated, the allocation is for this node,
the results for this driver name pools of this node, and the requests they answer ask for no
negative capacity (the API server stores one, and the scheduler rounds it up to the device's
minimum, so a claim for ``memory: -3000Mi`` would run with 1 MiB; it is refused with the cause).
Returns an ``AllocatedClaim`` holding only this driver's results and the opaque configs in
allocation order.

The claim is read as raw JSON (``get_json``) and only what prepare uses is modelled
(``AllocationResult``): the full generated model costs several times the round trip on this hot
path (issue 17). A field of the wrong JSON type is refused naming its path.

It must never write anything (files, checkpoint, API): a refused claim leaves no trace.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from dra_driver.kube import KubeClient, KubeError, NotFound
from dra_driver.kube.quantity import parse_quantity
from dra_driver.parameters import OpaqueConfigEntry
from dra_driver.parameters.resolve import SOURCES
from dra_driver.prepare.api import ClaimRef, PrepareError
from dra_driver.rules import claim_uid_problem


@dataclass(frozen=True)
class AllocationResult:
    """One entry of ``status.allocation.devices.results`` (the fields prepare uses)."""

    request: str
    driver: str
    pool: str
    device: str
    share_id: str | None = None
    consumed_capacity: Mapping[str, str] | None = field(default=None)


@dataclass(frozen=True)
class AllocatedClaim:
    """This driver's part of an allocated claim."""

    ref: ClaimRef
    results: tuple[AllocationResult, ...]
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
        obj = client.resource_claims.get_json(claim.namespace, claim.name)
    except NotFound:
        raise PrepareError(f"claim {claim}: not found in the API server") from None
    except KubeError as exc:
        raise PrepareError(f"claim {claim}: cannot read it from the API server: {exc}") from exc
    return allocated_claim(claim, obj, driver=driver, node_name=node_name)


def allocated_claim(
    claim: ClaimRef, obj: Mapping[str, Any], *, driver: str, node_name: str
) -> AllocatedClaim:
    """The checks of ``read_allocated_claim`` on the claim's JSON ``obj``."""
    fields = _Fields(claim)
    actual_uid = fields.obj(obj.get("metadata"), "metadata").get("uid")
    if actual_uid != claim.uid:
        raise PrepareError(
            f"claim {claim}: the API server has uid {actual_uid} for {claim.namespace}/{claim.name}; "
            "the kubelet asked for another (deleted and re-created?)"
        )
    allocation = fields.obj(fields.obj(obj.get("status"), "status").get("allocation"), "status.allocation")
    devices = allocation.get("devices")
    if not allocation or devices is None:
        raise PrepareError(f"claim {claim}: not allocated")
    devices = fields.obj(devices, "status.allocation.devices")
    _check_node(claim, fields, allocation.get("nodeSelector"), node_name)
    results = tuple(
        _result(fields, raw, f"status.allocation.devices.results[{index}]")
        for index, raw in enumerate(fields.array(devices.get("results"), "status.allocation.devices.results"))
        if fields.obj(raw, f"status.allocation.devices.results[{index}]").get("driver") == driver
    )
    if not results:
        raise PrepareError(f"claim {claim}: the allocation has no device of driver {driver}")
    for result in results:
        if result.pool != node_name:
            raise PrepareError(
                f"claim {claim}: device {result.device} is allocated from pool {result.pool}, "
                f"not from this node's pool {node_name}"
            )
    _check_capacity_requests(claim, fields, obj.get("spec"), results)
    configs: list[OpaqueConfigEntry] = []
    for index, raw in enumerate(fields.array(devices.get("config"), "status.allocation.devices.config")):
        path = f"status.allocation.devices.config[{index}]"
        entry = fields.obj(raw, path)
        opaque = entry.get("opaque")
        if opaque is None:
            continue
        opaque = fields.obj(opaque, f"{path}.opaque")
        source = entry.get("source")
        if source not in SOURCES:
            raise PrepareError(f"claim {claim}: {path}.source is {source!r}, not one of {', '.join(SOURCES)}")
        configs.append(
            OpaqueConfigEntry(
                source=source,
                requests=tuple(fields.strings(entry.get("requests"), f"{path}.requests")),
                driver=fields.string(opaque.get("driver"), f"{path}.opaque.driver"),
                parameters=opaque.get("parameters"),
                path=f"{path}.opaque.parameters",
            )
        )
    return AllocatedClaim(ref=claim, results=results, configs=tuple(configs))


class _Fields:
    """Typed access to the claim's JSON; a value of the wrong type is a PrepareError naming its path."""

    def __init__(self, claim: ClaimRef) -> None:
        self.claim = claim

    def _wrong(self, path: str, expected: str, value: object) -> PrepareError:
        return PrepareError(f"claim {self.claim}: {path} is a {type(value).__name__}, not {expected}")

    def obj(self, value: object, path: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, dict):
            raise self._wrong(path, "an object", value)
        return value

    def array(self, value: object, path: str) -> list[Any]:
        if value is None:
            return []
        if not isinstance(value, list):
            raise self._wrong(path, "a list", value)
        return value

    def string(self, value: object, path: str) -> str:
        if value is None:
            raise PrepareError(f"claim {self.claim}: {path} is missing")
        if not isinstance(value, str):
            raise self._wrong(path, "a string", value)
        return value

    def strings(self, value: object, path: str) -> list[str]:
        return [self.string(item, f"{path}[{i}]") for i, item in enumerate(self.array(value, path))]

    def quantities(self, value: object, path: str) -> dict[str, str]:
        return {str(k): str(v) for k, v in self.obj(value, path).items()}


def _result(fields: _Fields, raw: object, path: str) -> AllocationResult:
    result = fields.obj(raw, path)
    share = result.get("shareID")
    consumed = result.get("consumedCapacity")
    return AllocationResult(
        request=fields.string(result.get("request"), f"{path}.request"),
        driver=fields.string(result.get("driver"), f"{path}.driver"),
        pool=fields.string(result.get("pool"), f"{path}.pool"),
        device=fields.string(result.get("device"), f"{path}.device"),
        share_id=None if share is None else fields.string(share, f"{path}.shareID"),
        consumed_capacity=None
        if consumed is None
        else fields.quantities(consumed, f"{path}.consumedCapacity"),
    )


def _check_capacity_requests(
    claim: ClaimRef, fields: _Fields, spec: object, results: tuple[AllocationResult, ...]
) -> None:
    """No request of ours may ask for a negative capacity (``capacity.requests`` of its spec)."""
    requested: dict[str, dict[str, str]] = {}
    devices = fields.obj(fields.obj(spec, "spec").get("devices"), "spec.devices")
    for index, raw in enumerate(fields.array(devices.get("requests"), "spec.devices.requests")):
        path = f"spec.devices.requests[{index}]"
        request = fields.obj(raw, path)
        name = fields.string(request.get("name"), f"{path}.name")
        exactly = fields.obj(request.get("exactly"), f"{path}.exactly")
        capacity = fields.obj(exactly.get("capacity"), f"{path}.exactly.capacity")
        if capacity:
            requested[name] = fields.quantities(capacity.get("requests"), f"{path}.exactly.capacity.requests")
        for sub_index, sub_raw in enumerate(
            fields.array(request.get("firstAvailable"), f"{path}.firstAvailable")
        ):
            sub_path = f"{path}.firstAvailable[{sub_index}]"
            sub = fields.obj(sub_raw, sub_path)
            sub_capacity = fields.obj(sub.get("capacity"), f"{sub_path}.capacity")
            if sub_capacity:
                sub_name = fields.string(sub.get("name"), f"{sub_path}.name")
                requested[f"{name}/{sub_name}"] = fields.quantities(
                    sub_capacity.get("requests"), f"{sub_path}.capacity.requests"
                )
    for name in sorted({r.request for r in results}):
        for capacity_name, text in sorted(requested.get(name, {}).items()):
            try:
                negative = parse_quantity(text) < 0
            except ValueError:
                negative = False  # the API server accepted it as a quantity; the scheduler judged it
            if negative:
                raise PrepareError(
                    f"claim {claim}: request {name} asks for {capacity_name} {text}, a negative amount; "
                    "the scheduler rounds it up to the device's minimum, which is not what the claim "
                    "means, so it is not prepared: ask for a positive amount"
                )


def _check_node(claim: ClaimRef, fields: _Fields, selector: object, node_name: str) -> None:
    """The allocation's node selector must select this node by name (node-local devices)."""
    if selector is None:
        return  # network-attached devices have none; our pools are checked per result instead
    path = "status.allocation.nodeSelector"
    names: set[str] = set()
    terms = fields.array(fields.obj(selector, path).get("nodeSelectorTerms"), f"{path}.nodeSelectorTerms")
    for index, raw in enumerate(terms):
        term_path = f"{path}.nodeSelectorTerms[{index}]"
        term = fields.obj(raw, term_path)
        for field_index, raw_field in enumerate(
            fields.array(term.get("matchFields"), f"{term_path}.matchFields")
        ):
            match = fields.obj(raw_field, f"{term_path}.matchFields[{field_index}]")
            if match.get("key") == "metadata.name" and match.get("operator") == "In":
                names.update(
                    fields.strings(match.get("values"), f"{term_path}.matchFields[{field_index}].values")
                )
    if names and node_name not in names:
        raise PrepareError(
            f"claim {claim}: allocated for node {', '.join(sorted(names))}, not for this node {node_name}"
        )


def parent_request(name: str) -> str:
    """``gpu/a100`` → ``gpu``: the kubelet matches containers against the parent request."""
    return name.split("/", 1)[0]
