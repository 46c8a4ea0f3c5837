"""The ResourceClaimTemplate generated for one container's asks (DESIGN §7, dra-api.md §1.4).

Owns: one request per ask (``exactly`` with the family's DeviceClass = driver name, the card count,
CEL selectors (a whole card also ``whole_card_selector``) and ``capacity.requests``; or, for a
memory percentage, a ``firstAvailable`` list with one sub-request per distinct card memory size,
smallest first, each pinned to that size),
``distinctAttribute: <driver>/uuid`` for multi-card asks, the priority as an ``AcceleratorConfig``,
and the content-hashed name ``hdra-<container>-<10 hex of sha256(canonical spec)>``: the same spec
always gets the same name, so identical pods share one template and re-creating one is a no-op.
It must never talk to the API: the card sizes are handed in.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Sequence
from typing import Any, Final

from dra_driver.kube.quantity import MIB, binary_quantity
from dra_driver.parameters import AcceleratorConfig
from dra_driver.rules import CORES, FULL_CORES, MEMORY
from dra_driver.slices import whole_card_selector
from dra_driver.webhook.asks import Ask
from dra_driver.webhook.errors import Denial
from dra_driver.webhook.selectors import Card, matches, memory_size_expression, selector_expressions

API_VERSION: Final = "resource.k8s.io/v1"
MANAGED_BY: Final = {"app.kubernetes.io/managed-by": "hdra-webhook"}
MAX_SUBREQUESTS: Final = 8  # firstAvailable holds at most 8 entries
HASH_HEX: Final = 10

CardSource = Callable[[str], Sequence[Card]]
"""driver name → the cards the cluster's ResourceSlices publish for it."""


def _capacity(memory_mib: int | None, cores: int | None) -> dict[str, Any]:
    requests: dict[str, str] = {}
    if memory_mib is not None:
        requests[MEMORY] = f"{memory_mib}Mi"
    if cores:  # 0 equals the cores policy default: leave it out
        requests[CORES] = str(cores)
    return {"capacity": {"requests": requests}} if requests else {}


def _selectors(expressions: Sequence[str]) -> dict[str, Any]:
    return {"selectors": [{"cel": {"expression": e}} for e in expressions]} if expressions else {}


def _size_name(memory_bytes: int) -> str:
    """``mem-40gi`` for 40 GiB: the card size as a DNS label."""
    return "mem-" + binary_quantity(memory_bytes).lower()


def _first_available(ask: Ask, where: str, cards: CardSource | None) -> list[dict[str, Any]]:
    family = ask.family
    percentage = ask.memory_percentage
    assert percentage is not None
    if cards is None:
        raise Denial(
            f"{where}: {family.memory_percentage} needs the card sizes from the cluster's ResourceSlices, "
            "and this webhook has no API client"
        )
    sizes = sorted(
        {card.memory_bytes for card in cards(family.driver) if matches(card, family, ask.selection)}
    )
    if not sizes:
        raise Denial(
            f"{where}: {family.memory_percentage}={percentage} needs the memory size of the cards, but no "
            f"ResourceSlice of driver {family.driver} publishes a card that matches the pod's selection"
        )
    if len(sizes) > MAX_SUBREQUESTS:
        raise Denial(
            f"{where}: {family.memory_percentage} would need {len(sizes)} alternatives (one per card memory "
            f"size of {family.driver}), but firstAvailable holds at most {MAX_SUBREQUESTS}; ask for "
            f"{family.memory} in MiB instead"
        )
    base = selector_expressions(family, ask.selection)
    return [
        {
            "name": _size_name(size),
            "deviceClassName": family.driver,
            **_selectors([*base, memory_size_expression(family.driver, size)]),
            "allocationMode": "ExactCount",
            "count": ask.count,
            **_capacity(-(-percentage * size // (100 * MIB)), ask.cores),
        }
        for size in sizes
    ]


def _request(ask: Ask, where: str, cards: CardSource | None) -> dict[str, Any]:
    family = ask.family
    if ask.memory_percentage is not None:
        return {"name": family.request_name, "firstAvailable": _first_available(ask, where, cards)}
    expressions = selector_expressions(family, ask.selection)
    if ask.memory_mib is None and ask.cores == FULL_CORES:
        # A whole card (all memory, all cores): never a replica or partition of one (DESIGN §4).
        expressions = [*expressions, whole_card_selector(family.driver)]
    exactly = {
        "deviceClassName": family.driver,
        **_selectors(expressions),
        "allocationMode": "ExactCount",
        "count": ask.count,
        **_capacity(ask.memory_mib, ask.cores),
    }
    return {"name": family.request_name, "exactly": exactly}


def claim_spec(asks: Sequence[Ask], where: str, cards: CardSource | None) -> dict[str, Any]:
    """The ResourceClaimSpec for one container's asks."""
    devices: dict[str, Any] = {"requests": [_request(ask, where, cards) for ask in asks]}
    constraints = [
        {"requests": [ask.family.request_name], "distinctAttribute": f"{ask.family.driver}/uuid"}
        for ask in asks
        if ask.count > 1
    ]
    if constraints:
        devices["constraints"] = constraints
    configs = [
        {
            "requests": [ask.family.request_name],
            "opaque": {
                "driver": ask.family.driver,
                "parameters": AcceleratorConfig(priority=ask.priority).model_dump(by_alias=True),
            },
        }
        for ask in asks
        if ask.priority is not None
    ]
    if configs:
        devices["config"] = configs
    return {"devices": devices}


def canonical_hash(value: Any) -> str:
    """sha256 of the canonical JSON of ``value`` (sorted keys, no spaces), first 10 hex digits."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:HASH_HEX]


def claim_template(container: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    """The complete ResourceClaimTemplate object for ``spec``, named after its content."""
    template_spec = {"metadata": {"labels": dict(MANAGED_BY)}, "spec": spec}
    return {
        "apiVersion": API_VERSION,
        "kind": "ResourceClaimTemplate",
        "metadata": {
            "name": f"hdra-{container}-{canonical_hash(template_spec)}",
            "namespace": namespace,
            "labels": dict(MANAGED_BY),
        },
        "spec": template_spec,
    }
