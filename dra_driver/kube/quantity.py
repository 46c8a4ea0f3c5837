"""Kubernetes quantities: parsing, and formatting in the API server's canonical form.

The API server re-serialises every Quantity canonically ("42949672960" stays, "40960Mi" becomes
"40Gi", "1000" becomes "1k"). A controller that compares what it wants with what is stored must
therefore write canonical strings, or it would rewrite the same object forever. Parsing is the
grammar of upstream apimachinery's ``resource.ParseQuantity`` (a signed decimal number, then a
binary-SI suffix ``Ki``..``Ei``, a decimal-SI suffix ``n``..``E`` or a decimal exponent ``e3``).
"""

from __future__ import annotations

import re
from decimal import ROUND_UP, Decimal

MIB = 1024 * 1024
_BINARY = (("Ei", 1024**6), ("Pi", 1024**5), ("Ti", 1024**4), ("Gi", 1024**3), ("Mi", 1024**2), ("Ki", 1024))
_DECIMAL = (("E", 10**18), ("P", 10**15), ("T", 10**12), ("G", 10**9), ("M", 10**6), ("k", 10**3))


# Kubernetes keeps quantities as int64-scaled values: nothing at or above 2**63 is a quantity, and
# refusing it here keeps NaN, Infinity and 1e999999999 (whose int() would take forever) out of
# every caller's arithmetic.
_LIMIT = Decimal(2**63)
_MAX_TEXT = 64

# apimachinery pkg/api/resource/quantity.go: <signedNumber><suffix>, suffix binarySI | decimalSI |
# decimalExponent; a number is digits with an optional fraction ("5", "5.", ".5", "5.25").
_GRAMMAR = re.compile(
    r"([+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+))(Ki|Mi|Gi|Ti|Pi|Ei|[numkMGTPE]|[eE][+-]?[0-9]+)?"
)
_POWERS = {
    "Ki": Decimal(1024),
    "Mi": Decimal(1024**2),
    "Gi": Decimal(1024**3),
    "Ti": Decimal(1024**4),
    "Pi": Decimal(1024**5),
    "Ei": Decimal(1024**6),
    "n": Decimal("1e-9"),
    "u": Decimal("1e-6"),
    "m": Decimal("1e-3"),
    "k": Decimal(10**3),
    "M": Decimal(10**6),
    "G": Decimal(10**9),
    "T": Decimal(10**12),
    "P": Decimal(10**15),
    "E": Decimal(10**18),
}


def _parse_quantity(text: str | int) -> Decimal:
    if isinstance(text, int):
        return Decimal(text)
    match = _GRAMMAR.fullmatch(text.strip())  # Quantity's UnmarshalJSON trims spaces first
    if match is None:
        raise ValueError("not a number with an optional SI suffix or exponent")
    number, suffix = Decimal(match.group(1)), match.group(2)
    if suffix is None:
        return number
    if suffix not in _POWERS:  # a decimal exponent ("E" alone is exa, "Ei" exbi)
        exponent = int(suffix[1:])
        if abs(exponent) > 64:
            raise ValueError(f"exponent {exponent} out of range")
        return number.scaleb(exponent)
    return number * _POWERS[suffix]


def parse_quantity(text: str | int) -> Decimal:
    """Parse ``"40Gi"``, ``"100"``, ``"1.5"``; raises ValueError naming the input when invalid."""
    if isinstance(text, str) and len(text) > _MAX_TEXT:
        raise ValueError(f"invalid quantity {text[:_MAX_TEXT]!r}...: longer than {_MAX_TEXT} characters")
    try:
        value = _parse_quantity(text)
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


_SUFFIX = re.compile(r"[+-]?[0-9.]+([eEinumkKMGTP]*[-+]?[0-9]*)")
_DECIMAL_SUFFIX = {-9: "n", -6: "u", -3: "m", 0: "", 3: "k", 6: "M", 9: "G", 12: "T", 15: "P", 18: "E"}
_BINARY_SUFFIX = ("", "Ki", "Mi", "Gi", "Ti", "Pi", "Ei")
_NANO = Decimal("1e-9")


def canonical_quantity(text: str) -> str:
    """The spelling the API server stores for ``text``: ``1024Mi`` → ``1Gi``, ``0.5`` → ``500m``,
    ``2000`` → ``2k``, ``1000m`` → ``1``, ``1e3`` stays ``1e3`` (upstream ``Quantity.String()``).

    The format follows the input's suffix (binary ``Ki``…``Ei``, decimal ``n``…``E`` or none, or
    an exponent); a binary value below 1024 or with a fraction is written in decimal SI; digits
    below a nano round up, away from zero, as upstream's parser does. ValueError as parse_quantity.
    """
    value = parse_quantity(text)
    match = _SUFFIX.fullmatch(text.strip())
    suffix = match.group(1) if match else ""
    nanos = value.scaleb(9)
    if nanos != nanos.to_integral_value():
        value = value.quantize(_NANO, rounding=ROUND_UP)
    sign, magnitude = ("-" if value < 0 else ""), abs(value)
    if suffix.endswith("i") and magnitude >= 1024 and magnitude == magnitude.to_integral_value():
        number, power = int(magnitude), 0
        while number % 1024 == 0 and power < len(_BINARY_SUFFIX) - 1:
            number, power = number // 1024, power + 1
        return f"{sign}{number}{_BINARY_SUFFIX[power]}"
    if magnitude == 0:
        return "0"
    for exponent in sorted(_DECIMAL_SUFFIX, reverse=True):
        mantissa = magnitude.scaleb(-exponent)
        if mantissa == mantissa.to_integral_value():
            break
    written = (
        _DECIMAL_SUFFIX[exponent] if suffix[:1] not in ("e", "E") else (f"e{exponent}" if exponent else "")
    )
    return f"{sign}{int(mantissa)}{written}"
