"""Claim constraints ``matchAttribute`` and ``distinctAttribute``, exactly as kube-scheduler checks them.

Owns: ``make_tracker`` and the two trackers (one per constraint of a claim during a search), with
``add``/``remove`` for backtracking, ported from d-r-a structured/internal/incubating
(allocator_incubating.go ``matchAttributeConstraint``, constraint.go
``distinctAttributeConstraint``, v0.36.3). kube-scheduler does not hand DRAListTypeAttributes to
the allocator, so values compare as scalars:

* a constraint applies to the devices of the requests it lists (a request name covers its
  sub-requests, ``<req>/<sub>`` names one), or to all when it lists none; a device lacking the
  attribute fails it;
* ``matchAttribute``: the first device's attribute is kept; every further device must have a
  scalar of the same type and value (a list attribute never matches a further device);
* ``distinctAttribute``: the attribute of the last device added per *request name* is kept
  (adding a second device of the same request replaces the first one's entry, removing a device
  deletes its request's entry); a new device must differ from every kept entry of its type, and a
  list attribute fails as soon as one entry is kept. This is upstream's bookkeeping, kept on
  purpose so the simulator agrees with the scheduler.
This module must never choose devices.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Protocol

from dra_driver.sim.inventory import DeviceEntry
from dra_driver.sim.requests import Constraint

_SCALARS = ("string", "int", "bool", "version")
_LISTS = {"strings": "string", "ints": "int", "bools": "bool", "versions": "version"}

AttributeSet = frozenset[tuple[str, Any]]


def attribute_set(attribute: Mapping[str, Any] | None) -> AttributeSet | None:
    """The attribute's values as a set of (type, value); None when absent or of unknown type."""
    if attribute is None:
        return None
    for field, kind in _LISTS.items():
        if attribute.get(field):
            return frozenset((kind, value) for value in attribute[field])
    for field in _SCALARS:
        if attribute.get(field) is not None:
            return frozenset({(field, attribute[field])})
    return None


def show(values: AttributeSet) -> str:
    return ", ".join(sorted(repr(value) for _, value in values))


def _scalar(attribute: Mapping[str, Any]) -> tuple[str, Any] | None:
    """(type, value) of a scalar attribute in d-r-a's switch order, None for lists/unknown."""
    for field in _SCALARS:
        if attribute.get(field) is not None:
            return field, attribute[field]
    return None


class Tracker(Protocol):
    constraint: Constraint

    def add(self, request: str, sub: str, device: DeviceEntry) -> bool: ...

    def remove(self, request: str, sub: str, device: DeviceEntry) -> None: ...


def _applies(constraint: Constraint, request: str, sub: str) -> bool:
    names = constraint.requests
    if not names:
        return True
    return request in names or (bool(sub) and f"{request}/{sub}" in names)


class MatchAttribute:
    def __init__(self, constraint: Constraint) -> None:
        self.constraint = constraint
        self.first: Mapping[str, Any] | None = None
        self.count = 0

    def add(self, request: str, sub: str, device: DeviceEntry) -> bool:
        if not _applies(self.constraint, request, sub):
            return True
        attribute = device.attribute(self.constraint.attribute)
        if attribute is None:
            return False
        if self.count == 0:
            self.first = attribute
            self.count = 1
            return True
        scalar = _scalar(attribute)
        if scalar is None or self.first is None:
            return False
        kind, value = scalar
        if (
            self.first.get(kind) is None
            or self.first[kind] != value
            or type(self.first[kind]) is not type(value)
        ):
            return False
        self.count += 1
        return True

    def remove(self, request: str, sub: str, device: DeviceEntry) -> None:
        if _applies(self.constraint, request, sub):
            self.count -= 1


class DistinctAttribute:
    def __init__(self, constraint: Constraint) -> None:
        self.constraint = constraint
        self.kept: dict[str, Mapping[str, Any]] = {}
        self.count = 0

    def add(self, request: str, sub: str, device: DeviceEntry) -> bool:
        if not _applies(self.constraint, request, sub):
            return True
        attribute = device.attribute(self.constraint.attribute)
        if attribute is None:
            return False
        if self.count and not self._distinct(attribute):
            return False
        self.kept[request] = attribute
        self.count += 1
        return True

    def _distinct(self, attribute: Mapping[str, Any]) -> bool:
        scalar = _scalar(attribute)
        for kept in self.kept.values():
            if scalar is None:
                return False
            kind, value = scalar
            if kept.get(kind) is not None and kept[kind] == value and type(kept[kind]) is type(value):
                return False
        return True

    def remove(self, request: str, sub: str, device: DeviceEntry) -> None:
        if _applies(self.constraint, request, sub):
            self.kept.pop(request, None)
            self.count -= 1


def make_tracker(constraint: Constraint) -> Tracker:
    if constraint.kind == "matchAttribute":
        return MatchAttribute(constraint)
    return DistinctAttribute(constraint)
