"""Comparing slices: what the API server dropped, and what a slice's content is.

Owns: ``dropped_gates`` (which feature gate's fields vanished between the slice we wrote and the
one the API server returned) and ``slice_content`` (the comparable content of a slice). It must
never talk to an API server or decide what to do about a difference; the controller does.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from dra_driver.kube.features import FeatureGate
from dra_driver.kube.models import Device, ResourceSlice
from dra_driver.kube.quantity import normalize_quantity

# Device fields and the gate that makes the API server keep them (reference/dra-api.md 1.7).
# bindsToNode & co. need DRAResourceClaimDeviceStatus too; the binding-conditions gate is named.
_DEVICE_FIELDS: tuple[tuple[FeatureGate, Callable[[Device], bool]], ...] = (
    (FeatureGate.DRA_CONSUMABLE_CAPACITY, lambda d: d.allow_multiple_allocations is not None),
    (FeatureGate.DRA_PARTITIONABLE_DEVICES, lambda d: bool(d.consumes_counters)),
    (
        FeatureGate.DRA_PARTITIONABLE_DEVICES,
        lambda d: d.node_name is not None or d.node_selector is not None or d.all_nodes is not None,
    ),
    (FeatureGate.DRA_DEVICE_TAINTS, lambda d: bool(d.taints)),
    (
        FeatureGate.DRA_DEVICE_BINDING_CONDITIONS,
        lambda d: (
            d.binds_to_node is not None or bool(d.binding_conditions) or bool(d.binding_failure_conditions)
        ),
    ),
)

# Every string below these keys is a quantity (capacity values and policies, counter values),
# which the server re-spells in canonical form.
_QUANTITY_SUBTREES = frozenset({"capacity", "counters"})


def dropped_gates(sent: ResourceSlice, stored: ResourceSlice) -> set[FeatureGate]:
    """The gates whose fields were in ``sent`` but are missing from ``stored``.

    Devices are matched by name; a device missing from ``stored`` altogether is not a dropped
    field and is ignored here. An empty set means the server kept every gated field we wrote.
    """
    dropped: set[FeatureGate] = set()
    if sent.spec.shared_counters and not stored.spec.shared_counters:
        dropped.add(FeatureGate.DRA_PARTITIONABLE_DEVICES)
    if sent.spec.per_device_node_selection is not None and stored.spec.per_device_node_selection is None:
        dropped.add(FeatureGate.DRA_PARTITIONABLE_DEVICES)
    kept = {device.name: device for device in stored.spec.devices or []}
    for device in sent.spec.devices or []:
        back = kept.get(device.name)
        if back is None:
            continue
        for gate, present in _DEVICE_FIELDS:
            if present(device) and not present(back):
                dropped.add(gate)
        returned = back.capacity or {}
        for key, capacity in (device.capacity or {}).items():
            if capacity.request_policy is not None and (
                key not in returned or returned[key].request_policy is None
            ):
                dropped.add(FeatureGate.DRA_CONSUMABLE_CAPACITY)
    return dropped


def slice_content(slice_: ResourceSlice) -> dict[str, Any]:
    """The spec without ``pool.generation``: equal for two slices that publish the same thing.

    Stable and JSON-able: quantities are spelled by value (``40Gi`` == ``40960Mi``), empty lists
    and maps equal absent ones (the server omits empty ``devices`` from 1.35), and the
    server-filled ``timeAdded`` of taints is left out. Device order is kept: it is part of the
    content (allocation preference).
    """
    spec = slice_.spec.model_dump(by_alias=True, exclude_none=True, mode="json")
    pool = dict(spec.get("pool", {}))
    pool.pop("generation", None)
    spec["pool"] = pool
    for device in spec.get("devices", []):
        for taint in device.get("taints", []):
            taint.pop("timeAdded", None)
    return _clean_map(spec, quantities=False)


def _clean_map(value: dict[str, Any], *, quantities: bool) -> dict[str, Any]:
    """Sort keys and drop empty members; below ``capacity`` and ``counters`` strings are quantities."""
    result: dict[str, Any] = {}
    for name in sorted(value):
        item = _clean(value[name], quantities=quantities or name in _QUANTITY_SUBTREES)
        if item is not None and item not in ([], {}):
            result[name] = item
    return result


def _clean(value: Any, *, quantities: bool) -> Any:
    if isinstance(value, dict):
        return _clean_map(value, quantities=quantities)
    if isinstance(value, list):
        return [_clean(item, quantities=quantities) for item in value]
    if quantities and isinstance(value, str):
        return normalize_quantity(value)
    return value
