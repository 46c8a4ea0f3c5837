"""Claim constraints ``matchAttribute`` and ``distinctAttribute`` with add/remove for backtracking.

Owns: ``ConstraintTracker`` (one per constraint of a claim during a search). Semantics (d-r-a
allocator): a constraint applies to the devices of the requests it lists (a request name covers
its sub-requests; ``<req>/<sub>`` names one), or to all when it lists none. A device lacking the
attribute fails it. ``matchAttribute``: every device has the same value (list attributes: the
values keep a common element). ``distinctAttribute``: no two devices share a value. Values compare
by type and value; versions compare as strings (semver 2.0.0 values are canonical).
This module must never choose devices.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from dra_driver.sim.inventory import DeviceEntry
from dra_driver.sim.requests import Alternative, Constraint

_SCALARS = ("string", "int", "bool", "version")
_LISTS = {"strings": "string", "ints": "int", "bools": "bool", "versions": "version"}

AttributeSet = frozenset[tuple[str, Any]]


def attribute_set(attribute: Mapping[str, Any] | None) -> AttributeSet | None:
    """The attribute's values as a set of (type, value); None when absent or of unknown type."""
    if attribute is None:
        return None
    for field in _SCALARS:
        if field in attribute:
            return frozenset({(field, attribute[field])})
    for field, kind in _LISTS.items():
        if attribute.get(field):
            return frozenset((kind, value) for value in attribute[field])
    return None


def show(values: AttributeSet) -> str:
    return ", ".join(sorted(repr(value) for _, value in values))


class ConstraintTracker:
    """The devices picked so far for one constraint; ``check`` explains a refusal."""

    def __init__(self, constraint: Constraint) -> None:
        self.constraint = constraint
        self._stack: list[AttributeSet] = []

    def check(self, alternative: Alternative, device: DeviceEntry) -> str | None:
        """Why adding ``device`` for ``alternative`` would violate the constraint, or None."""
        c = self.constraint
        if not c.applies(alternative):
            return None
        values = attribute_set(device.attribute(c.attribute))
        if values is None:
            return f"{c.kind} {c.attribute}: device {device.name!r} has no attribute {c.attribute!r}"
        if not self._stack:
            return None
        if c.kind == "matchAttribute":
            if not values & self._stack[-1]:
                return (
                    f"matchAttribute {c.attribute}: device {device.name!r} has {show(values)}, "
                    f"the devices already picked have {show(self._stack[-1])}"
                )
            return None
        taken = frozenset().union(*self._stack)
        if values & taken:
            shared = show(values & taken)
            return f"distinctAttribute {c.attribute}: value {shared} is already used by a picked device"
        return None

    def add(self, alternative: Alternative, device: DeviceEntry) -> bool:
        if self.check(alternative, device) is not None:
            return False
        if self.constraint.applies(alternative):
            values = attribute_set(device.attribute(self.constraint.attribute)) or frozenset()
            if self.constraint.kind == "matchAttribute" and self._stack:
                values = values & self._stack[-1]
            self._stack.append(values)
        return True

    def remove(self, alternative: Alternative) -> None:
        if self.constraint.applies(alternative):
            self._stack.pop()
