"""ResourceClaims and DeviceClasses in API shape, parsed into what the allocator needs.

Owns: ``ClaimSpec`` (requests in order, each with its alternatives: the ``exactly`` request or the
``firstAvailable`` sub-requests in order), ``Alternative``, ``Constraint``, ``DeviceClassInfo`` and
``default_device_classes``. Every malformed field is an ``AllocationError`` naming the claim, the
request and the field. This module must never evaluate selectors or look at devices.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from dra_driver.parameters.drivers import HDRA_DRIVERS
from dra_driver.sim.capacity import Amount
from dra_driver.sim.errors import AllocationError, mapping, sequence

ADMIN_ACCESS_LABEL = "resource.kubernetes.io/admin-access"
"""Namespace label that must be "true" for a claim in it to use adminAccess."""


@dataclass(frozen=True)
class Alternative:
    """One way to satisfy a request: the ``exactly`` request itself or one ``firstAvailable`` entry."""

    result_name: str
    """``<request>`` or ``<request>/<subrequest>``: the ``request`` field of allocation results."""
    request: str
    sub: str | None
    class_name: str
    selectors: tuple[str, ...]
    all_devices: bool
    count: int
    admin_access: bool
    tolerations: tuple[Mapping[str, Any], ...]
    capacity: Mapping[str, Amount]
    capacity_set: bool = False
    """``capacity`` is present in the request (even empty): refused without DRAConsumableCapacity."""
    admin_access_set: bool = False
    """``adminAccess`` is present (even false): refused without DRAAdminAccess."""

    @property
    def mode(self) -> str:
        return "All" if self.all_devices else f"ExactCount {self.count}"


@dataclass(frozen=True)
class Request:
    name: str
    alternatives: tuple[Alternative, ...]


@dataclass(frozen=True)
class Constraint:
    """``matchAttribute`` or ``distinctAttribute`` over ``requests`` (empty: all requests)."""

    kind: str
    attribute: str
    requests: frozenset[str]

    def applies(self, alternative: Alternative) -> bool:
        return (
            not self.requests
            or alternative.request in self.requests
            or alternative.result_name in self.requests
        )


@dataclass(frozen=True)
class ClaimSpec:
    """A parsed ResourceClaim; ``raw`` is the dict it came from."""

    namespace: str
    name: str
    uid: str | None
    requests: tuple[Request, ...]
    constraints: tuple[Constraint, ...]
    config: tuple[Mapping[str, Any], ...]
    raw: Mapping[str, Any]

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"


@dataclass(frozen=True)
class DeviceClassInfo:
    name: str
    selectors: tuple[str, ...]
    config: tuple[Mapping[str, Any], ...]


def default_device_classes() -> list[dict[str, Any]]:
    """One DeviceClass per hdra driver, named after it, selecting ``device.driver == "<name>"``."""
    return [
        {
            "apiVersion": "resource.k8s.io/v1",
            "kind": "DeviceClass",
            "metadata": {"name": driver},
            "spec": {"selectors": [{"cel": {"expression": f'device.driver == "{driver}"'}}]},
        }
        for driver in HDRA_DRIVERS
    ]


def parse_class(obj: Mapping[str, Any]) -> DeviceClassInfo:
    name = str((obj.get("metadata") or {}).get("name") or "")
    if not name:
        raise AllocationError(f"DeviceClass without metadata.name: {dict(obj)!r}")
    spec = obj.get("spec") or {}
    return DeviceClassInfo(
        name,
        _selectors(spec.get("selectors"), f"DeviceClass {name!r} spec.selectors"),
        tuple(spec.get("config") or ()),
    )


def parse_claim(obj: Mapping[str, Any]) -> ClaimSpec:
    obj = mapping(obj, "ResourceClaim")
    meta = mapping(obj.get("metadata"), "ResourceClaim metadata")
    name = str(meta.get("name") or "")
    if not name:
        raise AllocationError(f"ResourceClaim without metadata.name: {dict(obj)!r}")
    namespace = str(meta.get("namespace") or "default")
    where = f"ResourceClaim {namespace}/{name}"
    devices = mapping(mapping(obj.get("spec"), f"{where} spec").get("devices"), f"{where} spec.devices")
    requests = tuple(
        _request(mapping(r, f"{where} spec.devices.requests[{i}]"), f"{where} spec.devices.requests[{i}]")
        for i, r in enumerate(sequence(devices.get("requests"), f"{where} spec.devices.requests"))
    )
    names = [r.name for r in requests]
    if len(set(names)) != len(names):
        raise AllocationError(f"{where}: request names are not unique: {names}")
    constraints = []
    for i, raw in enumerate(sequence(devices.get("constraints"), f"{where} spec.devices.constraints")):
        c = mapping(raw, f"{where} spec.devices.constraints[{i}]")
        kinds = [k for k in ("matchAttribute", "distinctAttribute") if c.get(k)]
        if len(kinds) != 1:
            raise AllocationError(
                f"{where} spec.devices.constraints[{i}]: set exactly one of matchAttribute, distinctAttribute"
            )
        attribute = str(c[kinds[0]])
        if "/" not in attribute:
            raise AllocationError(
                f"{where} spec.devices.constraints[{i}].{kinds[0]}: {attribute!r} must be fully qualified "
                "(domain/name)"
            )
        constraints.append(Constraint(kinds[0], attribute, frozenset(c.get("requests") or ())))
    return ClaimSpec(
        namespace,
        name,
        meta.get("uid"),
        requests,
        tuple(constraints),
        tuple(
            mapping(c, f"{where} spec.devices.config[{i}]")
            for i, c in enumerate(sequence(devices.get("config"), f"{where} spec.devices.config"))
        ),
        obj,
    )


def _request(raw: Mapping[str, Any], where: str) -> Request:
    name = raw.get("name")
    if not isinstance(name, str) or not name:
        raise AllocationError(f"{where}: name is required")
    where = f"{where} ({name})"
    exactly, first = raw.get("exactly"), raw.get("firstAvailable")
    if bool(exactly) == bool(first):
        raise AllocationError(f"{where}: set exactly one of 'exactly' and 'firstAvailable'")
    if exactly:
        return Request(name, (_alternative(exactly, name, None, f"{where}.exactly"),))
    subs = []
    for i, sub in enumerate(first or ()):
        sub_name = sub.get("name")
        if not isinstance(sub_name, str) or not sub_name:
            raise AllocationError(f"{where}.firstAvailable[{i}]: name is required")
        if sub.get("adminAccess"):
            raise AllocationError(f"{where}.firstAvailable[{i}]: adminAccess is not allowed in a sub-request")
        subs.append(_alternative(sub, name, sub_name, f"{where}.firstAvailable[{i}]"))
    return Request(name, tuple(subs))


def _alternative(raw: Mapping[str, Any], request: str, sub: str | None, where: str) -> Alternative:
    class_name = raw.get("deviceClassName")
    if not isinstance(class_name, str) or not class_name:
        raise AllocationError(f"{where}.deviceClassName is required")
    mode = raw.get("allocationMode") or "ExactCount"
    if mode not in ("ExactCount", "All"):
        raise AllocationError(f"{where}.allocationMode {mode!r} is not ExactCount or All")
    count = raw.get("count", 1)
    if mode == "ExactCount" and (not isinstance(count, int) or isinstance(count, bool) or count < 1):
        raise AllocationError(f"{where}.count {count!r} must be a positive integer")
    requests = ((raw.get("capacity") or {}).get("requests")) or {}
    try:
        capacity = {
            key: Amount.parse(value, f"{where}.capacity.requests[{key!r}]") for key, value in requests.items()
        }
    except ValueError as exc:
        raise AllocationError(str(exc)) from None
    tolerations: tuple[Mapping[str, Any], ...] = tuple(raw.get("tolerations") or ())
    for i, toleration in enumerate(tolerations):
        if toleration.get("operator", "Equal") not in ("Equal", "Exists"):
            raise AllocationError(
                f"{where}.tolerations[{i}].operator {toleration.get('operator')!r} is not Equal or Exists"
            )
    return Alternative(
        result_name=f"{request}/{sub}" if sub else request,
        request=request,
        sub=sub,
        class_name=class_name,
        selectors=_selectors(raw.get("selectors"), f"{where}.selectors"),
        all_devices=mode == "All",
        count=1 if mode == "All" else int(count),
        admin_access=bool(raw.get("adminAccess", False)),
        tolerations=tolerations,
        capacity=capacity,
        capacity_set=raw.get("capacity") is not None,
        admin_access_set=raw.get("adminAccess") is not None,
    )


def _selectors(raw: Iterable[Any] | None, where: str) -> tuple[str, ...]:
    expressions = []
    for i, selector in enumerate(raw or ()):
        expression = ((selector or {}).get("cel") or {}).get("expression")
        if not isinstance(expression, str) or not expression:
            raise AllocationError(
                f"{where}[{i}]: only CEL selectors are supported and cel.expression is required"
            )
        expressions.append(expression)
    return tuple(expressions)
