"""Consumable capacity: ``requestPolicy`` rounding and the capacity check of one request on one device.

Owns: ``Capacity`` (a device capacity with its parsed policy), ``consumed_capacity`` (what one
allocation takes of every capacity) and ``check_capacity`` (whether it still fits), following d-r-a
``structured/internal/*/consumable_capacity.go``:

* not requested: the policy ``default``, or the whole ``value`` when there is no default/policy;
* requested, no policy: exactly the request;
* ``validValues``: rounded up to the first valid value >= the request; above all of them the
  request stays as is and violates the policy (device not eligible);
* ``validRange``: below ``min`` -> ``min``; else ``min + n*step`` rounded up; above ``max`` ->
  not eligible;
* a requested capacity the device does not have -> not eligible;
* fits when (already consumed + being allocated + this) <= ``value`` for every capacity; for a
  device without ``allowMultipleAllocations`` nothing is consumed before, so this is the plain
  "request <= value" filter.
``Demand``/``DemandCache``: the part of the check that does not depend on what is in use (the
rounded amounts, a policy violation, a capacity the device lacks), decided once per device and
request; ``Demand.fits`` is then ``check_capacity(...).ok`` without rounding or formatting anything.
It must never decide which device is tried or record usage.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from dataclasses import dataclass
from decimal import ROUND_CEILING, Decimal
from typing import Any

from dra_driver.sim.quantities import format_like, qty


@dataclass(frozen=True)
class Amount:
    """An exact value and the quantity text it came from (which decides its output format)."""

    value: Decimal
    text: str

    @classmethod
    def parse(cls, text: Any, what: str) -> Amount:
        return cls(qty(str(text), what=what), str(text))

    def formatted(self) -> str:
        return format_like(self.value, self.text)


@dataclass(frozen=True)
class Capacity:
    """One capacity of a device; the policy fields are None when not published."""

    name: str
    value: Amount
    default: Amount | None = None
    valid_values: tuple[Amount, ...] | None = None
    range_min: Amount | None = None
    range_max: Amount | None = None
    range_step: Amount | None = None

    @property
    def has_policy(self) -> bool:
        return self.default is not None or self.valid_values is not None or self.range_min is not None


def parse_capacity(device: str, name: str, entry: Mapping[str, Any]) -> Capacity:
    """Parse ``device.capacity[name]``; ValueError naming device, capacity and field."""
    where = f"device {device!r} capacity {name!r}"
    if not isinstance(entry, Mapping) or "value" not in entry:
        raise ValueError(f"{where}: missing 'value'")
    value = Amount.parse(entry["value"], f"{where} value")
    policy = entry.get("requestPolicy")
    if not policy:
        return Capacity(name, value)
    default = (
        Amount.parse(policy["default"], f"{where} requestPolicy.default") if "default" in policy else None
    )
    valid = policy.get("validValues")
    values = tuple(Amount.parse(v, f"{where} requestPolicy.validValues") for v in valid) if valid else None
    rng = policy.get("validRange") or {}
    return Capacity(
        name,
        value,
        default,
        values,
        Amount.parse(rng["min"], f"{where} requestPolicy.validRange.min") if "min" in rng else None,
        Amount.parse(rng["max"], f"{where} requestPolicy.validRange.max") if "max" in rng else None,
        Amount.parse(rng["step"], f"{where} requestPolicy.validRange.step") if "step" in rng else None,
    )


def _whole(value: Decimal) -> int:
    """``Quantity.Value()``: the value rounded up to an integer (the range-with-step math is int64)."""
    return int(value.to_integral_value(rounding=ROUND_CEILING))


def round_request(capacity: Capacity, requested: Amount | None) -> Amount:
    """What one allocation consumes of ``capacity`` given the (optional) request."""
    if requested is None:
        return capacity.default if capacity.default is not None else capacity.value
    if capacity.range_min is not None:
        low = capacity.range_min
        if requested.value < low.value:
            return low
        step = capacity.range_step
        if step is None:
            return requested
        added, size = _whole(requested.value) - _whole(low.value), _whole(step.value)  # added >= 0 here
        steps = added // size + (1 if added % size else 0)
        return Amount(Decimal(_whole(low.value) + _whole(step.value) * steps), step.text)
    if capacity.valid_values is not None:
        for valid in capacity.valid_values:
            if requested.value <= valid.value:
                return valid
    return requested


def violates_policy(capacity: Capacity, amount: Amount) -> str | None:
    """Why ``amount`` is not allowed by the policy, or None (d-r-a ``violatesPolicy``)."""
    if capacity.default is not None and amount.value == capacity.default.value:
        return None
    if capacity.range_min is not None:
        if capacity.range_max is not None and amount.value > capacity.range_max.value:
            return f"above the policy maximum {capacity.range_max.formatted()}"
        step = capacity.range_step
        if step is not None and (_whole(amount.value) - _whole(capacity.range_min.value)) % _whole(
            step.value
        ):
            return f"not the policy minimum plus a multiple of its step {step.formatted()}"
        return None
    if capacity.valid_values is not None and all(amount.value != v.value for v in capacity.valid_values):
        listed = ", ".join(v.formatted() for v in capacity.valid_values)
        return f"not one of the policy's validValues [{listed}]"
    return None


@dataclass(frozen=True)
class CapacityVerdict:
    """Outcome of the capacity check: ``consumed`` per capacity on success, else the failure."""

    ok: bool
    consumed: dict[str, Amount]
    capacity: str | None = None
    reason: str | None = None
    requested: str | None = None
    rounded: str | None = None
    available: str | None = None


def check_capacity(
    capacities: Mapping[str, Capacity],
    requests: Mapping[str, Amount],
    in_use: Mapping[str, Decimal],
) -> CapacityVerdict:
    """Whether one more allocation with ``requests`` fits; ``in_use`` is consumed + being allocated."""
    for name in requests:
        if name not in capacities:
            return CapacityVerdict(False, {}, name, "the device has no such capacity", requests[name].text)
    consumed: dict[str, Amount] = {}
    for name, capacity in capacities.items():
        requested = requests.get(name)
        amount = round_request(capacity, requested)
        consumed[name] = amount
        shown = requested.text if requested is not None else "(not requested)"
        available = capacity.value.value - in_use.get(name, Decimal(0))
        violation = violates_policy(capacity, amount) if capacity.has_policy else None
        if violation:
            left = format_like(max(available, Decimal(0)), capacity.value.text)
            return CapacityVerdict(False, {}, name, violation, shown, amount.formatted(), left)
        if amount.value > available:
            return CapacityVerdict(
                False,
                {},
                name,
                "capacity exhausted" if in_use.get(name) else "request exceeds the device's capacity",
                shown,
                amount.formatted(),
                format_like(max(available, Decimal(0)), capacity.value.text),
            )
    return CapacityVerdict(True, consumed)


def consumed_capacity(
    capacities: Mapping[str, Capacity], requests: Mapping[str, Amount]
) -> dict[str, Amount]:
    """What one share takes of every capacity of the device (d-r-a ``GetConsumedCapacityFromRequest``)."""
    return {name: round_request(capacity, requests.get(name)) for name, capacity in capacities.items()}


ZERO = Decimal(0)


@dataclass(frozen=True)
class Demand:
    """``check_capacity`` of one request on one device, with the usage-independent part decided.

    ``limits``: (capacity, its value, the rounded amount) in the device's capacity order, up to the
    first one whose rounded amount the policy refuses; ``refused``: such a capacity exists, or the
    request names a capacity the device lacks; ``exact``: False when deciding raised (then
    ``fits`` runs ``check_capacity`` itself, so it fails or raises exactly where that does).
    """

    capacities: Mapping[str, Capacity]
    requests: Mapping[str, Amount]
    consumed: dict[str, Amount]
    limits: tuple[tuple[str, Decimal, Decimal], ...]
    refused: bool
    exact: bool = True

    @classmethod
    def of(cls, capacities: Mapping[str, Capacity], requests: Mapping[str, Amount]) -> Demand:
        if any(name not in capacities for name in requests):
            return cls(capacities, requests, {}, (), refused=True)
        consumed: dict[str, Amount] = {}
        limits: list[tuple[str, Decimal, Decimal]] = []
        try:
            for name, capacity in capacities.items():
                amount = round_request(capacity, requests.get(name))
                if capacity.has_policy and violates_policy(capacity, amount):
                    return cls(capacities, requests, {}, tuple(limits), refused=True)
                consumed[name] = amount
                limits.append((name, capacity.value.value, amount.value))
        except ArithmeticError:
            return cls(capacities, requests, {}, (), refused=False, exact=False)
        return cls(capacities, requests, consumed, tuple(limits), refused=False)

    def fits(self, in_use: Mapping[str, Decimal]) -> bool:
        """``check_capacity(capacities, requests, in_use).ok``."""
        if not self.exact:
            return check_capacity(self.capacities, self.requests, in_use).ok
        for name, value, amount in self.limits:
            if amount > value - in_use.get(name, ZERO):
                return False
        return not self.refused

    def taken(self) -> dict[str, Amount]:
        """``consumed_capacity(capacities, requests)``: what one share takes (after ``fits``)."""
        return dict(self.consumed) if self.exact else consumed_capacity(self.capacities, self.requests)


class DemandCache:
    """``Demand`` per (device, request), for as long as the devices (and their capacities) are unchanged.

    Keys are the device object itself (two pools may publish the same name) and the request's
    capacity amounts with their texts (the text decides how the consumed amount is written).
    """

    def __init__(self) -> None:
        self._demands: dict[tuple[Hashable, tuple[tuple[str, Decimal, str], ...]], Demand] = {}

    def get(
        self, device: Hashable, capacities: Mapping[str, Capacity], requests: Mapping[str, Amount]
    ) -> Demand:
        key = (device, tuple((name, amount.value, amount.text) for name, amount in requests.items()))
        found = self._demands.get(key)
        if found is None:
            found = self._demands[key] = Demand.of(capacities, requests)
        return found
