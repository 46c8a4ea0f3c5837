"""``status.allocation`` exactly as kube-scheduler writes it, and ``reservedFor`` entries.

Owns: ``build_allocation`` and ``reserve``. Results list one entry per device in the order the
devices were picked (request order), with ``request`` (``<req>/<sub>`` for a sub-request),
``driver``, ``pool``, ``device``, plus ``adminAccess: true``, the request's ``tolerations``,
``bindingConditions``/``bindingFailureConditions`` of the device, and for devices with
``allowMultipleAllocations`` a fresh ``shareID`` and ``consumedCapacity`` listing every capacity.
``devices.config`` holds each used class's configs once (``FromClass``, with the requests using
that class), then the claim's configs that name a chosen request or sub-request or no request
(``FromClaim``); a config that applies to every request has its ``requests`` dropped. The node
selector is one ``matchFields metadata.name In [node]`` term. This module must never search.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dra_driver.sim.requests import Alternative, ClaimSpec, DeviceClassInfo
from dra_driver.sim.search import Picked


def node_selector(node: str) -> dict[str, Any]:
    return {
        "nodeSelectorTerms": [{"matchFields": [{"key": "metadata.name", "operator": "In", "values": [node]}]}]
    }


def build_allocation(
    claim: ClaimSpec,
    picked: Sequence[Picked],
    *,
    chosen: Mapping[int, Alternative],
    classes: Mapping[str, DeviceClassInfo],
    node: str,
    new_share_id: Callable[[], str],
) -> dict[str, Any]:
    """The allocation of ``claim`` from its picks; ``chosen`` maps request index → alternative."""
    results = [_result(p, new_share_id) for p in picked]
    config = _configs(claim, chosen, classes)
    devices: dict[str, Any] = {"results": results}
    if config:
        devices["config"] = config
    return {"devices": devices, "nodeSelector": node_selector(node)}


def _result(picked: Picked, new_share_id: Callable[[], str]) -> dict[str, Any]:
    device = picked.device
    alternative = picked.alternative
    result: dict[str, Any] = {
        "request": alternative.result_name,
        "driver": device.driver,
        "pool": device.pool,
        "device": device.name,
    }
    if alternative.admin_access:
        result["adminAccess"] = True
    if alternative.tolerations:
        result["tolerations"] = [dict(t) for t in alternative.tolerations]
    for field in ("bindingConditions", "bindingFailureConditions"):
        if device.raw.get(field):
            result[field] = list(device.raw[field])
    if picked.consumed is not None:
        result["shareID"] = new_share_id()
        result["consumedCapacity"] = {
            name: amount.formatted() for name, amount in sorted(picked.consumed.items())
        }
    return result


def _configs(
    claim: ClaimSpec, chosen: Mapping[int, Alternative], classes: Mapping[str, DeviceClassInfo]
) -> list[dict[str, Any]]:
    entries: list[dict[str, Any]] = []
    class_entries: dict[str, list[dict[str, Any]]] = {}
    for index in range(len(claim.requests)):
        alternative = chosen[index]
        device_class = classes.get(alternative.class_name)
        if device_class is None:
            continue
        if device_class.name in class_entries:
            for entry in class_entries[device_class.name]:
                entry["requests"].append(alternative.result_name)
            continue
        added = [
            {"source": "FromClass", "requests": [alternative.result_name], **copy.deepcopy(dict(config))}
            for config in device_class.config
        ]
        class_entries[device_class.name] = added
        entries.extend(added)
    names = {request.name for request in claim.requests} | {a.result_name for a in chosen.values()}
    for config in claim.config:
        wanted = list(config.get("requests") or ())
        if wanted and not set(wanted) & names:
            continue
        body = {k: copy.deepcopy(v) for k, v in config.items() if k != "requests"}
        entries.append({"source": "FromClaim", **({"requests": wanted} if wanted else {}), **body})
    for entry in entries:
        requests = entry.get("requests")
        if requests and all(
            request.name in requests or chosen[i].result_name in requests
            for i, request in enumerate(claim.requests)
        ):
            del entry["requests"]
    return entries


def reserve(claim: Mapping[str, Any], pod: Mapping[str, Any] | tuple[str, str]) -> dict[str, Any]:
    """A copy of ``claim`` with ``pod`` (a Pod dict, or ``(name, uid)``) in ``status.reservedFor``.

    Like the scheduler: entries are ``{resource: "pods", name, uid}`` (core group, so no
    ``apiGroup``), keyed by uid; reserving the same pod twice changes nothing.
    """
    if isinstance(pod, tuple):
        name, uid = pod
    else:
        meta = pod.get("metadata") or {}
        name, uid = str(meta.get("name") or ""), str(meta.get("uid") or "")
    if not name or not uid:
        raise ValueError(f"reserve: the pod needs a name and a uid, got name={name!r} uid={uid!r}")
    updated = copy.deepcopy(dict(claim))
    status = updated.setdefault("status", {})
    if not status.get("allocation"):
        claim_name = (updated.get("metadata") or {}).get("name")
        raise ValueError(f"reserve: claim {claim_name!r} is not allocated (status.allocation is empty)")
    reserved = status.setdefault("reservedFor", [])
    if not any(entry.get("uid") == uid for entry in reserved):
        reserved.append({"resource": "pods", "name": name, "uid": uid})
    return updated
