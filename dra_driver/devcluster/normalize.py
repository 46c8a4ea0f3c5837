"""What the real API server makes of a resource.k8s.io/v1 object before validating and storing it.

Owns, for ResourceSlices, ResourceClaims (spec and status) and ResourceClaimTemplates:

* quantities decoded as upstream's JSON decoder does: a malformed one makes the whole request a
  400 BadRequest (``<Kind> in version "v1" cannot be handled as a <Kind>: quantities must match
  the regular expression ...``), a valid one is re-spelled canonically (``1024Mi`` → ``1Gi``,
  ``kube.quantity.canonical_quantity``), so clients read back what a real server returns;
* the v1 defaults (``SetDefaults_ExactDeviceRequest``, ``SetDefaults_DeviceSubRequest``,
  ``SetDefaults_DeviceToleration``): ``allocationMode: ExactCount``, then ``count: 1`` when it is
  missing or 0, and toleration ``operator: Equal``.

Checked against the real kube-apiserver by tests/realcluster/test_conformance.py. It mutates the
object in place and must never validate anything else (``semantic`` does).
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

from dra_driver.devcluster import errors
from dra_driver.kube.quantity import canonical_quantity

_QUANTITY_PATTERN = "^([+-]?[0-9.]+)([eEinumkKMGTP]*[-+]?[0-9]*)$"

Holder = tuple[dict[str, Any] | list[Any], Any]  # (container, key or index) of one quantity
Json = dict[str, Any]


def normalize(kind: str, obj: Json) -> None:
    """Canonical quantities and v1 defaults in ``obj`` (a ResourceSlice, claim or template)."""
    if kind == "ResourceSlice":
        holders = list(_slice_quantities(_mapping(obj.get("spec"))))
    elif kind == "ResourceClaim":
        spec = _mapping(obj.get("spec"))
        _default_requests(spec)
        holders = [*_claim_quantities(spec), *_status_quantities(_mapping(obj.get("status")))]
    elif kind == "ResourceClaimTemplate":
        spec = _mapping(_mapping(obj.get("spec")).get("spec"))
        _default_requests(spec)
        holders = list(_claim_quantities(spec))
    else:
        return
    for container, key in holders:
        value = container[key]
        try:
            if isinstance(value, bool) or not isinstance(value, (str, int, float)):
                raise ValueError(f"not a quantity: {value!r}")
            container[key] = canonical_quantity(str(value))
        except ValueError:
            raise errors.bad_request(
                f'{kind} in version "v1" cannot be handled as a {kind}: quantities must match the regular '
                f"expression '{_QUANTITY_PATTERN}'"
            ) from None


def _mapping(value: Any) -> Json:
    return value if isinstance(value, dict) else {}


def _items(value: Any) -> Iterator[Json]:
    return (item for item in (value if isinstance(value, list) else []) if isinstance(item, dict))


def _values(mapping: Json, pick: Callable[[Json], Iterator[Holder]]) -> Iterator[Holder]:
    for item in mapping.values():
        if isinstance(item, dict):
            yield from pick(item)


def _keys(mapping: Json, *keys: str) -> Iterator[Holder]:
    for key in keys:
        if key in mapping and mapping[key] is not None:
            yield mapping, key


def _all_of(mapping: Json) -> Iterator[Holder]:
    for key, value in mapping.items():
        if value is not None:
            yield mapping, key


def _counter(counter: Json) -> Iterator[Holder]:
    return _keys(counter, "value")


def _capacity(capacity: Json) -> Iterator[Holder]:
    yield from _keys(capacity, "value")
    policy = _mapping(capacity.get("requestPolicy"))
    yield from _keys(policy, "default")
    values = policy.get("validValues")
    if isinstance(values, list):
        yield from ((values, index) for index in range(len(values)))
    yield from _keys(_mapping(policy.get("validRange")), "min", "max", "step")


def _slice_quantities(spec: Json) -> Iterator[Holder]:
    for counter_set in _items(spec.get("sharedCounters")):
        yield from _values(_mapping(counter_set.get("counters")), _counter)
    for device in _items(spec.get("devices")):
        yield from _values(_mapping(device.get("capacity")), _capacity)
        for consumption in _items(device.get("consumesCounters")):
            yield from _values(_mapping(consumption.get("counters")), _counter)


def _requests(spec: Json) -> Iterator[Json]:
    """Every ``exactly`` request and ``firstAvailable`` sub-request of a claim spec."""
    for request in _items(_mapping(spec.get("devices")).get("requests")):
        if isinstance(request.get("exactly"), dict):
            yield request["exactly"]
        yield from _items(request.get("firstAvailable"))


def _claim_quantities(spec: Json) -> Iterator[Holder]:
    for request in _requests(spec):
        yield from _all_of(_mapping(_mapping(request.get("capacity")).get("requests")))


def _status_quantities(status: Json) -> Iterator[Holder]:
    for result in _items(_mapping(_mapping(status.get("allocation")).get("devices")).get("results")):
        yield from _all_of(_mapping(result.get("consumedCapacity")))


def _default_requests(spec: Json) -> None:
    for request in _requests(spec):
        if not request.get("allocationMode"):
            request["allocationMode"] = "ExactCount"
        if request["allocationMode"] == "ExactCount" and not request.get("count"):
            request["count"] = 1
        for toleration in _items(request.get("tolerations")):
            if not toleration.get("operator"):
                toleration["operator"] = "Equal"
