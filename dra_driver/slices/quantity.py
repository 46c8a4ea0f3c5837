"""Resource quantities as the API server writes them, and their exact values.

Owns: ``bytes_quantity`` (a byte count in the canonical binary-suffix form the API server stores,
e.g. ``40Gi``), ``parse_quantity`` and ``normalize_quantity`` (the exact value of any quantity
string, so that ``40960Mi`` and ``40Gi`` compare equal). It must never round: a value that is not
exact raises, because a rounded capacity would let the scheduler hand out memory that is not there.
"""

from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

MIB = 1024 * 1024

_BINARY_SUFFIXES = ("Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_MULTIPLIERS: dict[str, Decimal] = {
    **{suffix: Decimal(1024) ** (power + 1) for power, suffix in enumerate(_BINARY_SUFFIXES)},
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "": Decimal(1),
    "k": Decimal("1e3"),
    "M": Decimal("1e6"),
    "G": Decimal("1e9"),
    "T": Decimal("1e12"),
    "P": Decimal("1e15"),
    "E": Decimal("1e18"),
}
_QUANTITY = re.compile(r"([+-]?(?:\d+\.?\d*|\.\d+))(Ki|Mi|Gi|Ti|Pi|Ei|[eE][+-]?\d+|[numkMGTPE]?)")


def bytes_quantity(value: int) -> str:
    """``value`` bytes as the API server's canonical binary-SI string (``1Mi``, ``40Gi``, ``1536Mi``).

    The server re-serialises quantities in canonical form; publishing that form already keeps a
    stored slice byte-identical to what was sent.
    """
    if value < 0:
        raise ValueError(f"byte quantity {value} is negative")
    if value < 1024:
        return str(value)
    number, power = value, 0
    while number % 1024 == 0 and power < len(_BINARY_SUFFIXES):
        number //= 1024
        power += 1
    return f"{number}{_BINARY_SUFFIXES[power - 1]}" if power else str(number)


def parse_quantity(text: str) -> Decimal:
    """The exact value of a Kubernetes quantity string; malformed input names the string."""
    match = _QUANTITY.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"{text!r} is not a Kubernetes quantity")
    number, suffix = match.group(1), match.group(2)
    try:
        base = Decimal(number)
        if suffix in _MULTIPLIERS:  # before exponents: "Ei" and "E" are suffixes, "E3" is not
            return base * _MULTIPLIERS[suffix]
        return base * Decimal(10) ** int(suffix[1:])
    except (InvalidOperation, ValueError) as error:
        raise ValueError(f"{text!r} is not a Kubernetes quantity: {error}") from None


def normalize_quantity(text: str) -> str:
    """A format-independent spelling of the quantity's value (``40Gi`` -> ``42949672960``)."""
    value = parse_quantity(text)
    if value == 0:
        return "0"
    return format(value.normalize(), "f")
