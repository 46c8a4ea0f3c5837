"""``status.allocation`` exactly as kube-scheduler writes it, and ``reservedFor`` entries.

Owns: ``build_allocation`` and ``reserve``. It follows the result part of d-r-a ``Allocate``
(structured/internal/incubating/allocator_incubating.go, v0.36.3):

* results: one entry per device in the order they were picked, with ``request`` (``<req>/<sub>``
  for a sub-request), ``driver``, ``pool``, ``device``, ``adminAccess: true`` for admin access, the
  request's ``tolerations``, for a device with ``allowMultipleAllocations`` (DRAConsumableCapacity)
  a fresh ``shareID`` and, when the device has capacities, ``consumedCapacity`` for each, and (with
  binding conditions enabled) the device's ``bindingConditions``/``bindingFailureConditions``;
* ``devices.config``: per request in order, the chosen class's configs once (``FromClass``; a later
  request with the same class is appended to their ``requests``), then each claim config: those
  without ``requests`` once, the others once per request that they name (by request name, or the
  chosen ``<req>/<sub>``), with ``requests`` as written;
* ``nodeSelector``: a ``metadata.name In [node]`` term as soon as one device comes from a slice with
  ``nodeName`` (or a device with ``nodeName`` under ``perDeviceNodeSelection``, or ``bindsToNode``);
  otherwise the merged requirements of the devices' one-term node selectors, or none at all for
  devices available on every node (more than one term is an ``AllocatorError``).
This module must never search.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from dra_driver.sim.errors import AllocatorError
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
    binding_conditions: bool = True,
) -> dict[str, Any]:
    """The allocation of ``claim`` from its picks; ``chosen`` maps request index → alternative."""
    results = [_result(p, new_share_id, binding_conditions) for p in picked]
    config = _configs(claim, chosen, classes)
    devices: dict[str, Any] = {"results": results}
    if config:
        devices["config"] = config
    allocation: dict[str, Any] = {"devices": devices}
    selector = _node_selector(claim, picked, node)
    if selector is not None:
        allocation["nodeSelector"] = selector
    return allocation


def _result(picked: Picked, new_share_id: Callable[[], str], binding_conditions: bool) -> dict[str, Any]:
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
    if binding_conditions:
        for field in ("bindingConditions", "bindingFailureConditions"):
            if device.raw.get(field):
                result[field] = list(device.raw[field])
    if picked.shared:
        result["shareID"] = new_share_id()
        if picked.consumed:
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
            {"source": "FromClass", "requests": [alternative.result_name], **_body(config)}
            for config in device_class.config
        ]
        class_entries[device_class.name] = added
        entries.extend(added)
    for config in claim.config:
        wanted = list(config.get("requests") or ())
        if not wanted:
            entries.append({"source": "FromClaim", **_body(config)})
            continue
        for index, request in enumerate(claim.requests):
            alternative = chosen[index]
            if request.name in wanted or (alternative.sub is not None and alternative.result_name in wanted):
                entries.append({"source": "FromClaim", "requests": list(wanted), **_body(config)})
    return entries


def _body(config: Mapping[str, Any]) -> dict[str, Any]:
    return {k: copy.deepcopy(v) for k, v in config.items() if k not in ("requests", "source")}


def _node_selector(claim: ClaimSpec, picked: Sequence[Picked], node: str) -> dict[str, Any] | None:
    fields: list[Mapping[str, Any]] = []
    expressions: list[Mapping[str, Any]] = []
    for pick in picked:
        device = pick.device
        if device.slice.per_device:
            name, selector = device.node_name, device.node_selector
        else:
            name, selector = device.slice.node_name, device.slice.node_selector
        if name is not None or device.binds_to_node:
            return node_selector(node)
        if selector is None:
            continue
        terms = list(selector.get("nodeSelectorTerms") or ())
        if len(terms) > 1:
            raise AllocatorError(
                f"create NodeSelector for claim {claim.name}: unsupported ResourceSlice.NodeSelector with "
                f"{len(terms)} terms"
            )
        if terms:
            _merge(terms[0].get("matchFields") or (), fields)
            _merge(terms[0].get("matchExpressions") or (), expressions)
    if not fields and not expressions:
        return None
    term: dict[str, Any] = {}
    if expressions:
        term["matchExpressions"] = [copy.deepcopy(dict(r)) for r in expressions]
    if fields:
        term["matchFields"] = [copy.deepcopy(dict(r)) for r in fields]
    return {"nodeSelectorTerms": [term]}


def _merge(new: Sequence[Mapping[str, Any]], into: list[Mapping[str, Any]]) -> None:
    for requirement in new:
        values = set(requirement.get("values") or ())
        if not any(
            r.get("key") == requirement.get("key")
            and r.get("operator") == requirement.get("operator")
            and set(r.get("values") or ()) == values
            for r in into
        ):
            into.append(requirement)


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
