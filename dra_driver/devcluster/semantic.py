"""Cheap semantic validation that the OpenAPI schema cannot express (upstream ``validation.go``).

Owns: object name formats, the ResourceSlice rules hdra's publisher depends on (driver and pool
required, exactly one node-selection field, at most 128 unique devices, immutable driver / nodeName
/ pool name) and ResourceClaim spec immutability. Messages follow upstream ``field.Error`` text.
The device request rules (counts, selector parsing) are ``requests.py``'s. Everything else upstream
checks (CEL type checking and cost, attribute name formats, counter references, taint and
toleration rules, claim status transitions) is not modelled. It must never mutate objects.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

from dra_driver.devcluster.errors import Cause
from dra_driver.devcluster.requests import claim_spec_causes, class_spec_causes
from dra_driver.devcluster.resources import ResourceKind

MAX_DEVICES = 128
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must"
    " start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is"
    " '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')"
)
_LABEL_MSG = (
    "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start"
    " and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is"
    " '[a-z0-9]([-a-z0-9]*[a-z0-9])?')"
)
_SELECTION = ("nodeName", "nodeSelector", "allNodes", "perDeviceNodeSelection")


def render(value: Any) -> str:
    """A value as upstream prints it in ``Invalid value: …`` (JSON for scalars and structures)."""
    return json.dumps(value, separators=(",", ":"), sort_keys=True)


def invalid(path: str, value: Any, detail: str) -> Cause:
    return Cause(path, f"Invalid value: {render(value)}: {detail}")


def required(path: str, detail: str = "") -> Cause:
    return Cause(path, f"Required value: {detail}" if detail else "Required value", "FieldValueRequired")


def check_name(resource: ResourceKind, name: str) -> list[Cause]:
    if resource.plural == "namespaces":
        if len(name) > 63 or not _LABEL.fullmatch(name):
            return [invalid("metadata.name", name, _LABEL_MSG)]
        return []
    if len(name) > 253 or not _SUBDOMAIN.fullmatch(name):
        return [invalid("metadata.name", name, _SUBDOMAIN_MSG)]
    return []


def validate(resource: ResourceKind, new: Mapping[str, Any], old: Mapping[str, Any] | None) -> list[Cause]:
    """Semantic errors of ``new`` (and of the transition from ``old`` on update)."""
    causes = check_name(resource, str((new.get("metadata") or {}).get("name", "")))
    if resource.kind == "ResourceSlice":
        causes += _slice(new.get("spec") or {})
        if old is not None:
            causes += _slice_immutable(new.get("spec") or {}, old.get("spec") or {})
    elif resource.kind == "ResourceClaim" and old is not None and new.get("spec") != old.get("spec"):
        causes.append(invalid("spec", new.get("spec"), "field is immutable"))
    if resource.kind == "ResourceClaim":
        causes += _constraints((new.get("spec") or {}).get("devices") or {}, "spec.devices")
        if old is None:  # upstream re-validates only an unchanged (immutable) spec on update
            causes += claim_spec_causes(new.get("spec") or {}, "spec")
    elif resource.kind == "ResourceClaimTemplate":
        claim_spec = (new.get("spec") or {}).get("spec") or {}
        causes += _constraints(claim_spec.get("devices") or {}, "spec.spec.devices")
        if old is None:
            causes += claim_spec_causes(claim_spec, "spec.spec")
    elif resource.kind == "DeviceClass":
        causes += class_spec_causes(new.get("spec") or {})
    return causes


def _constraints(devices: Mapping[str, Any], path: str) -> list[Cause]:
    """Each constraint needs exactly one of matchAttribute / distinctAttribute — also after a disabled
    feature gate dropped distinctAttribute, which is how the real server turns such claims away."""
    causes: list[Cause] = []
    for index, constraint in enumerate(devices.get("constraints") or []):
        if not isinstance(constraint, Mapping):
            continue
        given = [key for key in ("matchAttribute", "distinctAttribute") if constraint.get(key)]
        if len(given) != 1:
            causes.append(
                invalid(
                    f"{path}.constraints[{index}]",
                    dict(constraint),
                    "exactly one of `matchAttribute` or `distinctAttribute` is required",
                )
            )
    return causes


def _slice(spec: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    if not spec.get("driver"):
        causes.append(required("spec.driver"))
    pool = spec.get("pool") or {}
    if not pool.get("name"):
        causes.append(required("spec.pool.name"))
    count = pool.get("resourceSliceCount")
    if not isinstance(count, int) or count <= 0:
        causes.append(invalid("spec.pool.resourceSliceCount", count or 0, "must be greater than zero"))
    set_fields: list[str] = []
    for selection in _SELECTION:
        value = spec.get(selection)
        if value is None or value == "":
            continue
        if selection in ("allNodes", "perDeviceNodeSelection") and value is False:
            causes.append(invalid(f"spec.{selection}", False, "must be either unset or set to true"))
            continue
        set_fields.append(f"`{selection}`")
    one_of = "exactly one of `nodeName`, `nodeSelector`, `allNodes`, `perDeviceNodeSelection` is required"
    if not set_fields:
        causes.append(required("spec", one_of))
    elif len(set_fields) > 1:
        causes.append(
            Cause(
                "spec", f'Invalid value: "{{{", ".join(set_fields)}}}": {one_of}, but multiple fields are set'
            )
        )
    devices = spec.get("devices") or []
    if len(devices) > MAX_DEVICES:
        causes.append(
            Cause(
                "spec.devices",
                f"Too many: {len(devices)}: must have at most {MAX_DEVICES} items",
                "FieldValueTooMany",
            )
        )
    seen: set[str] = set()
    for index, device in enumerate(devices):
        name = device.get("name") if isinstance(device, Mapping) else None
        if isinstance(name, str) and name in seen:
            causes.append(
                Cause(
                    f"spec.devices[{index}].name", f"Duplicate value: {render(name)}", "FieldValueDuplicate"
                )
            )
        if isinstance(name, str):
            seen.add(name)
    return causes


def _slice_immutable(new: Mapping[str, Any], old: Mapping[str, Any]) -> list[Cause]:
    causes: list[Cause] = []
    for path, new_value, old_value in (
        ("spec.driver", new.get("driver"), old.get("driver")),
        ("spec.nodeName", new.get("nodeName"), old.get("nodeName")),
        ("spec.pool.name", (new.get("pool") or {}).get("name"), (old.get("pool") or {}).get("name")),
    ):
        if new_value != old_value:
            causes.append(invalid(path, new_value, "field is immutable"))
    return causes
