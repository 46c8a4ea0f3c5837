"""CEL selectors for card type, UUID and memory size, and the same rules in Python.

Owns: the CEL text of every selector the converter writes (dra-api.md §2: attributes under the
driver's domain, strings quoted as JSON, which CEL string literals accept) and ``matches``, the
Python twin used to pick which cards a ``firstAvailable`` list must cover. The two must agree:
a type entry matches when ``productName`` contains it ignoring case (HAMi ``checkGPUtype``), a
UUID entry matches ``uuid`` exactly, a family's ``product_pattern`` is a regular expression on
the lower-cased ``productName``. A card without the attribute matches no use list and no nouse
list. It must never read pods or the API.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass

from dra_driver.kube.quantity import binary_quantity
from dra_driver.rules import MEMORY
from dra_driver.webhook.asks import Selection
from dra_driver.webhook.vendors import DeviceFamily


@dataclass(frozen=True)
class Card:
    """One physical card as the cluster's ResourceSlices publish it."""

    driver: str
    product_name: str | None
    uuid: str | None
    memory_bytes: int


def _q(text: str) -> str:
    """A CEL string literal (JSON escapes are valid CEL escapes)."""
    return json.dumps(text)


def _attr(driver: str, name: str) -> tuple[str, str]:
    """(guard, access) for an attribute of the driver's domain."""
    domain = f"device.attributes[{_q(driver)}]"
    return f"{_q(name)} in {domain}", f"{domain}.{name}"


def _any_type(driver: str, types: tuple[str, ...]) -> str:
    guard, name = _attr(driver, "productName")
    tests = " || ".join(f"{name}.lowerAscii().contains({_q(t.lower())})" for t in types)
    return f"{guard} && ({tests})"


def _uuid_in(driver: str, uuids: tuple[str, ...]) -> str:
    guard, name = _attr(driver, "uuid")
    return f"{guard} && {name} in [{', '.join(_q(u) for u in uuids)}]"


def selector_expressions(family: DeviceFamily, selection: Selection) -> list[str]:
    """The CEL expressions a device of ``family`` must all satisfy for ``selection``."""
    driver = family.driver
    found: list[str] = []
    if family.product_pattern is not None:
        guard, name = _attr(driver, "productName")
        found.append(f"{guard} && {name}.lowerAscii().matches({_q(family.product_pattern)})")
    if selection.use_types:
        found.append(_any_type(driver, selection.use_types))
    if selection.nouse_types:
        found.append(f"!({_any_type(driver, selection.nouse_types)})")
    if selection.use_uuids:
        found.append(_uuid_in(driver, selection.use_uuids))
    if selection.nouse_uuids:
        found.append(f"!({_uuid_in(driver, selection.nouse_uuids)})")
    return found


def memory_size_expression(driver: str, memory_bytes: int) -> str:
    """CEL: the device's ``memory`` capacity is exactly ``memory_bytes``."""
    domain = f"device.capacity[{_q(driver)}]"
    size = _q(binary_quantity(memory_bytes))
    return f'"{MEMORY}" in {domain} && {domain}.{MEMORY}.compareTo(quantity({size})) == 0'


def _contains_any(product: str | None, types: tuple[str, ...]) -> bool:
    return product is not None and any(t.lower() in product.lower() for t in types)


def matches(card: Card, family: DeviceFamily, selection: Selection) -> bool:
    """Whether ``card`` satisfies every expression of ``selector_expressions(family, selection)``."""
    if card.driver != family.driver:
        return False
    if family.product_pattern is not None and (
        card.product_name is None or re.search(family.product_pattern, card.product_name.lower()) is None
    ):
        return False
    if selection.use_types and not _contains_any(card.product_name, selection.use_types):
        return False
    if selection.nouse_types and _contains_any(card.product_name, selection.nouse_types):
        return False
    if selection.use_uuids and card.uuid not in selection.use_uuids:
        return False
    return not (selection.nouse_uuids and card.uuid is not None and card.uuid in selection.nouse_uuids)
