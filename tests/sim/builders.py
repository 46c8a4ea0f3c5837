"""Small builders for API-shaped dicts (slices, devices, classes, claims) used by the sim tests."""

from __future__ import annotations

from typing import Any

from dra_driver.devices import make_backend
from dra_driver.slices import SharingMode, build_slices

DRIVER = "gpu.example.com"
CLASS = "gpu"


def attrs(**values: Any) -> dict[str, dict[str, Any]]:
    """Attributes from keyword values; a value ``("version", "1.2.3")`` is a version attribute."""
    out: dict[str, dict[str, Any]] = {}
    for key, value in values.items():
        if isinstance(value, tuple):
            out[key] = {value[0]: value[1]}
        elif isinstance(value, bool):
            out[key] = {"bool": value}
        elif isinstance(value, int):
            out[key] = {"int": value}
        else:
            out[key] = {"string": value}
    return out


def device(
    name: str,
    *,
    attributes: dict[str, Any] | None = None,
    capacity: dict[str, Any] | None = None,
    multi: bool = False,
    taints: list[dict[str, Any]] | None = None,
    consumes: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    out: dict[str, Any] = {"name": name}
    if attributes:
        out["attributes"] = attributes
    if capacity:
        out["capacity"] = {k: v if isinstance(v, dict) else {"value": v} for k, v in capacity.items()}
    if multi:
        out["allowMultipleAllocations"] = True
    if taints:
        out["taints"] = taints
    if consumes:
        out["consumesCounters"] = consumes
    return out


def rslice(
    name: str,
    node: str,
    devices: list[dict[str, Any]] | None = None,
    *,
    driver: str = DRIVER,
    pool: str | None = None,
    generation: int = 1,
    count: int = 1,
    counters: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "driver": driver,
        "nodeName": node,
        "pool": {"name": pool or node, "generation": generation, "resourceSliceCount": count},
    }
    if devices:
        spec["devices"] = devices
    if counters:
        spec["sharedCounters"] = counters
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceSlice",
        "metadata": {"name": name},
        "spec": spec,
    }


def device_class(name: str, *selectors: str, config: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    spec: dict[str, Any] = {"selectors": [{"cel": {"expression": s}} for s in selectors]}
    if config:
        spec["config"] = config
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "DeviceClass",
        "metadata": {"name": name},
        "spec": spec,
    }


GPU_CLASS = device_class(CLASS, f'device.driver == "{DRIVER}"')


def exact(
    name: str,
    *selectors: str,
    cls: str = CLASS,
    count: int | None = None,
    mode: str | None = None,
    capacity: dict[str, str] | None = None,
    admin: bool = False,
    tolerations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    body: dict[str, Any] = {"deviceClassName": cls}
    if selectors:
        body["selectors"] = [{"cel": {"expression": s}} for s in selectors]
    if count is not None:
        body["count"] = count
    if mode:
        body["allocationMode"] = mode
    if capacity:
        body["capacity"] = {"requests": capacity}
    if admin:
        body["adminAccess"] = True
    if tolerations:
        body["tolerations"] = tolerations
    return {"name": name, "exactly": body}


def first_available(name: str, *subs: tuple[str, list[str]]) -> dict[str, Any]:
    return {
        "name": name,
        "firstAvailable": [
            {"name": sub, "deviceClassName": CLASS, "selectors": [{"cel": {"expression": s}} for s in sels]}
            for sub, sels in subs
        ],
    }


def claim(
    name: str,
    *requests: dict[str, Any],
    namespace: str = "default",
    constraints: list[dict[str, Any]] | None = None,
    config: list[dict[str, Any]] | None = None,
    annotations: dict[str, str] | None = None,
) -> dict[str, Any]:
    devices: dict[str, Any] = {"requests": list(requests)}
    if constraints:
        devices["constraints"] = constraints
    if config:
        devices["config"] = config
    meta: dict[str, Any] = {"name": name, "namespace": namespace, "uid": f"uid-{name}"}
    if annotations:
        meta["annotations"] = annotations
    return {
        "apiVersion": "resource.k8s.io/v1",
        "kind": "ResourceClaim",
        "metadata": meta,
        "spec": {"devices": devices},
    }


def allocated(
    name: str, node: str, *devices: str, shares: dict[str, dict[str, str]] | None = None
) -> dict[str, Any]:
    """An allocated claim holding ``devices`` (``pool/device`` of DRIVER) on ``node``; ``shares`` maps a
    device to the consumedCapacity of a share of it."""
    results = []
    for ref in devices:
        pool, dev = ref.split("/")
        result: dict[str, Any] = {"request": "r", "driver": DRIVER, "pool": pool, "device": dev}
        if shares and ref in shares:
            result["shareID"] = f"share-{name}-{dev}"
            result["consumedCapacity"] = shares[ref]
        results.append(result)
    body = claim(name, exact("r"))
    body["status"] = {
        "allocation": {
            "devices": {"results": results},
            "nodeSelector": {
                "nodeSelectorTerms": [
                    {"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}
                ]
            },
        }
    }
    return body


def mock_slices(node: str, profile: str, mode: SharingMode = SharingMode.CAPACITY) -> list[dict[str, Any]]:
    """The slices hdra publishes for a mock node, as API dicts."""
    cards = make_backend("mock", node_name=node, profile=profile).discover()
    built = build_slices(cards, driver="mock.hdra.io", node_name=node, mode=mode)
    return [s.model_dump(by_alias=True, exclude_none=True, mode="json") for s in built]
