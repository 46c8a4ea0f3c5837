"""Who may use a claim whose limits HAMi-core enforces: one PID namespace at a time (DESIGN §5).

HAMi-core keeps a claim's usage in a region whose process slots are PIDs of one PID namespace, so
hdra gives each PID namespace its own region and its CDI hook refuses a second namespace while the
first runs. This module is what admission (``webhook.pod_claims``) and ``hdra explain`` know of
that rule before anything runs:

- ``REGION_DRIVERS``: the drivers whose shares HAMi-core enforces (the mock driver writes the same
  CDI edits);
- ``intercepted_requests``: the requests of a claim spec that may get such limits: a request of a
  region driver's class family (``nvidia.hdra.io``, ``<x>.nvidia.hdra.io``) other than a
  ``whole.`` class, without an opaque ``enforcement: none`` config for it. Whether an allocation
  turns out to be a whole card is known only at prepare time, so this is "may", never "will";
- ``concurrent_users``: per pod claim entry, the containers that run at the same time (regular
  containers and restartable init containers; plain init containers run one after another);
- ``shares_pid_namespace``: ``shareProcessNamespace`` or ``hostPID``: the pod's containers are one
  PID namespace and may share a claim.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

REGION_DRIVERS = ("nvidia.hdra.io", "mock.hdra.io")
WHOLE_CLASS_PREFIX = "whole."
ONE_NAMESPACE_FIX = (
    "HAMi-core enforces such a claim's limits for one PID namespace at a time (DESIGN §5): set "
    "shareProcessNamespace: true, give each container its own claim, or use a whole-card class or "
    "enforcement: none"
)


def _region_class(name: str) -> bool:
    return not name.startswith(WHOLE_CLASS_PREFIX) and any(
        name == driver or name.endswith("." + driver) for driver in REGION_DRIVERS
    )


def _unenforced(spec: Mapping[str, Any]) -> tuple[bool, set[str]]:
    """(all requests, request names) that an opaque ``enforcement: none`` config covers."""
    everything, names = False, set[str]()
    for config in (spec.get("devices") or {}).get("config") or []:
        parameters = ((config or {}).get("opaque") or {}).get("parameters") or {}
        if isinstance(parameters, Mapping) and parameters.get("enforcement") == "none":
            requests = config.get("requests") or []
            everything = everything or not requests
            names.update(str(r).split("/", 1)[0] for r in requests)
    return everything, names


def intercepted_requests(spec: Mapping[str, Any], only: str | None = None) -> list[str]:
    """Names of the claim spec's requests (just ``only`` if given) HAMi-core may enforce."""
    everything, unenforced = _unenforced(spec)
    if everything:
        return []
    found: list[str] = []
    for request in (spec.get("devices") or {}).get("requests") or []:
        name = str(request.get("name"))
        if (only is not None and name != only.split("/", 1)[0]) or name in unenforced:
            continue
        classes = [(request.get("exactly") or {}).get("deviceClassName")]
        classes += [sub.get("deviceClassName") for sub in request.get("firstAvailable") or []]
        if any(_region_class(str(c)) for c in classes if c):
            found.append(name)
    return found


def concurrent_users(pod_spec: Mapping[str, Any]) -> dict[str, list[tuple[str, str | None]]]:
    """Pod claim entry name → (container, request or None) of the containers that run together."""
    users: dict[str, list[tuple[str, str | None]]] = {}
    running = [c for c in pod_spec.get("initContainers") or [] if c.get("restartPolicy") == "Always"]
    for container in running + list(pod_spec.get("containers") or []):
        for ref in (container.get("resources") or {}).get("claims") or []:
            users.setdefault(str(ref.get("name")), []).append(
                (str(container.get("name")), ref.get("request"))
            )
    return users


def shares_pid_namespace(pod_spec: Mapping[str, Any]) -> bool:
    return bool(pod_spec.get("shareProcessNamespace")) or bool(pod_spec.get("hostPID"))
