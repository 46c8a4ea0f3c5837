"""Device taints and request tolerations (KEP-5055), as the allocator applies them.

Owns: ``blocking_taint`` (the first taint that keeps a request off a device) and ``tolerates``
(core/v1 ``Toleration.ToleratesTaint`` semantics, which d-r-a ``resourceclaim.ToleratesTaint``
copies). Only ``NoSchedule`` and ``NoExecute`` block; ``None`` and unknown effects never do. This
module must never look at anything but the taint and the tolerations.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

BLOCKING_EFFECTS = frozenset({"NoSchedule", "NoExecute"})


def tolerates(toleration: Mapping[str, Any], taint: Mapping[str, Any]) -> bool:
    """Whether one toleration tolerates one taint (empty effect = all effects; empty key + Exists = all)."""
    effect = toleration.get("effect") or ""
    if effect and effect != taint.get("effect"):
        return False
    key = toleration.get("key") or ""
    if key and key != taint.get("key"):
        return False
    operator = toleration.get("operator") or "Equal"
    if operator == "Exists":
        return True
    if operator == "Equal":
        return (toleration.get("value") or "") == (taint.get("value") or "")
    return False


def blocking_taint(
    taints: Iterable[Mapping[str, Any]], tolerations: Iterable[Mapping[str, Any]]
) -> Mapping[str, Any] | None:
    """The first NoSchedule/NoExecute taint none of ``tolerations`` tolerates, or None."""
    tolerations = tuple(tolerations)
    for taint in taints:
        if taint.get("effect") in BLOCKING_EFFECTS and not any(tolerates(t, taint) for t in tolerations):
            return taint
    return None


def describe_taint(taint: Mapping[str, Any]) -> str:
    value = taint.get("value")
    return f"{taint.get('key')}{'=' + str(value) if value else ''}:{taint.get('effect')}"
