"""Kubernetes quantities: parsing, and formatting in the API server's canonical form.

The API server re-serialises every Quantity canonically ("42949672960" stays, "40960Mi" becomes
"40Gi", "1000" becomes "1k"). A controller that compares what it wants with what is stored must
therefore write canonical strings, or it would rewrite the same object forever. Parsing is the
official client's (``kubernetes.utils.quantity``); only the canonical formatting is ours.
"""

from __future__ import annotations

from decimal import Decimal

from kubernetes.utils.quantity import parse_quantity as _parse_quantity

MIB = 1024 * 1024
_BINARY = (("Ei", 1024**6), ("Pi", 1024**5), ("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024))
_DECIMAL = (("E", 10**18), ("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3))


def parse_quantity(text: str | int) -> Decimal:
    """Parse ``"40Gi"``, ``"100"``, ``"1.5"``; raises ValueError naming the input when invalid."""
    try:
        return Decimal(_parse_quantity(text))  # type: ignore[no-untyped-call]
    except ValueError as exc:
        raise ValueError(f"invalid quantity {text!r}: {exc}") from None


def binary_quantity(value: int) -> str:
    """Canonical binary-SI form of a non-negative integer (bytes): ``40Gi``, ``1536Mi``, ``1000``."""
    if value < 0:
        raise ValueError(f"quantity {value} must not be negative")
    for suffix, factor in _BINARY:
        if value and value % factor == 0:
            return f"{value // factor}{suffix}"
    # The API server falls back to decimal SI when no binary suffix divides exactly.
    return decimal_quantity(value)


def decimal_quantity(value: int) -> str:
    """Canonical decimal-SI form of a non-negative integer: ``100``, ``1k``, ``2500``."""
    if value < 0:
        raise ValueError(f"quantity {value} must not be negative")
    for suffix, factor in _DECIMAL:
        if value and value % factor == 0:
            return f"{value // factor}{suffix}"
    return str(value)


def normalize_quantity(text: str) -> str:
    """A spelling-independent form of a quantity's exact value: ``40Gi`` and ``40960Mi`` agree."""
    value = parse_quantity(text)
    if value == 0:
        return "0"
    return format(value.normalize(), "f")
