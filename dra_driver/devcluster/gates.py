"""Feature-gated fields: which ones a real API server silently drops when their gate is off.

Owns: the drop table (gate, kind, section, field paths) from reference/dra-api.md section 1.7 and
the upstream rule that a disabled field survives an update when the old object already used a
field of the same gate (``dropDisabledFields(new, old)`` in k8s ``pkg/registry/resource/*``).
It must never validate or reject anything: dropping is silent, as upstream.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from dra_driver.kube.features import FeatureGate

Path = tuple[str, ...]
_REQUESTS: Path = ("devices", "requests", "*")
_CONSTRAINTS: Path = ("devices", "constraints", "*")
_RESULTS: Path = ("status", "allocation", "devices", "results", "*")
_DEVICES: Path = ("spec", "devices", "*")


@dataclass(frozen=True)
class DropRule:
    """Fields of ``kind`` dropped while ``gate`` is off; ``section`` is where "in use" is judged."""

    gate: FeatureGate
    kind: str
    section: str
    paths: tuple[Path, ...]


def _claim_spec_rules(kind: str, prefix: Path) -> list[DropRule]:
    requests = prefix + _REQUESTS
    return [
        DropRule(
            FeatureGate.DRA_CONSUMABLE_CAPACITY,
            kind,
            "spec",
            (
                (*requests, "exactly", "capacity"),
                (*requests, "firstAvailable", "*", "capacity"),
                (*prefix, *_CONSTRAINTS, "distinctAttribute"),
            ),
        ),
        DropRule(
            FeatureGate.DRA_DEVICE_TAINTS,
            kind,
            "spec",
            ((*requests, "exactly", "tolerations"), (*requests, "firstAvailable", "*", "tolerations")),
        ),
        DropRule(FeatureGate.DRA_PRIORITIZED_LIST, kind, "spec", ((*requests, "firstAvailable"),)),
        DropRule(FeatureGate.DRA_ADMIN_ACCESS, kind, "spec", ((*requests, "exactly", "adminAccess"),)),
    ]


DROP_RULES: tuple[DropRule, ...] = (
    DropRule(
        FeatureGate.DRA_CONSUMABLE_CAPACITY,
        "ResourceSlice",
        "spec",
        ((*_DEVICES, "allowMultipleAllocations"), (*_DEVICES, "capacity", "*", "requestPolicy")),
    ),
    DropRule(
        FeatureGate.DRA_PARTITIONABLE_DEVICES,
        "ResourceSlice",
        "spec",
        (
            ("spec", "sharedCounters"),
            ("spec", "perDeviceNodeSelection"),
            (*_DEVICES, "consumesCounters"),
            (*_DEVICES, "nodeName"),
            (*_DEVICES, "nodeSelector"),
            (*_DEVICES, "allNodes"),
        ),
    ),
    DropRule(FeatureGate.DRA_DEVICE_TAINTS, "ResourceSlice", "spec", ((*_DEVICES, "taints"),)),
    DropRule(
        FeatureGate.DRA_DEVICE_BINDING_CONDITIONS,
        "ResourceSlice",
        "spec",
        (
            (*_DEVICES, "bindsToNode"),
            (*_DEVICES, "bindingConditions"),
            (*_DEVICES, "bindingFailureConditions"),
        ),
    ),
    *_claim_spec_rules("ResourceClaim", ("spec",)),
    *_claim_spec_rules("ResourceClaimTemplate", ("spec", "spec")),
    DropRule(
        FeatureGate.DRA_CONSUMABLE_CAPACITY,
        "ResourceClaim",
        "status",
        ((*_RESULTS, "shareID"), (*_RESULTS, "consumedCapacity")),
    ),
    DropRule(FeatureGate.DRA_DEVICE_TAINTS, "ResourceClaim", "status", ((*_RESULTS, "tolerations"),)),
    DropRule(FeatureGate.DRA_ADMIN_ACCESS, "ResourceClaim", "status", ((*_RESULTS, "adminAccess"),)),
    DropRule(
        FeatureGate.DRA_RESOURCE_CLAIM_DEVICE_STATUS, "ResourceClaim", "status", (("status", "devices"),)
    ),
    DropRule(
        FeatureGate.DRA_DEVICE_BINDING_CONDITIONS,
        "ResourceClaim",
        "status",
        (
            (*_RESULTS, "bindingConditions"),
            (*_RESULTS, "bindingFailureConditions"),
            ("status", "allocation", "allocationTimestamp"),
        ),
    ),
    DropRule(FeatureGate.DRA_EXTENDED_RESOURCE, "DeviceClass", "spec", (("spec", "extendedResourceName"),)),
)


def _matches(obj: Any, path: Path) -> Iterator[tuple[dict[str, Any], str]]:
    """Every (parent, key) where ``path`` is present in ``obj``; ``*`` walks list items and map values."""
    if not path:
        return
    head, rest = path[0], path[1:]
    if head == "*":
        children = obj if isinstance(obj, list) else list(obj.values()) if isinstance(obj, dict) else []
        for child in children:
            yield from _matches(child, rest)
        return
    if not isinstance(obj, dict) or head not in obj:
        return
    if rest:
        yield from _matches(obj[head], rest)
    else:
        yield obj, head


def _used(value: Any) -> bool:
    """Set in the Go sense: non-nil, and for lists and maps non-empty."""
    if value is None:
        return False
    if isinstance(value, list | dict):
        return bool(value)
    return True


def rule_in_use(rule: DropRule, obj: Mapping[str, Any] | None) -> bool:
    if obj is None:
        return False
    return any(_used(parent[key]) for path in rule.paths for parent, key in _matches(obj, path))


def drop_disabled_fields(
    kind: str,
    new: dict[str, Any],
    old: Mapping[str, Any] | None,
    gates: Mapping[FeatureGate, bool],
    sections: tuple[str, ...] = ("spec", "status"),
) -> list[str]:
    """Remove, in place, the fields of disabled gates from ``new``; return what was dropped.

    A rule is skipped when its gate is on or when ``old`` (the stored object on update) already
    uses one of its fields, so updates never silently erase data written while a gate was on.
    """
    dropped: list[str] = []
    for rule in DROP_RULES:
        if rule.kind != kind or rule.section not in sections or gates.get(rule.gate, False):
            continue
        if rule_in_use(rule, old):
            continue
        for path in rule.paths:
            for parent, key in list(_matches(new, path)):
                del parent[key]
                dropped.append(".".join(path))
    return dropped
