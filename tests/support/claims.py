"""Test support: allocated ResourceClaims written the way the kube-scheduler writes them."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from dra_driver.kube import KubeClient
from dra_driver.kube.models import ResourceClaim


@dataclass(frozen=True)
class Result:
    """One allocation result; ``consumed`` is consumedCapacity (capacity mode only)."""

    device: str
    request: str = "gpu"
    consumed: dict[str, str] | None = None
    share_id: str | None = None
    driver: str = "mock.hdra.io"
    pool: str | None = None


@dataclass(frozen=True)
class Config:
    parameters: Any
    requests: tuple[str, ...] = ()
    source: str = "FromClaim"
    driver: str = "mock.hdra.io"


@dataclass
class ClaimSpec:
    name: str
    results: list[Result]
    namespace: str = "default"
    configs: list[Config] = field(default_factory=list)
    node: str = "node-a"
    capacity: dict[str, str] | None = None  # exactly.capacity.requests of every request


def create_allocated_claim(kube: KubeClient, spec: ClaimSpec) -> ResourceClaim:
    """Create the claim, then write status.allocation as the scheduler would; returns the stored claim."""
    requests = sorted({r.request.split("/")[0] for r in spec.results})
    body = ResourceClaim.model_validate(
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "ResourceClaim",
            "metadata": {"name": spec.name, "namespace": spec.namespace},
            "spec": {
                "devices": {
                    "requests": [
                        {
                            "name": r,
                            "exactly": {
                                "deviceClassName": "mock.hdra.io",
                                **({"capacity": {"requests": spec.capacity}} if spec.capacity else {}),
                            },
                        }
                        for r in requests
                    ]
                }
            },
        }
    )
    created = kube.resource_claims.create(spec.namespace, body)
    results: list[dict[str, Any]] = []
    for r in spec.results:
        item: dict[str, Any] = {
            "request": r.request,
            "driver": r.driver,
            "pool": r.pool or spec.node,
            "device": r.device,
        }
        if r.consumed is not None:
            item["consumedCapacity"] = r.consumed
        if r.share_id is not None:
            item["shareID"] = r.share_id
        results.append(item)
    created_dict = created.model_dump(by_alias=True, exclude_none=True, mode="json")
    created_dict["status"] = {
        "allocation": {
            "devices": {
                "results": results,
                "config": [
                    {
                        "source": c.source,
                        "requests": list(c.requests),
                        "opaque": {"driver": c.driver, "parameters": c.parameters},
                    }
                    for c in spec.configs
                ],
            },
            "nodeSelector": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [spec.node]}]}
                ]
            },
        }
    }
    return kube.resource_claims.update_status(spec.namespace, ResourceClaim.model_validate(created_dict))
