"""What one container of a HAMi-style pod asks for, read from its extended resources and the pod's
annotations (reference/hami.md §1.2, §1.3, §1.6).

Owns: ``Ask`` (one device family in one container: cards, memory, cores, priority, selection),
``Selection`` (use/nouse type and UUID lists) and the checks with HAMi's defaults:

* a value is taken from ``limits``, or from ``requests`` when only requests name it; when both
  name it they must agree (the API server demands that of extended resources);
* every value must be a whole, non-negative number; memory at least 1 unit; percentages
  (memory percentage 1..100, cores 0..100) never above 100; priority 0 (high) or 1 (low);
* a card count of 0 is refused; memory, memory percentage or cores without a count get HAMi's
  ``defaultGPUNum`` = 1; no memory means the whole card (HAMi ``defaultMemory`` 0 = 100 %), which
  is what the capacity policy's default gives; no cores means cores 0 (``defaultCores``);
* ``gpumem`` wins over ``gpumem-percentage`` when both are given (HAMi reads the percentage only
  when no memory is set);
* the per-family rules of ``vendors.DeviceFamily`` (exclusive cores, even counts, whole chips);
* a name under a vendor prefix that no family knows is refused.

Type lists match HAMi's ``checkGPUtype``: an entry matches a card when the card's product name
contains it, ignoring case. UUID lists match exactly. An empty annotation value (or empty list
items) means no constraint. The same type (ignoring case) or UUID in both the use and the nouse
list is refused. This module must never build claims or talk to the API.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from dra_driver.kube.quantity import parse_quantity
from dra_driver.parameters import Priority
from dra_driver.rules import FULL_CORES
from dra_driver.webhook.errors import Denial
from dra_driver.webhook.vendors import FAMILIES, RESOURCES, DeviceFamily, Role, known_under, owned_prefix

FULL = FULL_CORES  # a whole card, as a percentage of its memory or its cores
HAMI_MAX = 2**31 - 1  # HAMi keeps every count, MiB and percentage in an int32


@dataclass(frozen=True)
class Selection:
    """Which cards of a family a pod accepts (from its annotations)."""

    use_types: tuple[str, ...] = ()
    nouse_types: tuple[str, ...] = ()
    use_uuids: tuple[str, ...] = ()
    nouse_uuids: tuple[str, ...] = ()


@dataclass(frozen=True)
class Ask:
    """One family in one container: ``count`` cards, each with this memory (MiB, or percent of the
    card) and cores (percent); None means "not asked" (the capacity policy's default applies)."""

    family: DeviceFamily
    count: int
    memory_mib: int | None
    memory_percentage: int | None
    cores: int | None
    priority: Priority | None
    selection: Selection


def _items(annotations: Mapping[str, str], key: str | None) -> tuple[str, ...]:
    if key is None:
        return ()
    return tuple(item.strip() for item in str(annotations.get(key, "")).split(",") if item.strip())


def selection_for(family: DeviceFamily, annotations: Mapping[str, str], pod: str) -> Selection:
    """The family's selection from ``annotations``; a type or UUID both used and refused is an error."""
    selection = Selection(
        use_types=_items(annotations, family.use_type),
        nouse_types=_items(annotations, family.nouse_type),
        use_uuids=_items(annotations, family.use_uuid),
        nouse_uuids=_items(annotations, family.nouse_uuid),
    )
    both_types = sorted({t.lower() for t in selection.use_types} & {t.lower() for t in selection.nouse_types})
    if both_types:
        raise Denial(
            f"{pod}: annotations {family.use_type} and {family.nouse_type} both name the card type "
            f"{', '.join(repr(t) for t in both_types)} (types match ignoring case)"
        )
    both_uuids = sorted(set(selection.use_uuids) & set(selection.nouse_uuids))
    if both_uuids:
        raise Denial(
            f"{pod}: annotations {family.use_uuid} and {family.nouse_uuid} both name the UUID "
            f"{', '.join(repr(u) for u in both_uuids)}"
        )
    return selection


def _whole(value: Any, resource: str, where: str) -> int:
    """A whole, non-negative quantity of at most ``HAMI_MAX``; anything else is refused naming the
    resource and value. HAMi reads each value with ``Quantity.AsInt64`` into an int32
    (pkg/device/nvidia/device.go ``GenerateResourceRequests``): a suffix is a multiplier, so
    ``gpumem: 3Gi`` is 3221225472 MiB, which HAMi refuses as out of range; so does hdra, and says
    how to write the amount."""
    if isinstance(value, bool) or not isinstance(value, str | int):
        raise Denial(f"{where}: {resource} value {value!r} is not a quantity")
    text = str(value)
    try:
        number = parse_quantity(value)
    except ValueError as exc:
        if "out of range" in str(exc):
            raise Denial(f"{where}: {resource} value {text!r} is too large (at most {HAMI_MAX})") from None
        raise Denial(f"{where}: {resource} value {text!r} is not a number") from None
    if number < 0 or number != number.to_integral_value():
        raise Denial(f"{where}: {resource} value {text!r} is not a whole non-negative number")
    if number > HAMI_MAX:
        multiplied = f" ({text} is {int(number)}: a suffix multiplies, it is no unit)"
        hint = "" if text.strip().isdigit() else multiplied
        raise Denial(f"{where}: {resource} value {text!r} is too large (at most {HAMI_MAX}){hint}")
    return int(Decimal(number))


def _values(resources: Mapping[str, Any], where: str) -> dict[str, int]:
    """The owned resource values of a container (limits, or requests when only they name one)."""
    limits = resources.get("limits") or {}
    requests = resources.get("requests") or {}
    if not isinstance(limits, Mapping) or not isinstance(requests, Mapping):
        raise Denial(f"{where}: resources.limits and resources.requests must be maps")
    values: dict[str, int] = {}
    for name in sorted({*limits, *requests}):
        prefix = owned_prefix(str(name))
        if prefix is None:
            continue
        if name not in RESOURCES:
            raise Denial(
                f"{where}: unknown resource {name!r} under {prefix}; known: {', '.join(known_under(prefix))}"
            )
        value = _whole(limits[name] if name in limits else requests[name], name, where)
        if name in limits and name in requests and _whole(requests[name], name, where) != value:
            raise Denial(
                f"{where}: {name} request {requests[name]!r} differs from its limit {limits[name]!r}; "
                "extended resources must request exactly their limit"
            )
        values[name] = value
    return values


def _percent(value: int, resource: str, where: str, *, low: int) -> int:
    if not low <= value <= FULL:
        raise Denial(f"{where}: {resource} is {value}, a percentage must be {low} to {FULL}")
    return value


def _ask(
    family: DeviceFamily,
    values: Mapping[Role, int],
    selection: Selection,
    where: str,
    annotations: Mapping[str, str],
) -> Ask:
    count = values.get(Role.COUNT)
    if count == 0:
        raise Denial(
            f"{where}: {family.count} is 0; ask for at least 1 card or remove the {family.vendor} resources"
        )
    count = 1 if count is None else count  # HAMi defaultGPUNum
    memory = values.get(Role.MEMORY)
    if memory is not None:
        if memory < 1:
            raise Denial(
                f"{where}: {family.memory} is 0; memory must be at least 1 "
                "(or leave it out for the whole card)"
            )
        if memory > HAMI_MAX // family.memory_unit_mib:  # HAMi: memnums > MaxInt32/factor is refused
            raise Denial(
                f"{where}: {family.memory} is {memory} units of {family.memory_unit_mib} MiB, too large "
                f"(at most {HAMI_MAX // family.memory_unit_mib})"
            )
        memory *= family.memory_unit_mib
    percentage = values.get(Role.MEMORY_PERCENTAGE)
    if percentage is not None:
        _percent(percentage, str(family.memory_percentage), where, low=1)
        if memory is not None:
            percentage = None  # HAMi: an absolute memory request wins over the percentage
    cores = values.get(Role.CORES)
    soft_split = family.cores_requires is not None and (
        annotations.get(family.cores_requires[0]) == family.cores_requires[1]
    )
    if cores is not None:
        _percent(cores, str(family.cores), where, low=family.cores_min)
        if family.cores_requires is not None and not soft_split:
            key, wanted = family.cores_requires
            raise Denial(f"{where}: {family.cores} needs the pod annotation {key}: {wanted}")
    elif family.exclusive_cores_default and (memory is None and percentage in (None, FULL)):
        cores = FULL  # HAMi: a whole card's memory gets all its cores (exclusive)
    elif family.default_cores is not None:
        cores = family.default_cores  # HAMi: no cores resource means this share of the cores
    priority = None
    if Role.PRIORITY in values:
        level = values[Role.PRIORITY]
        priority = Priority.from_hami_level(level)
        if priority is None:
            levels = " or ".join(f"{p.hami_level} ({p.value})" for p in Priority)
            raise Denial(f"{where}: {family.priority} is {level}; it must be {levels}")
    if family.even_count:
        if count == 1:
            count = 2  # HAMi: a 910C superPod chip is always allocated in pairs
        elif count % 2:
            raise Denial(
                f"{where}: {family.count} is {count}; this chip is allocated in pairs, ask for an even count"
            )
    if family.whole_card_when_multiple and count > 1 and not soft_split and memory is not None:
        key, wanted = family.cores_requires or ("", "")
        raise Denial(
            f"{where}: {family.count} is {count} with memory; outside {key}: {wanted} a request for several "
            "of these chips takes whole chips (HAMi: vNPU not supported for multiple devices), so leave "
            "out memory"
        )
    return Ask(family, count, memory, percentage, cores, priority, selection)


def container_asks(
    container: Mapping[str, Any], where: str, annotations: Mapping[str, str], pod: str
) -> tuple[list[Ask], list[str]]:
    """The asks of ``container`` (in ``FAMILIES`` order) and the resource names to remove from it.

    ``where`` names the container in messages (``pod ns/name container "main"``); ``pod`` names
    the pod for annotation errors.
    """
    resources = container.get("resources") or {}
    if not isinstance(resources, Mapping):
        raise Denial(f"{where}: resources must be a map")
    values = _values(resources, where)
    asks: list[Ask] = []
    for family in FAMILIES:
        mine = {role: values[name] for name, role in family.resources().items() if name in values}
        if mine:
            selection = selection_for(family, annotations, pod)
            asks.append(_ask(family, mine, selection, where, annotations))
    return asks, sorted(values)
