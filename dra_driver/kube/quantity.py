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


# Kubernetes keeps quantities as int64-scaled values: nothing at or above 2**63 is a quantity, and
# refusing it here keeps NaN, Infinity and 1e999999999 (whose int() would take forever) out of
# every caller's arithmetic.
_LIMIT = Decimal(2**63)
_MAX_TEXT = 64


def parse_quantity(text: str | int) -> Decimal:
    """Parse ``"40Gi"``, ``"100"``, ``"1.5"``; raises ValueError naming the input when invalid."""
    if isinstance(text, str) and len(text) > _MAX_TEXT:
        raise ValueError(f"invalid quantity {text[:_MAX_TEXT]!r}...: longer than {_MAX_TEXT} characters")
    try:
        value = Decimal(_parse_quantity(text))  # type: ignore[no-untyped-call]
    except (ValueError, ArithmeticError) as exc:
        raise ValueError(f"invalid quantity {text!r}: {exc}") from None
    if not value.is_finite():
        raise ValueError(f"invalid quantity {text!r}: not a finite number")
    if value.adjusted() > 18 or value.copy_abs() >= _LIMIT:  # adjusted(): no arithmetic on huge exponents
        raise ValueError(f"invalid quantity {text!r}: out of range (at most 2^63)")
    return value


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
