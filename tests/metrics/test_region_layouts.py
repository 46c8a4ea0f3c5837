"""Every shared-region layout HAMi-core has shipped, at its exact offsets, and unknown ones refused.

Upstream: Project-HAMi/HAMi-core ``src/multiprocess/multiprocess_memory_limit.h`` at
7a9c88b (layout 0, 2024), 20c411c (1.1 before 2026), e200da2 (the 1.1 of 2026-03-25..2026-04-27
with ``seqlock`` after ``hostpid`` and ``sem_postinit`` after ``sem``) and b69b1ea (1.2, unchanged at
8f3a89c). ``tests/metrics/region.py`` transcribes those structs into ctypes; the numbers written out
below are what a C compiler makes of them on LP64.
"""

from __future__ import annotations

import ctypes
import gzip
from pathlib import Path
from typing import Any

import pytest

from dra_driver.interception.shared_region import (
    LAYOUT_0,
    LAYOUT_1_1,
    LAYOUT_1_1_2026,
    LAYOUT_1_2,
    LAYOUTS,
    RegionLayout,
    SharedRegionError,
    parse_shared_region,
    read_shared_region,
)
from tests.metrics.region import STRUCTS, Proc, region_bytes

GIB = 1024**3
REAL_FIXTURE = Path(__file__).parents[1] / "interception" / "fixtures" / "real_card_h200"

# (layout, sizeof, device_num, uuids, procs, slot size, used[0] in slot, status in slot, seqlock in
#  slot, proc_num, last_kernel_time) as the compiler lays out the upstream struct.
EXACT = [
    (LAYOUT_0, 1197896, 48, 56, 1848, 1168, 8, 1160, None, 1197880, None),
    (LAYOUT_1_1, 2008952, 56, 64, 1856, 1960, 8, 1928, None, 2008896, 2008912),
    (LAYOUT_1_1_2026, 2008984, 88, 96, 1888, 1960, 16, 1936, 8, 2008928, 2008944),
    (LAYOUT_1_2, 2008952, 56, 64, 1856, 1960, 8, 1928, 1936, 2008896, 2008912),
]


@pytest.mark.parametrize("row", EXACT, ids=[row[0].name for row in EXACT])
def test_exact_offsets_of_each_layout(row: tuple[Any, ...]) -> None:
    layout, size, device_num, uuids, procs, slot, used, status, seqlock, proc_num, kernel_time = row
    assert (layout.size, layout.device_num, layout.uuids, layout.procs) == (size, device_num, uuids, procs)
    assert (layout.slot_size, layout.used, layout.status, layout.seqlock) == (slot, used, status, seqlock)
    assert (layout.proc_num, layout.last_kernel_time) == (proc_num, kernel_time)
    assert (layout.utilization_switch, layout.recent_kernel, layout.priority) == (
        proc_num + 4,
        proc_num + 8,
        proc_num + 12,
    )


def _element(struct: type[ctypes.Structure], name: str) -> Any:
    """The element type of the array field ``name`` of a ctypes structure."""
    types: dict[str, Any] = {entry[0]: entry[1] for entry in struct._fields_}
    return types[name]._type_


@pytest.mark.parametrize("layout", LAYOUTS, ids=[x.name for x in LAYOUTS])
def test_offsets_match_the_upstream_struct_as_a_compiler_lays_it_out(layout: RegionLayout) -> None:
    struct = STRUCTS[layout.name]
    slot = _element(struct, "procs")
    memory, util = _element(slot, "used"), _element(slot, "device_util")
    assert ctypes.sizeof(struct) == layout.size
    for name in ("device_num", "uuids", "limit", "sm_limit", "procs", "proc_num"):
        assert getattr(struct, name).offset == getattr(layout, name), name
    for name in ("utilization_switch", "recent_kernel", "priority"):
        assert getattr(struct, name).offset == getattr(layout, name), name
    if layout.last_kernel_time is not None:
        assert struct.last_kernel_time.offset == layout.last_kernel_time
    assert ctypes.sizeof(slot) == layout.slot_size
    assert (slot.used.offset, slot.device_util.offset, slot.status.offset) == (
        layout.used,
        layout.util,
        layout.status,
    )
    assert (ctypes.sizeof(memory), ctypes.sizeof(util)) == (layout.used_stride, layout.util_stride)
    assert (memory.total.offset, util.sm_util.offset) == (32, 16)
    assert (slot.seqlock.offset if hasattr(slot, "seqlock") else None) == layout.seqlock


@pytest.mark.parametrize("layout", LAYOUTS, ids=[x.name for x in LAYOUTS])
def test_each_layout_reads_back_what_was_written(layout: RegionLayout, tmp_path: Path) -> None:
    procs = [Proc(10, {0: GIB, 1: 2 * GIB}, {0: 30}), Proc(0, {0: 99 * GIB}), Proc(11, {0: GIB}, {0: 15})]
    path = tmp_path / "vgpu.cache"
    data = region_bytes(
        ["GPU-a", "GPU-b"], [4 * GIB, 8 * GIB], procs, layout=layout.name, priority=0, recent_kernel=-1,
        utilization_switch=0,
    )  # fmt: skip
    assert len(data) == layout.size + 1  # HAMi-core writes one byte at offset sizeof
    path.write_bytes(data)
    region = read_shared_region(path)
    assert region.layout == layout.name
    assert (region.major, region.minor) == (layout.version or (0, 0))
    assert (region.processes, region.priority, region.recent_kernel, region.utilization_switch) == (
        3,
        0,
        -1,
        0,
    )
    assert region.last_kernel_time == (0 if layout.last_kernel_time is None else 1796403585)
    first, second = region.devices
    assert (first.uuid, first.limit_bytes, first.used_bytes, first.sm_util_percent, first.processes) == (
        "GPU-a", 4 * GIB, 2 * GIB, 45, 2,
    )  # fmt: skip
    assert (second.uuid, second.limit_bytes, second.used_bytes, second.sm_limit_percent) == (
        "GPU-b",
        8 * GIB,
        2 * GIB,
        50,
    )


def test_the_2026_variant_is_told_from_1_1_by_size_not_version(tmp_path: Path) -> None:
    # Both say 1.1; read at the other's offsets, each would yield other numbers.
    old = region_bytes(["GPU-a"], [4 * GIB], [Proc(10, {0: GIB})], layout="1.1")
    new = region_bytes(["GPU-a"], [4 * GIB], [Proc(10, {0: GIB})], layout="1.1-2026")
    assert old[4:12] == new[4:12]  # the same version fields
    assert parse_shared_region(old, tmp_path).layout == "1.1"
    assert parse_shared_region(new, tmp_path).layout == "1.1-2026"
    assert parse_shared_region(new, tmp_path).devices[0].used_bytes == GIB
    assert len(new) - len(old) == 32  # sem_postinit


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (region_bytes(["GPU-a"], [GIB], [], major=1, minor=3), "version 1.3, 2008953 bytes"),
        (region_bytes(["GPU-a"], [GIB], [], major=2, minor=0), "version 2.0"),
        (region_bytes(["GPU-a"], [GIB], [], layout="1.1-2026", minor=2), "version 1.2, 2008985 bytes"),
        (region_bytes(["GPU-a"], [GIB], []) + bytes(64), "2009017 bytes"),
        (region_bytes(["GPU-a"], [GIB], [])[:-100], "2008853 bytes"),
    ],
    ids=["next-minor", "next-major", "1.2-at-2026-size", "grown", "truncated"],
)
def test_an_unknown_layout_is_an_error_never_numbers(data: bytes, message: str, tmp_path: Path) -> None:
    path = tmp_path / "vgpu.cache"
    path.write_bytes(data)
    with pytest.raises(SharedRegionError, match="unknown shared region layout") as caught:
        read_shared_region(path)
    assert message in str(caught.value) and str(path) in str(caught.value)


def test_a_slot_a_writer_never_finishes_is_an_error_not_a_torn_number(tmp_path: Path) -> None:
    path = tmp_path / "vgpu.cache"
    path.write_bytes(region_bytes(["GPU-a"], [GIB], [Proc(10, {0: GIB}, seqlock=7)]))
    with pytest.raises(SharedRegionError, match="slot 0 stayed mid-update"):
        read_shared_region(path)
    path.write_bytes(region_bytes(["GPU-a"], [GIB], [Proc(10, {0: GIB}, seqlock=8)]))
    assert read_shared_region(path).devices[0].used_bytes == GIB


def test_a_symlinked_region_file_is_refused(tmp_path: Path) -> None:
    # A container owns its region directory: the plugin must never follow its links onto host files.
    target = tmp_path / "host-file"
    target.write_bytes(region_bytes(["GPU-a"], [GIB], []))
    (tmp_path / "vgpu.cache").symlink_to(target)
    with pytest.raises(SharedRegionError, match="cannot read shared region"):
        read_shared_region(tmp_path / "vgpu.cache")


def test_the_file_the_real_library_wrote_is_layout_1_2() -> None:
    # Written by HAMi-core 8f3a89c on an H200 (tools/real_card_check.py, issue 14 item 4).
    path = REAL_FIXTURE / "region-separate-0.bin.gz"
    data = gzip.decompress(path.read_bytes())
    region = parse_shared_region(data, path)
    assert (len(data), region.layout, region.processes) == (LAYOUT_1_2.size + 1, "1.2", 1)
    assert (region.utilization_switch, region.recent_kernel, region.priority) == (1, 2, 1)
