"""More of upstream's resource.k8s.io validation (pkg/apis/resource/validation/validation.go), the
rules the conformance corpus showed the dev cluster missing (tests/realcluster/test_conformance.py).

Owns:

* ResourceSlices: driver a DNS subdomain of at most 63 characters; ``pool.generation`` >= 0;
  ``devices`` and ``sharedCounters`` not both set (1.35+); at most 64 devices when one of them has
  taints or consumes counters (1.35+); device names DNS labels; attribute and capacity names
  qualified names (optional DNS-subdomain domain, then a C identifier of at most 32 characters);
  an attribute holds exactly one value (names with two or more '/' are
  stored unchecked, as the real server does), a string or version at most 64 bytes, a version semver;
  a request policy holds ``validValues`` or ``validRange``, never both, and its default is
  within them; taint keys qualified names; counter and counter-set names DNS labels;
* claims and templates: request names DNS labels and unique; ``exactly`` xor ``firstAvailable``;
  ``allocationMode`` All or ExactCount; toleration operators Exists or Equal, with no value for
  Exists; constraint and config requests naming requests of the claim; opaque config drivers DNS
  subdomains (also in DeviceClasses);
* claim status: ``reservedFor`` only with an allocation and unique by uid; an allocation, once
  set, unchanged; each result naming a request of the claim, a DNS-label device and a UUID
  ``shareID``.

Messages follow upstream ``field.Error`` texts. It must never mutate objects; defaults and
quantities are ``normalize``'s, and earlier rules (names, node selection, 128 devices, counts,
CEL parsing) ``semantic``'s and ``requests``'.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator, Mapping
from typing import Any

from dra_driver.devcluster.errors import Cause
from dra_driver.devcluster.semantic import invalid, render
from dra_driver.kube.features import KubeVersion
from dra_driver.kube.quantity import parse_quantity

_LABEL = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?")
_SUBDOMAIN = re.compile(r"[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*")
_C_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_TAINT_NAME = re.compile(r"([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]")
_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*)(?:\.(?:0|[1-9]\d*|\d*[a-zA-Z-][0-9a-zA-Z-]*))*))?"
    r"(?:\+([0-9a-zA-Z-]+(?:\.[0-9a-zA-Z-]+)*))?"
)
_LABEL_MSG = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-'"
_SUBDOMAIN_MSG = (
    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'"
)
MAX_RESTRICTED_DEVICES = 64  # devices per slice when one has taints or consumes counters (1.35+)
MAX_VALUE_LENGTH = 64
MAX_ID_LENGTH = 32
MAX_DRIVER_LENGTH = 63
Json = Mapping[str, Any]


def causes(kind: str, new: Json, old: Json | None, version: KubeVersion) -> list[Cause]:
    """The errors of ``new`` (an update when ``old`` is given) under the rules above."""
    if kind == "ResourceSlice":
        return _slice(_map(new.get("spec")), version)
    if kind == "DeviceClass":
        return _configs(_map(new.get("spec")).get("config"), "spec.config", None)
    if kind == "ResourceClaimTemplate":
        return _claim_spec(_map(_map(new.get("spec")).get("spec")), "spec.spec") if old is None else []
    if kind == "ResourceClaim":
        spec = _map(new.get("spec"))
        found = _claim_spec(spec, "spec") if old is None else []
        return found + _status(spec, _map(new.get("status")), _map((old or {}).get("status")))
    return []


def _map(value: Any) -> Json:
    return value if isinstance(value, Mapping) else {}


def _items(value: Any) -> Iterator[tuple[int, Json]]:
    for index, item in enumerate(value if isinstance(value, list) else []):
        if isinstance(item, Mapping):
            yield index, item


def _label(path: str, value: Any) -> list[Cause]:
    if isinstance(value, str) and len(value) <= 63 and _LABEL.fullmatch(value):
        return []
    return [invalid(path, value, _LABEL_MSG)]


def _subdomain(path: str, value: Any, limit: int = 253) -> list[Cause]:
    if not isinstance(value, str) or not value:
        return []  # required-ness is the schema's
    if len(value) > limit:
        return [Cause(path, f"Too long: may not be more than {limit} bytes", "FieldValueTooLong")]
    return [] if _SUBDOMAIN.fullmatch(value) else [invalid(path, value, _SUBDOMAIN_MSG)]


def _qualified_name(path: str, name: str) -> list[Cause]:
    """An attribute or capacity name: ``[<domain>/]<C identifier>``."""
    if name.count("/") > 1:
        return []  # the real v1.36.3 server stores such a name as it is (tests/realcluster corpus)
    domain, slash, identifier = name.rpartition("/")
    found = _subdomain(path, domain, MAX_DRIVER_LENGTH) if slash else []
    if len(identifier) > MAX_ID_LENGTH:
        found.append(
            Cause(path, f"Too long: may not be more than {MAX_ID_LENGTH} bytes", "FieldValueTooLong")
        )
    elif not _C_IDENTIFIER.fullmatch(identifier):
        found.append(
            invalid(
                path,
                identifier,
                "a valid C identifier must start with alphabetic character or '_', followed by a string of "
                "alphanumeric characters or '_'",
            )
        )
    return found


# --- ResourceSlices -----------------------------------------------------------------------------


def _slice(spec: Json, version: KubeVersion) -> list[Cause]:
    found = _subdomain("spec.driver", spec.get("driver"), MAX_DRIVER_LENGTH)
    generation = _map(spec.get("pool")).get("generation")
    if isinstance(generation, int) and generation < 0:
        found.append(invalid("spec.pool.generation", generation, "must be greater than or equal to zero"))
    listed = spec.get("devices")
    devices: list[Any] = listed if isinstance(listed, list) else []
    split = version >= KubeVersion(1, 35)
    if split and devices and spec.get("sharedCounters"):
        found.append(Cause("spec", 'Invalid value: "": only one of `sharedCounters` or `devices` is allowed'))
    restricted = any(_map(d).get("taints") or _map(d).get("consumesCounters") for d in devices)
    if split and restricted and len(devices) > MAX_RESTRICTED_DEVICES:
        found.append(
            Cause(
                "spec.devices",
                f"Too many: {len(devices)}: must have at most {MAX_RESTRICTED_DEVICES} items",
                "FieldValueTooMany",
            )
        )
    for index, counter_set in _items(spec.get("sharedCounters")):
        path = f"spec.sharedCounters[{index}]"
        found += _label(f"{path}.name", counter_set.get("name"))
        found += _counter_names(f"{path}.counters", counter_set.get("counters"))
    for index, device in _items(devices):
        found += _device(device, f"spec.devices[{index}]")
    return found


def _counter_names(path: str, counters: Any) -> list[Cause]:
    found: list[Cause] = []
    for name in _map(counters):
        found += _label(path, name)
    return found


def _device(device: Json, path: str) -> list[Cause]:
    found = _label(f"{path}.name", device.get("name"))
    for name, value in _map(device.get("attributes")).items():
        found += _qualified_name(f"{path}.attributes", name)
        found += _attribute(f"{path}.attributes[{name}]", _map(value))
    for name, capacity in _map(device.get("capacity")).items():
        found += _qualified_name(f"{path}.capacity", name)
        found += _request_policy(
            f"{path}.capacity[{name}].requestPolicy", _map(capacity).get("requestPolicy")
        )
    for index, taint in _items(device.get("taints")):
        key = taint.get("key")
        if isinstance(key, str):
            found += _taint_key(f"{path}.taints[{index}].key", key)
    for index, consumption in _items(device.get("consumesCounters")):
        found += _label(f"{path}.consumesCounters[{index}].counterSet", consumption.get("counterSet"))
        found += _counter_names(f"{path}.consumesCounters[{index}].counters", consumption.get("counters"))
    return found


def _attribute(path: str, value: Json) -> list[Cause]:
    # Any value key counts (1.36's list values too; the schema of the release decides which exist).
    given = [key for key, item in value.items() if item is not None]
    if len(given) != 1:
        return [invalid(path, dict(value), "exactly one value must be specified")]
    (key,) = given
    text = value[key]
    if key in ("string", "version") and isinstance(text, str) and len(text.encode()) > MAX_VALUE_LENGTH:
        return [
            Cause(
                f"{path}.{key}",
                f"Too long: may not be more than {MAX_VALUE_LENGTH} bytes",
                "FieldValueTooLong",
            )
        ]
    if key == "version" and not (isinstance(text, str) and _SEMVER.fullmatch(text)):
        return [invalid(f"{path}.version", text, "must be a string compatible with semver.org spec 2.0.0")]
    return []


def _taint_key(path: str, key: str) -> list[Cause]:
    prefix, slash, name = key.rpartition("/")
    found = _subdomain(path, prefix) if slash else []
    if len(name) > 63 or not _TAINT_NAME.fullmatch(name):
        found.append(
            invalid(
                path,
                key,
                "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end "
                "with an alphanumeric character",
            )
        )
    return found


def _request_policy(path: str, raw: Any) -> list[Cause]:
    policy = _map(raw)
    values, valid_range = policy.get("validValues"), _map(policy.get("validRange"))
    if values and valid_range:
        return [
            Cause(
                path,
                "Forbidden: exactly one policy can be specified, cannot specify `validValues` and "
                "`validRange` at the same time",
                "FieldValueForbidden",
            )
        ]
    default = policy.get("default")
    if default is None:
        return []
    amount = parse_quantity(default)
    if values and all(parse_quantity(v) != amount for v in values if isinstance(v, str)):
        return [
            invalid(
                f"{path}.validValues", default, "default value is not valid according to the requestPolicy"
            )
        ]
    if "min" in valid_range and amount < parse_quantity(valid_range["min"]):
        return [invalid(f"{path}.validRange.min", default, "default is less than min")]
    if "max" in valid_range and amount > parse_quantity(valid_range["max"]):
        return [invalid(f"{path}.validRange.max", default, "default is more than max")]
    return []


# --- claims, templates, classes -----------------------------------------------------------------


def _claim_spec(spec: Json, path: str) -> list[Cause]:
    devices = _map(spec.get("devices"))
    names: set[str] = set()
    subrequests: set[str] = set()
    found: list[Cause] = []
    for index, request in _items(devices.get("requests")):
        where = f"{path}.devices.requests[{index}]"
        name = request.get("name")
        found += _label(f"{where}.name", name)
        if isinstance(name, str):
            if name in names:
                found.append(Cause(where, f"Duplicate value: {render(name)}", "FieldValueDuplicate"))
            names.add(name)
        exactly, first = request.get("exactly"), request.get("firstAvailable")
        if (exactly is None) == (not first):
            found.append(invalid(where, None, "exactly one of `exactly` or `firstAvailable` is required"))
        if isinstance(exactly, Mapping):
            found += _exact(exactly, f"{where}.exactly")
        for sub_index, sub in _items(first):
            found += _exact(sub, f"{where}.firstAvailable[{sub_index}]")
            subrequests.add(f"{name}/{sub.get('name')}")
    known = names | subrequests
    for index, constraint in _items(devices.get("constraints")):
        found += _references(
            f"{path}.devices.constraints[{index}].requests", constraint.get("requests"), known
        )
    found += _configs(devices.get("config"), f"{path}.devices.config", known)
    return found


def _exact(request: Json, path: str) -> list[Cause]:
    found: list[Cause] = []
    mode = request.get("allocationMode")
    if mode not in (None, "All", "ExactCount"):
        found.append(
            Cause(
                f"{path}.allocationMode",
                f'Unsupported value: {render(mode)}: supported values: "All", "ExactCount"',
                "FieldValueNotSupported",
            )
        )
    for index, toleration in _items(request.get("tolerations")):
        where = f"{path}.tolerations[{index}]"
        operator = toleration.get("operator")
        if operator == "Exists" and toleration.get("value"):
            found.append(
                invalid(f"{where}.value", toleration["value"], "must be empty for operator `Exists`")
            )
        elif operator not in (None, "Exists", "Equal"):
            found.append(
                Cause(
                    f"{where}.operator",
                    f'Unsupported value: {render(operator)}: supported values: "Equal", "Exists"',
                    "FieldValueNotSupported",
                )
            )
    return found


def _references(path: str, requests: Any, known: set[str]) -> list[Cause]:
    found: list[Cause] = []
    for index, name in enumerate(requests if isinstance(requests, list) else []):
        if name not in known:
            found.append(
                invalid(
                    f"{path}[{index}]",
                    name,
                    "must be the name of a request in the claim or the name of a request and a subrequest "
                    "separated by '/'",
                )
            )
    return found


def _configs(configs: Any, path: str, known: set[str] | None) -> list[Cause]:
    found: list[Cause] = []
    for index, config in _items(configs):
        found += _subdomain(
            f"{path}[{index}].opaque.driver", _map(config.get("opaque")).get("driver"), MAX_DRIVER_LENGTH
        )
        if known is not None:
            found += _references(f"{path}[{index}].requests", config.get("requests"), known)
    return found


# --- claim status -------------------------------------------------------------------------------


def _status(spec: Json, status: Json, old: Json) -> list[Cause]:
    found: list[Cause] = []
    allocation = status.get("allocation")
    reserved = list(_items(status.get("reservedFor")))
    if reserved and not allocation:
        found.append(
            Cause(
                "status.reservedFor",
                "Forbidden: may not be specified when `allocated` is not set",
                "FieldValueForbidden",
            )
        )
    seen: set[Any] = set()
    for index, ref in reserved:
        if ref.get("uid") in seen:
            found.append(
                Cause(
                    f"status.reservedFor[{index}]",
                    f"Duplicate value: {render(ref.get('uid'))}",
                    "FieldValueDuplicate",
                )
            )
        seen.add(ref.get("uid"))
    if old.get("allocation") and allocation and allocation != old["allocation"]:
        found.append(invalid("status.allocation", dict(_map(allocation)), "field is immutable"))
    names = {r.get("name") for _, r in _items(_map(spec.get("devices")).get("requests"))}
    subs = {
        f"{r.get('name')}/{s.get('name')}"
        for _, r in _items(_map(spec.get("devices")).get("requests"))
        for _, s in _items(r.get("firstAvailable"))
    }
    for index, result in _items(_map(_map(allocation).get("devices")).get("results")):
        where = f"status.allocation.devices.results[{index}]"
        if result.get("request") not in names | subs:
            found.append(
                invalid(
                    f"{where}.request",
                    result.get("request"),
                    "must be the name of a request in the claim or the "
                    "name of a request and a subrequest separated by '/'",
                )
            )
        found += _label(f"{where}.device", result.get("device"))
        share = result.get("shareID")
        if share is not None and not _is_uuid(share):
            found.append(invalid(f"{where}.shareID", share, "error validating uid"))
    return found


def _is_uuid(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        uuid.UUID(value)
    except ValueError:
        return False
    return len(value) == 36
