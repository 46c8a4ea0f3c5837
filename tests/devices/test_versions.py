"""normalize_version and cuda_version_from_int: vendor strings become strict SemVer or ValueError."""

from __future__ import annotations

import pytest

from dra_driver.devices import Version, cuda_version_from_int, normalize_version


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("580.95.05", "580.95.5"),
        ("12.4", "12.4.0"),
        ("535", "535.0.0"),
        ("24.1.0-rc1", "24.1.0-rc1"),
        ("007.08.09", "7.8.9"),
        ("0.0.0", "0.0.0"),
        ("v1.2.3", "1.2.3"),
        (" 550.54.14\n", "550.54.14"),
        ("1.2.3-rc.01", "1.2.3-rc.1"),
        ("1.2.3-beta.2+build.7", "1.2.3-beta.2+build.7"),
        ("6.19.14.31400000", "6.19.14+31400000"),
    ],
)
def test_normalize_version_produces_semver(raw: str, expected: str) -> None:
    assert normalize_version(raw) == Version(semver=expected)


@pytest.mark.parametrize(
    "raw",
    ["", "abc", "580.95.05 beta", "1..2", "1.2.3-", "1.2.3+", ".1.2", "1.2.", "N/A", "9" * 70],
)
def test_normalize_version_rejects_garbage_naming_the_input(raw: str) -> None:
    with pytest.raises(ValueError, match="cannot read version") as caught:
        normalize_version(raw)
    assert repr(raw) in str(caught.value)


@pytest.mark.parametrize(
    ("value", "expected"),
    [(12040, "12.4.0"), (13000, "13.0.0"), (12090, "12.9.0"), (11080, "11.8.0"), (9020, "9.2.0")],
)
def test_cuda_version_from_int_decodes_nvml_encoding(value: int, expected: str) -> None:
    assert cuda_version_from_int(value) == Version(semver=expected)


@pytest.mark.parametrize("value", [0, -12040])
def test_cuda_version_from_int_rejects_non_positive(value: int) -> None:
    with pytest.raises(ValueError, match=str(value)):
        cuda_version_from_int(value)
