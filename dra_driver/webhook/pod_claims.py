"""The pod rules of DESIGN §5: no container may get interception limits from two claims of one driver,
and no claim HAMi-core may enforce is used by two containers at once in separate PID namespaces.

Both claims' CDI specs would set ``CUDA_DEVICE_MEMORY_LIMIT_<i>`` / ``CUDA_DEVICE_SM_LIMIT_<i>``
(and the shared cache path) for the same container, and the later one would silently win.

Owns: resolving each entry of a container's ``resources.claims`` through ``spec.resourceClaims``
to a claim (``resourceClaimName``: that claim; ``resourceClaimTemplateName``: a claim of its own
per entry), finding the hdra drivers its requests (or the one request the entry names) target,
and the denial message. The driver of a request is its DeviceClass name when that is an hdra
driver name, or ``<anything>.<driver>`` for the narrower classes of DESIGN §2
(``whole.nvidia.hdra.io``); DeviceClasses are not read. A claim or template that does not exist
(yet), or that cannot be read because the webhook has no API client, is not counted: the check
can only refuse what it can see. It must never write anything.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Protocol

from dra_driver.parameters import HDRA_DRIVERS, is_hdra_driver
from dra_driver.rules.regions import (
    ONE_NAMESPACE_FIX,
    concurrent_users,
    intercepted_requests,
    shares_pid_namespace,
)


class ClaimSpecs(Protocol):
    """Reads the claim spec (v1 shape) of a ResourceClaim or of a ResourceClaimTemplate."""

    def claim(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    def template(self, namespace: str, name: str) -> dict[str, Any] | None: ...


def driver_of_class(name: str) -> str | None:
    """The hdra driver a DeviceClass name stands for, or None for a foreign class."""
    if is_hdra_driver(name):
        return name
    return next((driver for driver in HDRA_DRIVERS if name.endswith("." + driver)), None)


def request_drivers(spec: Mapping[str, Any], only: str | None) -> set[str]:
    """The hdra drivers targeted by the requests of a claim spec (just request ``only`` if given)."""
    drivers: set[str] = set()
    for request in (spec.get("devices") or {}).get("requests") or []:
        if only is not None and request.get("name") != only.split("/", 1)[0]:
            continue
        classes = [(request.get("exactly") or {}).get("deviceClassName")]
        classes += [sub.get("deviceClassName") for sub in request.get("firstAvailable") or []]
        drivers.update(d for d in (driver_of_class(str(c)) for c in classes if c) if d is not None)
    return drivers


def _source(entry: Mapping[str, Any]) -> tuple[str, str] | None:
    if entry.get("resourceClaimName"):
        return "ResourceClaim", str(entry["resourceClaimName"])
    if entry.get("resourceClaimTemplateName"):
        return "ResourceClaimTemplate", str(entry["resourceClaimTemplateName"])
    return None


def _reader(specs: ClaimSpecs, namespace: str) -> Callable[[str, str], dict[str, Any] | None]:
    """``specs`` with each claim or template read at most once."""
    cache: dict[tuple[str, str], dict[str, Any] | None] = {}

    def claim_spec(kind: str, name: str) -> dict[str, Any] | None:
        if (kind, name) not in cache:
            read = specs.claim if kind == "ResourceClaim" else specs.template
            cache[kind, name] = read(namespace, name)
        return cache[kind, name]

    return claim_spec


def pid_namespace_conflicts(pod: Mapping[str, Any], namespace: str, who: str, specs: ClaimSpecs) -> list[str]:
    """One message per claim that containers of the pod would use at the same time in separate PID
    namespaces while HAMi-core may enforce its limits (``rules.regions``)."""
    spec = pod.get("spec") or {}
    if shares_pid_namespace(spec):
        return []
    entries = {str(e.get("name")): e for e in spec.get("resourceClaims") or [] if isinstance(e, dict)}
    claim_spec = _reader(specs, namespace)
    users: dict[tuple[str, str], tuple[str, dict[str, None]]] = {}  # claim -> (label, containers)
    for entry_name, containers in concurrent_users(spec).items():
        entry = entries.get(entry_name)
        source = _source(entry) if entry is not None else None
        claim = claim_spec(*source) if source is not None else None
        if source is None or claim is None:
            continue
        kind, name = source
        identity = (kind, name) if kind == "ResourceClaim" else ("entry", entry_name)
        label = (
            f"{kind} {name}" if kind == "ResourceClaim" else f'"{entry_name}" (ResourceClaimTemplate {name})'
        )
        for container, request in containers:
            if intercepted_requests(claim, request):
                users.setdefault(identity, (label, {}))[1][container] = None
    return [
        f"{who}: containers {' and '.join(f'{c!r}' for c in containers)} would use {label} at the same time "
        f"in separate PID namespaces; {ONE_NAMESPACE_FIX}"
        for label, containers in users.values()
        if len(containers) > 1
    ]


def claim_conflicts(pod: Mapping[str, Any], namespace: str, who: str, specs: ClaimSpecs) -> list[str]:
    """One message per container that gets limits of one hdra driver from two different claims."""
    spec = pod.get("spec") or {}
    entries = {str(e.get("name")): e for e in spec.get("resourceClaims") or [] if isinstance(e, dict)}
    claim_spec = _reader(specs, namespace)

    problems: list[str] = []
    for section in ("initContainers", "containers"):
        for container in spec.get(section) or []:
            # driver -> {claim identity: description}; a template entry is a claim of its own.
            seen: dict[str, dict[tuple[str, str], str]] = {}
            for ref in (container.get("resources") or {}).get("claims") or []:
                entry = entries.get(str(ref.get("name")))
                source = _source(entry) if entry is not None else None
                if source is None:
                    continue
                kind, name = source
                claim = claim_spec(kind, name)
                if claim is None:
                    continue
                identity = (kind, name) if kind == "ResourceClaim" else ("entry", str(ref.get("name")))
                label = f'"{ref.get("name")}" ({kind} {name})'
                for driver in request_drivers(claim, ref.get("request")):
                    seen.setdefault(driver, {})[identity] = label
            for driver, claims in sorted(seen.items()):
                if len(claims) > 1:
                    problems.append(
                        f'{who} container "{container.get("name")}" would get {driver} limits from '
                        f"{len(claims)} claims, {' and '.join(claims.values())}: each claim's limits set "
                        "CUDA_DEVICE_MEMORY_LIMIT_<i> and CUDA_DEVICE_SM_LIMIT_<i> for the container's "
                        "device indexes, so one would overwrite the other; put the requests into one claim"
                    )
    return problems
