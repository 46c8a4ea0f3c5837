"""Test support: HAMi-core shared region images in each layout HAMi-core has shipped.

The structs are transcribed field by field from ``src/multiprocess/multiprocess_memory_limit.h`` of
Project-HAMi/HAMi-core at the commit named on each class, as ctypes structures: ctypes lays them
out with the C compiler's natural alignment (LP64), independently of the offsets hard-coded in
``dra_driver.interception.shared_region``, so the tests compare two derivations of one layout.
``sem_t`` is glibc's 32-byte, 8-aligned union on x86-64 and aarch64.
"""

from __future__ import annotations

import ctypes
from dataclasses import dataclass, field

MAGIC = 19920718  # MULTIPROCESS_SHARED_REGION_MAGIC_FLAG
DEVICES = 16  # CUDA_DEVICE_MAX_COUNT
PROCS = 1024  # SHARED_REGION_MAX_PROCESS_NUM

u64, i32, u32 = ctypes.c_uint64, ctypes.c_int32, ctypes.c_uint32
SemT = u64 * 4
Uuids = (ctypes.c_char * 96) * DEVICES


class Memory0(ctypes.Structure):  # device_memory_t, HAMi-core 7a9c88b
    _fields_ = [
        ("context_size", u64),
        ("module_size", u64),
        ("data_size", u64),
        ("offset", u64),
        ("total", u64),
    ]


class Util0(ctypes.Structure):  # device_util_t, HAMi-core 7a9c88b
    _fields_ = [("dec_util", u64), ("enc_util", u64), ("sm_util", u64)]


class Memory1(ctypes.Structure):  # device_memory_t since 9b46404 (unused[3] added)
    _fields_ = [*Memory0._fields_, ("unused", u64 * 3)]


class Util1(ctypes.Structure):  # device_util_t since 9b46404
    _fields_ = [*Util0._fields_, ("unused", u64 * 3)]


class Slot0(ctypes.Structure):  # shrreg_proc_slot_t, HAMi-core 7a9c88b
    _fields_ = [
        ("pid", i32), ("hostpid", i32), ("used", Memory0 * DEVICES), ("monitorused", u64 * DEVICES),
        ("device_util", Util0 * DEVICES), ("status", i32),
    ]  # fmt: skip


class Slot11(ctypes.Structure):  # shrreg_proc_slot_t, HAMi-core 20c411c (1.1 before 2026)
    _fields_ = [
        ("pid", i32), ("hostpid", i32), ("used", Memory1 * DEVICES), ("monitorused", u64 * DEVICES),
        ("device_util", Util1 * DEVICES), ("status", i32), ("unused", u64 * 3),
    ]  # fmt: skip


class Slot11v2026(ctypes.Structure):  # shrreg_proc_slot_t, HAMi-core e200da2 (seqlock after hostpid)
    _fields_ = [
        ("pid", i32), ("hostpid", i32), ("seqlock", u64), ("used", Memory1 * DEVICES),
        ("monitorused", u64 * DEVICES), ("device_util", Util1 * DEVICES), ("status", i32),
        ("unused", u64 * 2),
    ]  # fmt: skip


class Slot12(ctypes.Structure):  # shrreg_proc_slot_t, HAMi-core b69b1ea (seqlock after status)
    _fields_ = [
        ("pid", i32), ("hostpid", i32), ("used", Memory1 * DEVICES), ("monitorused", u64 * DEVICES),
        ("device_util", Util1 * DEVICES), ("status", i32), ("seqlock", u64), ("unused", u64 * 2),
    ]  # fmt: skip


class Region0(ctypes.Structure):  # shared_region_t, HAMi-core 7a9c88b (no version fields)
    _fields_ = [
        ("initialized_flag", i32), ("sm_init_flag", i32), ("owner_pid", ctypes.c_size_t), ("sem", SemT),
        ("device_num", u64), ("uuids", Uuids), ("limit", u64 * DEVICES), ("sm_limit", u64 * DEVICES),
        ("procs", Slot0 * PROCS), ("proc_num", ctypes.c_int), ("utilization_switch", ctypes.c_int),
        ("recent_kernel", ctypes.c_int), ("priority", ctypes.c_int),
    ]  # fmt: skip


def _header(*extra_sem: tuple[str, type]) -> list[tuple[str, type]]:
    return [
        ("initialized_flag", i32), ("major_version", u32), ("minor_version", u32), ("sm_init_flag", i32),
        ("owner_pid", ctypes.c_size_t), ("sem", SemT), *extra_sem, ("device_num", u64), ("uuids", Uuids),
        ("limit", u64 * DEVICES), ("sm_limit", u64 * DEVICES),
    ]  # fmt: skip


_TRAILER = [
    ("proc_num", ctypes.c_int), ("utilization_switch", ctypes.c_int), ("recent_kernel", ctypes.c_int),
    ("priority", ctypes.c_int), ("last_kernel_time", u64),
]  # fmt: skip


class Region11(ctypes.Structure):  # shared_region_t, HAMi-core 20c411c
    _fields_ = [*_header(), ("procs", Slot11 * PROCS), *_TRAILER, ("unused", u64 * 4)]


class Region11v2026(ctypes.Structure):  # shared_region_t, HAMi-core e200da2 (sem_postinit after sem)
    _fields_ = [
        *_header(("sem_postinit", SemT)),
        ("procs", Slot11v2026 * PROCS),
        *_TRAILER,
        ("unused", u64 * 4),
    ]


class Region12(ctypes.Structure):  # shared_region_t, HAMi-core b69b1ea (sem_postinit at the end)
    _fields_ = [*_header(), ("procs", Slot12 * PROCS), *_TRAILER, ("sem_postinit", SemT)]


STRUCTS: dict[str, type[ctypes.Structure]] = {
    "0": Region0,
    "1.1": Region11,
    "1.1-2026": Region11v2026,
    "1.2": Region12,
}
VERSIONS = {"1.1": (1, 1), "1.1-2026": (1, 1), "1.2": (1, 2)}


@dataclass
class Proc:
    pid: int
    used: dict[int, int] = field(default_factory=dict)  # device index -> used.total bytes
    sm: dict[int, int] = field(default_factory=dict)  # device index -> sm_util
    seqlock: int = 0


def region_struct(
    layout: str,
    uuids: list[str],
    limits: list[int],
    procs: list[Proc],
    *,
    proc_num: int | None = None,
    priority: int = 1,
    recent_kernel: int = 2,
    utilization_switch: int = 1,
) -> ctypes.Structure:
    """A region as HAMi-core's ``try_create_shrreg`` and its process hooks leave it."""
    region = STRUCTS[layout]()
    region.initialized_flag = MAGIC
    if layout in VERSIONS:
        region.major_version, region.minor_version = VERSIONS[layout]
        region.last_kernel_time = 1796403585
    region.owner_pid = 0
    region.sem[0] = 1  # sem_init(&sem, 1, 1)
    region.device_num = len(uuids)
    for index, uuid in enumerate(uuids):
        region.uuids[index].value = uuid.encode()
    for index, limit in enumerate(limits):
        region.limit[index] = limit
    for index in range(DEVICES):
        region.sm_limit[index] = 50
    for slot, proc in zip(region.procs, procs, strict=False):
        slot.pid, slot.hostpid, slot.status = proc.pid, proc.pid + 1000 if proc.pid else 0, 1
        if hasattr(slot, "seqlock"):
            slot.seqlock = proc.seqlock
        for index, total in proc.used.items():
            memory = slot.used[index]
            memory.context_size, memory.module_size, memory.data_size, memory.total = 1, 2, total - 3, total
            slot.monitorused[index] = total
        for index, sm in proc.sm.items():
            slot.device_util[index].sm_util = sm
    region.proc_num = len(procs) if proc_num is None else proc_num
    region.utilization_switch, region.recent_kernel, region.priority = (
        utilization_switch,
        recent_kernel,
        priority,
    )
    return region


def region_bytes(
    uuids: list[str],
    limits: list[int],
    procs: list[Proc],
    *,
    layout: str = "1.2",
    major: int | None = None,
    minor: int | None = None,
    magic: int = MAGIC,
    proc_num: int | None = None,
    priority: int = 1,
    recent_kernel: int = 2,
    utilization_switch: int = 1,
    file_byte: bool = True,
) -> bytes:
    """The file HAMi-core writes: the struct plus the one byte it writes at offset sizeof (``file_byte``)."""
    region = region_struct(
        layout,
        uuids,
        limits,
        procs,
        proc_num=proc_num,
        priority=priority,
        recent_kernel=recent_kernel,
        utilization_switch=utilization_switch,
    )
    region.initialized_flag = magic
    if major is not None:
        region.major_version = major
    if minor is not None:
        region.minor_version = minor
    return bytes(region) + (b"\0" if file_byte else b"")
