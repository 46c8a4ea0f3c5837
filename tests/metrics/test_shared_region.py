"""Parsing HAMi-core's shared region: valid images, and every damaged one is a SharedRegionError."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from dra_driver.interception.shared_region import (
    REGION_SIZE,
    SharedRegion,
    SharedRegionError,
    parse_shared_region,
    read_shared_region,
)
from tests.metrics.region import Proc, region_bytes

GIB = 1024**3


def test_layout_size_matches_hami_core_v1() -> None:
    # 1856 header + 1024 slots x 1960 + 56 trailer, as sizeof(shared_region_t) on LP64.
    assert REGION_SIZE == 1856 + 1024 * 1960 + 56


def test_valid_region_sums_live_processes_per_device(tmp_path: Path) -> None:
    path = tmp_path / "vgpu.cache"
    procs = [Proc(10, {0: GIB, 1: 2 * GIB}, {0: 30}), Proc(0, {0: 99 * GIB}), Proc(11, {0: GIB}, {0: 15})]
    path.write_bytes(region_bytes(["GPU-a", "GPU-b"], [4 * GIB, 8 * GIB], procs))
    region = read_shared_region(path)
    assert (region.major, region.minor, region.processes) == (1, 2, 3)
    first, second = region.devices
    assert (first.uuid, first.limit_bytes, first.used_bytes, first.sm_util_percent) == (
        "GPU-a",
        4 * GIB,
        2 * GIB,
        45,
    )
    assert (first.processes, first.sm_limit_percent) == (2, 50)
    assert (second.uuid, second.used_bytes, second.processes) == ("GPU-b", 2 * GIB, 1)
    assert region.device("GPU-b") == second and region.device("GPU-z") is None


def test_slots_beyond_proc_num_are_ignored(tmp_path: Path) -> None:
    data = region_bytes(["GPU-a"], [GIB], [Proc(10, {0: 100}), Proc(11, {0: 200})], proc_num=1)
    assert parse_shared_region(data, tmp_path).devices[0].used_bytes == 100


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (region_bytes(["GPU-a"], [GIB], [])[: REGION_SIZE - 1], "unknown shared region layout"),
        (b"", "0 bytes"),
        (region_bytes(["GPU-a"], [GIB], [], major=2, minor=0), "unknown shared region layout: version 2.0"),
        (region_bytes(["GPU-a"], [GIB], [], magic=0), "initialized_flag is 0"),
        (region_bytes(["GPU-a"], [GIB], [], proc_num=5000), "proc_num 5000"),
        (region_bytes(["GPU-a"], [GIB], [], proc_num=-1), "proc_num -1"),
        (region_bytes(["GPU-\x01"], [GIB], []), "unprintable"),
    ],
    ids=[
        "truncated",
        "empty",
        "wrong-major",
        "not-initialised",
        "proc-num-too-big",
        "proc-num-negative",
        "bad-uuid",
    ],
)
def test_damaged_regions_raise_shared_region_error(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "vgpu.cache"
    path.write_bytes(data)
    with pytest.raises(SharedRegionError, match=message) as caught:
        read_shared_region(path)
    assert str(path) in str(caught.value)


def test_garbage_never_escapes_as_another_exception(tmp_path: Path) -> None:
    path = tmp_path / "vgpu.cache"
    for seed in range(20):
        garbage = bytearray(os.urandom(REGION_SIZE))
        if seed % 2:  # right magic and version, garbage after: counts and uuids are checked
            garbage[0:12] = region_bytes([], [], [])[0:12]
        path.write_bytes(bytes(garbage))
        outcome: SharedRegion | SharedRegionError
        try:
            outcome = read_shared_region(path)
        except SharedRegionError as exc:
            outcome = exc
        if isinstance(outcome, SharedRegion):
            assert all(device.uuid.isprintable() for device in outcome.devices)
        else:
            assert str(path) in str(outcome)


def test_missing_file_is_a_shared_region_error(tmp_path: Path) -> None:
    with pytest.raises(SharedRegionError, match="cannot read shared region"):
        read_shared_region(tmp_path / "absent.cache")
