"""Negative capacity requests in claims of hdra's DeviceClasses: denied at admission.

Owns: ``negative_capacity_errors``. The API server stores a negative ``capacity.requests`` amount
(1.36 has no validation for it) and the scheduler rounds it up to the device's smallest step, so a
claim asking for ``memory: -1Gi`` would get memory it never asked for. Prepare refuses such a
claim on the node (``dra_driver.prepare.claims``); this module refuses it earlier, when the claim
or template is written, so the user sees the cause in ``kubectl apply``'s answer.

Scope: requests whose ``deviceClassName`` is one of hdra's classes (``driver_of_class``: the
chart's classes are named after their driver); a class of another name that happens to select
hdra's devices is judged only by prepare. Shapes: v1/v1beta2 ``exactly`` and ``firstAvailable``
sub-requests; v1beta1's flat request with ``capacity`` beside ``deviceClassName``. A value that is
not a quantity is left to the API server's own validation. It must never change an object.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from dra_driver.kube.quantity import parse_quantity
from dra_driver.webhook.pod_claims import driver_of_class


def negative_capacity_errors(requests: list[Any], base: str) -> list[str]:
    """One message per negative capacity request of an hdra class under ``base`` (e.g. ``spec.devices``)."""
    found: list[str] = []
    for path, name, class_name, capacity in _capacity_requests(requests, base):
        if driver_of_class(class_name) is None:
            continue
        for capacity_name, text in capacity.items():
            if _negative(text):
                found.append(
                    f"{path}.capacity.requests.{capacity_name}: request {name} asks for {text}, a negative "
                    "amount (the scheduler would round it up to the device's smallest step): ask for a "
                    "positive amount"
                )
    return found


def _capacity_requests(requests: list[Any], base: str) -> Iterator[tuple[str, str, str, Mapping[str, Any]]]:
    """(field path, request name, class name, capacity.requests) of every request that has them."""
    for index, request in enumerate(requests):
        if not isinstance(request, Mapping):
            continue
        path = f"{base}.requests[{index}]"
        name = str(request.get("name"))
        exactly = request.get("exactly")
        if isinstance(exactly, Mapping):
            yield from _one(exactly, f"{path}.exactly", name)
        elif "deviceClassName" in request:  # v1beta1: the request itself
            yield from _one(request, path, name)
        subs = request.get("firstAvailable")
        for sub_index, sub in enumerate(subs if isinstance(subs, list) else []):
            if isinstance(sub, Mapping):
                yield from _one(sub, f"{path}.firstAvailable[{sub_index}]", f"{name}/{sub.get('name')}")


def _one(
    request: Mapping[str, Any], path: str, name: str
) -> Iterator[tuple[str, str, str, Mapping[str, Any]]]:
    capacity = request.get("capacity")
    amounts = capacity.get("requests") if isinstance(capacity, Mapping) else None
    if isinstance(amounts, Mapping) and amounts:
        yield path, name, str(request.get("deviceClassName")), amounts


def _negative(text: Any) -> bool:
    try:
        return parse_quantity(text if isinstance(text, int) and not isinstance(text, bool) else str(text)) < 0
    except ValueError:
        return False  # not a quantity at all: the API server's validation answers that
