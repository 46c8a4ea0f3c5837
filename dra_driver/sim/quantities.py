"""Quantity arithmetic for the simulator: exact values, and formatting the way the API server does.

Owns: ``qty`` (parse to an exact ``Decimal``), ``format_like`` (a value in the format of the quantity
it came from: binary SI for ``Mi``/``Gi`` inputs, decimal SI otherwise, ``m`` for fractions) and
``is_binary``. Parsing is ``dra_driver.kube.quantity``'s; this module must never round a value.
Both directions are memoised (pure functions of their input; ``Decimal`` is immutable): the
allocator sees the same few quantity texts over and over.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache

from dra_driver.kube.quantity import binary_quantity, decimal_quantity, parse_quantity

_BINARY_SUFFIXES = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei")


def qty(text: str | int, *, what: str) -> Decimal:
    """``text`` as an exact value; ``what`` (e.g. ``"request gpu capacity memory"``) names it in errors."""
    try:
        return _parsed(text)
    except (ValueError, TypeError) as exc:
        raise ValueError(f"{what}: {exc}") from None


@lru_cache(maxsize=4096)
def _parsed(text: str | int) -> Decimal:
    """``parse_quantity`` (errors are raised, never cached)."""
    return parse_quantity(text)


def is_binary(text: str) -> bool:
    """Whether ``text`` is written with a binary-SI suffix (its Go Quantity format is BinarySI)."""
    return str(text).strip().endswith(_BINARY_SUFFIXES)


@lru_cache(maxsize=4096)
def format_quantity(value: Decimal, *, binary: bool) -> str:
    """Canonical API form of ``value``: ``40Gi``, ``25``, ``1k``, ``500m``."""
    if value < 0:
        return "-" + format_quantity(-value, binary=binary)
    if value == value.to_integral_value():
        number = int(value)
        return binary_quantity(number) if binary else decimal_quantity(number)
    milli = value * 1000
    if milli == milli.to_integral_value():
        return f"{int(milli)}m"
    return format(value.normalize(), "f")


def format_like(value: Decimal, source: str) -> str:
    """``value`` in the format of the quantity string ``source`` it was derived from."""
    return format_quantity(value, binary=is_binary(source))
