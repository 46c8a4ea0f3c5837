"""Reads HAMi-core's shared region file (``vgpu.cache`` in a container's region dir): who uses how much.

Owns: the byte layouts of ``shared_region_t`` HAMi-core has shipped (``LAYOUTS``), telling them
apart (``detect_layout``), ``SharedRegion`` / ``DeviceUsage``, ``parse_shared_region`` and
``read_shared_region`` (the monitor's writes are ``feedback.MappedRegion``'s). All offsets are
LP64 (x86-64, aarch64) natural alignment of ``src/multiprocess/multiprocess_memory_limit.h`` at
the commits named per layout (hami.md §2.6):

* ``0``: 2024-01 to 2024-08 (8b7cd78..7a9c88b). No version fields; ``device_memory_t`` 5 x u64,
  ``device_util_t`` 3 x u64, slot 1168 bytes, trailer ``proc_num, utilization_switch,
  recent_kernel, priority`` (no ``last_kernel_time``). sizeof 1197896.
* ``1.1``: 2024-08-27 (9b46404) to the merge of 2026-03-25 (3273df8). Header ``initialized_flag,
  major, minor, sm_init_flag, owner_pid (u64), sem_t (32), device_num, uuids[16][96], limit[16],
  sm_limit[16]`` = 1856 bytes; slot 1960 bytes (``used[16]`` of 8 x u64 at 8, ``monitorused`` at
  1032, ``device_util[16]`` of 6 x u64 at 1160, ``status`` at 1928); trailer at 2008896.
  sizeof 2008952.
* ``1.1-2026``: from that merge (e200da2) to 2026-04-27 (b69b1ea merged in 8888734). Still says
  1.1, but ``sem_postinit`` follows ``sem`` in the header (+32 bytes: ``device_num`` at 88, procs
  at 1888) and each slot's ``seqlock`` follows ``hostpid`` (``used`` at 16, ``status`` at 1936).
  sizeof 2008984 — the file size is what tells it from 1.1.
* ``1.2``: b69b1ea onwards (HEAD 8f3a89c). The 1.1 offsets again: ``seqlock`` moved into the slot's
  old ``unused[0]`` (1936) and ``sem_postinit`` into the trailer's old ``unused`` (at +24).
  sizeof 2008952.

HAMi-core sizes the file to ``sizeof(shared_region_t) + 1`` (it writes one byte at offset sizeof);
a file of another size, another version, or a version whose size does not match its layout is an
unknown layout: a ``SharedRegionError`` naming version and size, never numbers read at guessed
offsets. The file is written concurrently by the container's processes: slots of layouts with a
seqlock are re-read until their sequence number is even and unchanged, as HAMi-core's own reader
does. This module must never write or map the file, never follow a symlink to it, and never let
anything but ``SharedRegionError`` out of ``read_shared_region``.
"""

from __future__ import annotations

import os
import stat
import struct
from dataclasses import dataclass
from pathlib import Path

MAGIC = 19920718
MAX_DEVICES = 16
MAX_PROCS = 1024
UUID_BYTES = 96
SEQLOCK_RETRIES = 1000


@dataclass(frozen=True)
class RegionLayout:
    """Offsets (bytes) of one ``shared_region_t`` layout; slot offsets are relative to the slot."""

    name: str
    upstream: str
    size: int
    version: tuple[int, int] | None  # None: the layout has no version fields
    device_num: int
    uuids: int
    limit: int
    sm_limit: int
    procs: int
    slot_size: int
    used: int  # used[0] within a slot
    used_stride: int  # sizeof(device_memory_t); ``total`` is its 5th u64
    util: int  # device_util[0] within a slot
    util_stride: int  # sizeof(device_util_t); ``sm_util`` is its 3rd u64
    status: int
    seqlock: int | None
    proc_num: int
    utilization_switch: int
    recent_kernel: int
    priority: int
    last_kernel_time: int | None

    def trailer(self) -> int:
        return self.procs + MAX_PROCS * self.slot_size


def _v1(name: str, upstream: str, *, postinit_in_header: bool, seqlock: int | None) -> RegionLayout:
    shift = 32 if postinit_in_header else 0  # sem_postinit (a sem_t) right after sem
    slot_shift = 8 if seqlock == 8 else 0  # seqlock right after hostpid
    trailer = 1856 + shift + MAX_PROCS * 1960
    return RegionLayout(
        name=name,
        upstream=upstream,
        size=trailer + 56,
        version=(1, 2) if name == "1.2" else (1, 1),
        device_num=56 + shift,
        uuids=64 + shift,
        limit=1600 + shift,
        sm_limit=1728 + shift,
        procs=1856 + shift,
        slot_size=1960,
        used=8 + slot_shift,
        used_stride=64,
        util=1160 + slot_shift,
        util_stride=48,
        status=1928 + slot_shift,
        seqlock=seqlock,
        proc_num=trailer,
        utilization_switch=trailer + 4,
        recent_kernel=trailer + 8,
        priority=trailer + 12,
        last_kernel_time=trailer + 16,
    )


LAYOUT_0 = RegionLayout(
    name="0",
    upstream="HAMi-core 7a9c88b src/multiprocess/multiprocess_memory_limit.h",
    size=1848 + MAX_PROCS * 1168 + 16,
    version=None,
    device_num=48,
    uuids=56,
    limit=1592,
    sm_limit=1720,
    procs=1848,
    slot_size=1168,
    used=8,
    used_stride=40,
    util=776,
    util_stride=24,
    status=1160,
    seqlock=None,
    proc_num=1848 + MAX_PROCS * 1168,
    utilization_switch=1848 + MAX_PROCS * 1168 + 4,
    recent_kernel=1848 + MAX_PROCS * 1168 + 8,
    priority=1848 + MAX_PROCS * 1168 + 12,
    last_kernel_time=None,
)
LAYOUT_1_1 = _v1(
    "1.1",
    "HAMi-core 20c411c src/multiprocess/multiprocess_memory_limit.h",
    postinit_in_header=False,
    seqlock=None,
)
LAYOUT_1_1_2026 = _v1(
    "1.1-2026",
    "HAMi-core e200da2 src/multiprocess/multiprocess_memory_limit.h",
    postinit_in_header=True,
    seqlock=8,
)
LAYOUT_1_2 = _v1(
    "1.2",
    "HAMi-core b69b1ea src/multiprocess/multiprocess_memory_limit.h",
    postinit_in_header=False,
    seqlock=1936,
)
LAYOUTS = (LAYOUT_0, LAYOUT_1_1, LAYOUT_1_1_2026, LAYOUT_1_2)

# The current layout's sizes, for callers that build or bound region images.
REGION_SIZE = LAYOUT_1_2.size
HEADER_SIZE = LAYOUT_1_2.procs
SLOT_SIZE = LAYOUT_1_2.slot_size


class SharedRegionError(Exception):
    """The shared region file cannot be read as a consistent region of a known layout; says why."""


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
    """One region: its layout, processes, devices and the monitor's fields (HAMi feedback.go)."""

    major: int
    minor: int
    processes: int
    devices: tuple[DeviceUsage, ...]
    layout: str = LAYOUT_1_2.name
    utilization_switch: int = 1
    recent_kernel: int = 0
    priority: int = 1
    last_kernel_time: int = 0

    def device(self, uuid: str) -> DeviceUsage | None:
        return next((d for d in self.devices if d.uuid == uuid), None)


def detect_layout(data: bytes | bytearray, path: Path, size: int | None = None) -> RegionLayout:
    """The layout of a region whose file is ``size`` bytes (default ``len(data)``) and starts with
    ``data`` (at least the 12 header bytes); SharedRegionError if no known layout fits."""
    if len(data) < 12:
        raise SharedRegionError(f"{path}: {len(data)} bytes, shorter than a shared region header")
    flag, major, minor = struct.unpack_from("<iII", data, 0)
    if flag != MAGIC:
        raise SharedRegionError(f"{path}: initialized_flag is {flag}, not {MAGIC} (not initialised or torn)")
    size = len(data) if size is None else size
    for layout in LAYOUTS:
        if size not in (layout.size, layout.size + 1):  # sizeof, +1 for the byte HAMi-core writes
            continue
        if layout.version is None or layout.version == (major, minor):
            return layout
    known = ", ".join(f"{x.name} ({x.size + 1} bytes)" for x in LAYOUTS)
    raise SharedRegionError(
        f"{path}: unknown shared region layout: version {major}.{minor}, {size} bytes (known: {known})"
    )


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
    """Parse a whole region file's bytes; ``path`` only names the source in errors."""
    layout = detect_layout(data, path)
    major, minor = layout.version or (0, 0)
    (device_num,) = struct.unpack_from("<Q", data, layout.device_num)
    if not 0 <= device_num <= MAX_DEVICES:
        raise SharedRegionError(
            f"{path}: device_num {device_num} is outside 0..{MAX_DEVICES} (layout {layout.name})"
        )
    proc_num, switch, recent, priority = struct.unpack_from("<iiii", data, layout.proc_num)
    if not 0 <= proc_num <= MAX_PROCS:
        raise SharedRegionError(
            f"{path}: proc_num {proc_num} is outside 0..{MAX_PROCS} (layout {layout.name})"
        )
    kernel_time = (
        0 if layout.last_kernel_time is None else struct.unpack_from("<Q", data, layout.last_kernel_time)[0]
    )
    limits = struct.unpack_from(f"<{MAX_DEVICES}Q", data, layout.limit)
    sm_limits = struct.unpack_from(f"<{MAX_DEVICES}Q", data, layout.sm_limit)
    used = [0] * device_num
    sm = [0] * device_num
    live = [0] * device_num
    for slot in range(proc_num):
        base = layout.procs + slot * layout.slot_size
        if struct.unpack_from("<i", data, base)[0] == 0:  # pid 0: freed by the exit handler
            continue
        for index in range(device_num):
            (total,) = struct.unpack_from("<Q", data, base + layout.used + index * layout.used_stride + 32)
            (sm_util,) = struct.unpack_from("<Q", data, base + layout.util + index * layout.util_stride + 16)
            used[index] += total
            sm[index] += sm_util
            live[index] += 1 if total else 0
    devices = tuple(
        DeviceUsage(
            index=index,
            uuid=_uuid(
                data[layout.uuids + index * UUID_BYTES : layout.uuids + (index + 1) * UUID_BYTES], path, index
            ),
            limit_bytes=limits[index],
            sm_limit_percent=sm_limits[index],
            used_bytes=used[index],
            sm_util_percent=sm[index],
            processes=live[index],
        )
        for index in range(device_num)
    )
    return SharedRegion(
        major=major,
        minor=minor,
        processes=proc_num,
        devices=devices,
        layout=layout.name,
        utilization_switch=switch,
        recent_kernel=recent,
        priority=priority,
        last_kernel_time=kernel_time,
    )


def _stable_slots(fd: int, data: bytearray, path: Path) -> None:
    """Re-read each live slot of a seqlock layout by HAMi-core's protocol (``get_gpu_memory_usage``):
    sequence number, slot, sequence number again; kept once both are equal and even."""
    try:
        layout = detect_layout(data, path)
    except SharedRegionError:
        return  # parse_shared_region reports it
    if layout.seqlock is None:
        return
    (proc_num,) = struct.unpack_from("<i", data, layout.proc_num)
    for slot in range(max(0, min(proc_num, MAX_PROCS))):
        base = layout.procs + slot * layout.slot_size
        at = base + layout.seqlock
        for _ in range(SEQLOCK_RETRIES):
            (before,) = struct.unpack("<Q", os.pread(fd, 8, at))
            if before % 2:
                continue
            copy = os.pread(fd, layout.slot_size, base)
            (after,) = struct.unpack("<Q", os.pread(fd, 8, at))
            if before == after and len(copy) == layout.slot_size:
                data[base : base + layout.slot_size] = copy
                break
        else:
            raise SharedRegionError(
                f"{path}: process slot {slot} stayed mid-update for {SEQLOCK_RETRIES} reads"
            )


def read_shared_region(path: Path) -> SharedRegion:
    """Read and parse ``path`` (a regular file, never via a symlink); every failure is a SharedRegionError."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as exc:
        raise SharedRegionError(f"cannot read shared region {path}: {exc.strerror or exc}") from exc
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise SharedRegionError(f"{path}: not a regular file")
        if info.st_size > LAYOUT_1_1_2026.size + 1:
            raise SharedRegionError(
                f"{path}: unknown shared region layout: {info.st_size} bytes, more than any known one"
            )
        data = bytearray(os.pread(fd, info.st_size, 0))
        _stable_slots(fd, data, path)
    except OSError as exc:
        raise SharedRegionError(f"cannot read shared region {path}: {exc.strerror or exc}") from exc
    finally:
        os.close(fd)
    try:
        return parse_shared_region(bytes(data), path)
    except struct.error as exc:  # defensive: sizes are checked by detect_layout, so this is a layout bug
        raise SharedRegionError(f"{path}: cannot unpack the shared region: {exc}") from exc
