"""Reads HAMi-core's shared region file (``vgpu.cache`` in a claim's cache dir): who uses how much.

Owns: the byte layout of ``shared_region_t`` version 1.x (hami.md §2.6; HAMi-core
``src/multiprocess/multiprocess_memory_limit.h``, x86-64/aarch64 LP64 natural alignment),
``SharedRegion`` / ``DeviceUsage`` and ``read_shared_region``. The layout:

* header: ``initialized_flag`` i32 (``19920718`` once set up), ``major_version`` u32,
  ``minor_version`` u32, ``sm_init_flag`` i32, ``owner_pid`` u64, ``sem_t`` (32 bytes),
  ``device_num`` u64, ``uuids`` 16 x 96 bytes (NUL-terminated), ``limit`` 16 x u64 (bytes),
  ``sm_limit`` 16 x u64 (percent) — 1856 bytes;
* ``procs``: 1024 slots of 2216 bytes: ``pid`` i32, ``hostpid`` i32, ``used`` 16 x (context,
  module, data, offset, total, 3 unused) u64, ``monitorused`` 16 x u64, ``device_util`` 16 x
  (dec, enc, sm, 3 unused) u64, ``status`` i32 (+4 padding), ``seqlock`` u64, 2 unused u64;
* trailer: ``proc_num`` i32, ``utilization_switch`` i32, ``recent_kernel`` i32, ``priority`` i32,
  ``last_kernel_time`` u64, ``sem_postinit`` (32 bytes).

The file is written concurrently by the container's processes without any lock we could take,
so a read may be torn. This module must never write the file, never map it, and never let
anything but ``SharedRegionError`` out of ``read_shared_region``: a short file, a wrong magic, an
unknown major version or an impossible process count are all errors naming the path and value.
"""

from __future__ import annotations

import struct
from dataclasses import dataclass
from pathlib import Path

MAGIC = 19920718
SUPPORTED_MAJOR = 1
MAX_DEVICES = 16
MAX_PROCS = 1024
UUID_BYTES = 96

_HEADER = struct.Struct(f"<iIIiQ32xQ{MAX_DEVICES * UUID_BYTES}s{MAX_DEVICES}Q{MAX_DEVICES}Q")
_SLOT = struct.Struct(f"<ii{MAX_DEVICES * 8}Q{MAX_DEVICES}Q{MAX_DEVICES * 6}Qi4xQ2Q")
_TRAILER = struct.Struct("<iiiiQ32x")
HEADER_SIZE = _HEADER.size
SLOT_SIZE = _SLOT.size
REGION_SIZE = HEADER_SIZE + MAX_PROCS * SLOT_SIZE + _TRAILER.size
_TRAILER_OFFSET = HEADER_SIZE + MAX_PROCS * SLOT_SIZE
_USED_TOTAL = 4  # index of ``total`` within one device_memory_t
_SM_UTIL = 2  # index of ``sm_util`` within one device_util_t


class SharedRegionError(Exception):
    """The shared region file cannot be read as a consistent version-1 region; says why."""


@dataclass(frozen=True)
class DeviceUsage:
    """One device of the region: its card uuid, limits and what the live processes use."""

    index: int
    uuid: str
    limit_bytes: int
    sm_limit_percent: int
    used_bytes: int
    sm_util_percent: int
    processes: int


@dataclass(frozen=True)
class SharedRegion:
    major: int
    minor: int
    processes: int
    devices: tuple[DeviceUsage, ...]

    def device(self, uuid: str) -> DeviceUsage | None:
        return next((d for d in self.devices if d.uuid == uuid), None)


def _uuid(raw: bytes, path: Path, index: int) -> str:
    text = raw.split(b"\0", 1)[0]
    try:
        decoded = text.decode("ascii")
    except UnicodeDecodeError:
        raise SharedRegionError(f"{path}: device {index} uuid is not ASCII ({text[:16]!r}...)") from None
    if not decoded.isprintable():
        raise SharedRegionError(f"{path}: device {index} uuid {decoded!r} has unprintable characters")
    return decoded


def parse_shared_region(data: bytes, path: Path) -> SharedRegion:
    """Parse a whole region image; ``path`` only names the source in errors."""
    if len(data) < REGION_SIZE:
        raise SharedRegionError(f"{path}: {len(data)} bytes, shorter than a shared region ({REGION_SIZE})")
    flag, major, minor, _sm_init, _owner, device_num, uuids, *limits = _HEADER.unpack_from(data, 0)
    if flag != MAGIC:
        raise SharedRegionError(f"{path}: initialized_flag is {flag}, not {MAGIC} (not initialised or torn)")
    if major != SUPPORTED_MAJOR:
        raise SharedRegionError(
            f"{path}: shared region version {major}.{minor} is not supported (major {SUPPORTED_MAJOR} only)"
        )
    if not 0 <= device_num <= MAX_DEVICES:
        raise SharedRegionError(f"{path}: device_num {device_num} is outside 0..{MAX_DEVICES}")
    proc_num = _TRAILER.unpack_from(data, _TRAILER_OFFSET)[0]
    if not 0 <= proc_num <= MAX_PROCS:
        raise SharedRegionError(f"{path}: proc_num {proc_num} is outside 0..{MAX_PROCS}")
    used = [0] * device_num
    sm = [0] * device_num
    live = [0] * device_num
    for slot in range(proc_num):
        values = _SLOT.unpack_from(data, HEADER_SIZE + slot * SLOT_SIZE)
        if values[0] == 0:  # a freed slot
            continue
        memory = values[2 : 2 + MAX_DEVICES * 8]
        utils = values[2 + MAX_DEVICES * 9 : 2 + MAX_DEVICES * 15]
        for index in range(device_num):
            total = memory[index * 8 + _USED_TOTAL]
            used[index] += total
            sm[index] += utils[index * 6 + _SM_UTIL]
            live[index] += 1 if total else 0
    devices = tuple(
        DeviceUsage(
            index=index,
            uuid=_uuid(uuids[index * UUID_BYTES : (index + 1) * UUID_BYTES], path, index),
            limit_bytes=limits[index],
            sm_limit_percent=limits[MAX_DEVICES + index],
            used_bytes=used[index],
            sm_util_percent=sm[index],
            processes=live[index],
        )
        for index in range(device_num)
    )
    return SharedRegion(major=major, minor=minor, processes=proc_num, devices=devices)


def read_shared_region(path: Path) -> SharedRegion:
    """Read and parse ``path`` in one read; every failure is a ``SharedRegionError``."""
    try:
        with path.open("rb") as handle:
            data = handle.read(REGION_SIZE)
    except OSError as exc:
        raise SharedRegionError(f"cannot read shared region {path}: {exc}") from exc
    try:
        return parse_shared_region(data, path)
    except struct.error as exc:  # defensive: sizes are checked above, so this means a layout bug
        raise SharedRegionError(f"{path}: cannot unpack the shared region: {exc}") from exc
