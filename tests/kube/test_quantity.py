"""Quantities: exact parsing and the API server's canonical spelling."""

from __future__ import annotations

from decimal import Decimal

import pytest

from dra_driver.kube.quantity import (
    MIB,
    binary_quantity,
    canonical_quantity,
    decimal_quantity,
    normalize_quantity,
    parse_quantity,
)

GIB = 1024 * MIB


@pytest.mark.parametrize(
    ("value", "text"),
    [
        (0, "0"),
        (1, "1"),
        (1000, "1k"),
        (1024, "1Ki"),
        (1536 * MIB, "1536Mi"),
        (40 * GIB, "40Gi"),
        (141 * GIB, "141Gi"),
        (16 * GIB + 12345, "17179881529"),
        (2**60, "1Ei"),
    ],
)
def test_binary_quantity_is_canonical_and_exact(value: int, text: str) -> None:
    assert binary_quantity(value) == text
    assert parse_quantity(text) == value
    assert normalize_quantity(text) == str(value)


@pytest.mark.parametrize(
    ("value", "text"), [(0, "0"), (100, "100"), (1000, "1k"), (2500, "2500"), (3 * 10**9, "3G")]
)
def test_decimal_quantity_is_canonical(value: int, text: str) -> None:
    assert decimal_quantity(value) == text


@pytest.mark.parametrize(
    ("text", "expected"),
    [("40Gi", "42949672960"), ("1.5k", "1500"), ("100m", "0.1"), ("1e3", "1000"), ("0", "0"), ("12", "12")],
)
def test_normalize_quantity(text: str, expected: str) -> None:
    assert normalize_quantity(text) == expected
    assert Decimal(expected) == parse_quantity(text)


def test_malformed_quantity_names_it() -> None:
    with pytest.raises(ValueError, match="invalid quantity '12Qi'"):
        parse_quantity("12Qi")


def test_negative_values_are_refused() -> None:
    with pytest.raises(ValueError, match="-1"):
        binary_quantity(-1)


# Every pair was read back from the real kube-apiserver v1.36.3 (tests/realcluster/test_conformance.py).
@pytest.mark.parametrize(
    ("text", "stored"),
    [
        ("1024Mi", "1Gi"),
        ("40960Mi", "40Gi"),
        ("1536Mi", "1536Mi"),
        ("1.5Gi", "1536Mi"),
        ("2000", "2k"),
        ("1500", "1500"),
        ("0.5", "500m"),
        ("1000m", "1"),
        ("1e3", "1e3"),
        ("5e-3", "5e-3"),
        ("100", "100"),
        ("2000k", "2M"),
        ("0", "0"),
    ],
)
def test_canonical_quantity_is_what_the_api_server_stores(text: str, stored: str) -> None:
    assert canonical_quantity(text) == stored


def test_canonical_quantity_keeps_the_sign_and_rounds_below_a_nano_up() -> None:
    assert canonical_quantity("-1024Mi") == "-1Gi"
    assert canonical_quantity("0.0000000001") == "1n"
    with pytest.raises(ValueError, match="12Gx"):
        canonical_quantity("12Gx")
