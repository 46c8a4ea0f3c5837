"""CDI names: kinds, device names, qualified ids and per-claim device names follow the CDI parser rules."""

from __future__ import annotations

import pytest

from dra_driver.cdi import (
    CdiError,
    cdi_kind,
    device_name,
    parse_kind,
    parse_qualified_name,
    qualified_name,
    validate_claim_uid,
    validate_device_name,
)

UID = "0f3c2a10-5b6d-4e7f-8a9b-0c1d2e3f4a5b"


def test_hdra_kind_per_vendor() -> None:
    assert cdi_kind("nvidia") == "hdra.io/nvidia"
    assert cdi_kind("mock") == "hdra.io/mock"
    assert parse_kind("hdra.io/nvidia") == ("hdra.io", "nvidia")


@pytest.mark.parametrize(
    ("kind", "part"),
    [
        ("nvidia", "vendor/class"),
        ("/nvidia", "vendor"),
        ("hdra.io/", "class"),
        ("1hdra.io/gpu", "vendor"),
        ("hdra.io/gpu-", "class"),
        ("hdra.io/gp u", "class"),
        ("hdra.io/" + "g" * 64, "class"),
    ],
)
def test_bad_kinds_name_the_bad_part(kind: str, part: str) -> None:
    with pytest.raises(CdiError, match=part):
        parse_kind(kind)


@pytest.mark.parametrize("name", ["a", "0", "gpu-0", "0abc_x.y:z", "A-1"])
def test_valid_device_names(name: str) -> None:
    assert validate_device_name(name) == name


@pytest.mark.parametrize(
    ("name", "message"),
    [
        ("", "empty"),
        ("-gpu", "start and end"),
        ("gpu-", "start and end"),
        ("gpu/0", "invalid character '/'"),
        ("gpu=0", "invalid character '='"),
        ("gpu 0", "invalid character ' '"),
    ],
)
def test_invalid_device_names(name: str, message: str) -> None:
    with pytest.raises(CdiError, match=message):
        validate_device_name(name)


def test_qualified_name_round_trip() -> None:
    qualified = qualified_name("hdra.io/nvidia", f"{UID}-gpu-0")
    assert qualified == f"hdra.io/nvidia={UID}-gpu-0"
    assert parse_qualified_name(qualified) == ("hdra.io", "nvidia", f"{UID}-gpu-0")


def test_qualified_name_rejects_bad_device_and_kind() -> None:
    with pytest.raises(CdiError, match="invalid character '/'"):
        qualified_name("hdra.io/nvidia", "a/b")
    with pytest.raises(CdiError, match="vendor/class"):
        qualified_name("nvidia", "gpu-0")
    with pytest.raises(CdiError, match="vendor/class=name"):
        parse_qualified_name("hdra.io/nvidia")


def test_device_name_is_unique_per_claim_device_and_share() -> None:
    plain = device_name(UID, "gpu-0")
    assert plain == f"{UID}-gpu-0"
    share_a = device_name(UID, "gpu-0", "7d2c9f4e-1111-4222-8333-944455556666")
    share_b = device_name(UID, "gpu-0", "a1b2c3d4-1111-4222-8333-944455556666")
    assert share_a == f"{UID}-gpu-0-7d2c9f4e"
    assert len({plain, share_a, share_b, device_name(UID, "gpu-1")}) == 4


def test_device_name_rejects_bad_inputs() -> None:
    with pytest.raises(CdiError, match="not a UUID"):
        device_name("../x", "gpu-0")
    with pytest.raises(CdiError, match="empty"):
        device_name(UID, "")
    with pytest.raises(CdiError, match="invalid character '/'"):
        device_name(UID, "gpu/0")
    with pytest.raises(CdiError, match="no letters or digits"):
        device_name(UID, "gpu-0", "---")


@pytest.mark.parametrize(
    "uid", ["../x", "", "x", UID.upper(), UID + "/..", f"{UID}\n", "0f3c2a10/5b6d-4e7f-8a9b-0c1d2e3f4a5b"]
)
def test_claim_uid_must_be_a_lowercase_uuid(uid: str) -> None:
    with pytest.raises(CdiError, match="not a UUID"):
        validate_claim_uid(uid)
