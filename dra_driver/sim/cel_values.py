"""The Kubernetes CEL value types and library functions the simulator adds to the Rust ``cel`` engine.

Owns: the encodings of ``Quantity`` and ``Semver`` values and ``FUNCTIONS``, the Python callables
registered in every evaluation context (k8s quantity library, semver library, strings ext v2 and
the 1.36 ``includes``). The ``cel`` package cannot carry opaque Python objects, so a quantity is
the tagged map ``{"__k8s_quantity__": "<exact decimal>"}`` and a semver ``{"__k8s_semver__":
"<major.minor.patch[-pre]>"}``: both are canonical, so ``==`` compares values as k8s does (build
metadata ignored), and ordering operators on them fail with "no such overload", as in k8s.
This module must never evaluate selectors or know about devices; functions raise ``TypeError`` /
``ValueError`` naming the function and the bad argument, which the engine turns into a runtime
error of the selector.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from decimal import Decimal, InvalidOperation
from typing import Any

from dra_driver.kube.quantity import parse_quantity
from dra_driver.runtime.cel_loader import stdlib

QUANTITY_TAG = "__k8s_quantity__"
SEMVER_TAG = "__k8s_semver__"
_INT64_MAX = 2**63 - 1

_SEMVER = re.compile(
    r"(0|[1-9]\d*)\.(0|[1-9]\d*)\.(0|[1-9]\d*)"
    r"(?:-((?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*)(?:\.(?:0|[1-9]\d*|\d*[A-Za-z-][0-9A-Za-z-]*))*))?"
    r"(?:\+([0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*))?"
)
_LOOSE_SEMVER = re.compile(r"v?(\d+)(?:\.(\d+))?(?:\.(\d+))?(?:-([0-9A-Za-z.-]+))?(?:\+([0-9A-Za-z.-]+))?")


def quantity_value(text: str) -> dict[str, str]:
    """The CEL encoding of the quantity ``text``; ValueError when it is not a quantity."""
    value = parse_quantity(text)
    return {QUANTITY_TAG: _exact(value)}


def semver_value(text: object, normalize: bool = False) -> dict[str, str]:
    """The CEL encoding of the semantic version ``text``; ValueError when it is not one."""
    major, minor, patch, pre = _parse_semver(text, normalize)
    core = f"{major}.{minor}.{patch}"
    return {SEMVER_TAG: f"{core}-{pre}" if pre else core}


def _exact(value: Decimal) -> str:
    return "0" if value == 0 else format(value.normalize(), "f")


def _parse_semver(text: object, normalize: bool) -> tuple[int, int, int, str]:
    if not isinstance(text, str):
        raise TypeError(f"semver(): expected a string, got {_kind(text)}")
    if not normalize:
        match = _SEMVER.fullmatch(text)
        if match is None:
            raise ValueError(f"semver(): {text!r} is not a semantic version (semver 2.0.0)")
        return int(match[1]), int(match[2]), int(match[3]), match[4] or ""
    loose = _LOOSE_SEMVER.fullmatch(text)
    if loose is None:
        raise ValueError(f"semver(): {text!r} is not a semantic version, even normalized")
    return int(loose[1]), int(loose[2] or 0), int(loose[3] or 0), loose[4] or ""


def _kind(value: object) -> str:
    if isinstance(value, dict) and QUANTITY_TAG in value:
        return "quantity"
    if isinstance(value, dict) and SEMVER_TAG in value:
        return "semver"
    return type(value).__name__


def _as_quantity(value: object, function: str) -> Decimal:
    if isinstance(value, dict) and QUANTITY_TAG in value:
        return Decimal(value[QUANTITY_TAG])
    raise TypeError(f"{function}(): expected a quantity, got {_kind(value)}")


def _as_semver(value: object, function: str) -> tuple[int, int, int, str]:
    if isinstance(value, dict) and SEMVER_TAG in value:
        return _parse_semver(value[SEMVER_TAG], False)
    raise TypeError(f"{function}(): expected a semver, got {_kind(value)}")


def _pre_key(pre: str) -> tuple[Any, ...]:
    """Semver precedence of a pre-release: none sorts after any pre-release; numeric < alphanumeric."""
    if not pre:
        return (1,)
    parts: list[tuple[int, int, str]] = []
    for part in pre.split("."):
        parts.append((0, int(part), "") if part.isdigit() else (1, 0, part))
    return (0, tuple(parts))


def _compare(left: object, right: object, function: str) -> int:
    if isinstance(left, dict) and SEMVER_TAG in left:
        a, b = _as_semver(left, function), _as_semver(right, function)
        key_a, key_b = (a[:3], _pre_key(a[3])), (b[:3], _pre_key(b[3]))
        return (key_a > key_b) - (key_a < key_b)
    x, y = _as_quantity(left, function), _as_quantity(right, function)
    return (x > y) - (x < y)


def _quantity(text: object) -> dict[str, str]:
    if not isinstance(text, str):
        raise TypeError(f"quantity(): expected a string, got {_kind(text)}")
    try:
        return quantity_value(text)
    except (ValueError, InvalidOperation):
        raise ValueError(f"quantity(): {text!r} is not a valid quantity") from None


def _is_quantity(text: object) -> bool:
    try:
        _quantity(text)
    except (TypeError, ValueError):
        return False
    return True


def _is_semver(text: object, normalize: bool = False) -> bool:
    try:
        _parse_semver(text, normalize)
    except (TypeError, ValueError):
        return False
    return True


def _operand(value: object, function: str) -> Decimal:
    if isinstance(value, int) and not isinstance(value, bool):
        return Decimal(value)
    return _as_quantity(value, function)


def _add(left: object, right: object) -> dict[str, str]:
    return {QUANTITY_TAG: _exact(_as_quantity(left, "add") + _operand(right, "add"))}


def _sub(left: object, right: object) -> dict[str, str]:
    return {QUANTITY_TAG: _exact(_as_quantity(left, "sub") - _operand(right, "sub"))}


def _sign(value: object) -> int:
    number = _as_quantity(value, "sign")
    return (number > 0) - (number < 0)


def _is_integer(value: object) -> bool:
    number = _as_quantity(value, "isInteger")
    return number == number.to_integral_value() and abs(number) <= _INT64_MAX


def _as_integer(value: object) -> int:
    number = _as_quantity(value, "asInteger")
    if number != number.to_integral_value() or abs(number) > _INT64_MAX:
        raise ValueError(f"asInteger(): quantity {_exact(number)} is not an int64 integer")
    return int(number)


def _as_float(value: object) -> float:
    return float(_as_quantity(value, "asApproximateFloat"))


def _semver_part(index: int, function: str) -> Callable[[object], int]:
    def part(value: object) -> int:
        return int(_as_semver(value, function)[index])

    return part


def _includes(container: object, value: object) -> bool:
    if isinstance(container, list):
        return value in container
    return container == value


def _index_of(container: object, item: object, offset: int = 0) -> int:
    if isinstance(container, list):
        return container.index(item) if item in container else -1
    if not isinstance(container, str) or not isinstance(item, str):
        raise TypeError(f"indexOf(): expected strings, got {_kind(container)} and {_kind(item)}")
    return stdlib.index_of(container, item, offset)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    # k8s quantity library (apiserver pkg/cel/library/quantity.go)
    "quantity": _quantity,
    "isQuantity": _is_quantity,
    "add": _add,
    "sub": _sub,
    "sign": _sign,
    "isInteger": _is_integer,
    "asInteger": _as_integer,
    "asApproximateFloat": _as_float,
    # shared by quantity and semver
    "compareTo": lambda a, b: _compare(a, b, "compareTo"),
    "isGreaterThan": lambda a, b: _compare(a, b, "isGreaterThan") > 0,
    "isLessThan": lambda a, b: _compare(a, b, "isLessThan") < 0,
    # k8s semver library (pkg/cel/library/semverlib.go)
    "semver": semver_value,
    "isSemver": _is_semver,
    "major": _semver_part(0, "major"),
    "minor": _semver_part(1, "minor"),
    "patch": _semver_part(2, "patch"),
    # cel-go strings extension v2 (the k8s base environment)
    "charAt": stdlib.char_at,
    "indexOf": _index_of,
    "lastIndexOf": stdlib.last_index_of,
    "lowerAscii": stdlib.lower_ascii,
    "upperAscii": stdlib.upper_ascii,
    "replace": stdlib.replace,
    "split": stdlib.split,
    "substring": stdlib.substring,
    "trim": stdlib.trim,
    "join": stdlib.join,
    # DRAListTypeAttributes (1.36): scalar or list membership
    "includes": _includes,
}
"""Every Python function a selector may call, by CEL name (method calls ``x.f(y)`` arrive as ``f(x, y)``)."""
