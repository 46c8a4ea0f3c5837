"""Test support: HAMi-core shared region images built with struct.pack from the documented layout."""

from __future__ import annotations

import struct
from dataclasses import dataclass, field

from dra_driver.interception.shared_region import HEADER_SIZE, MAGIC, REGION_SIZE, SLOT_SIZE


@dataclass
class Proc:
    pid: int
    used: dict[int, int] = field(default_factory=dict)  # device index -> used.total bytes
    sm: dict[int, int] = field(default_factory=dict)  # device index -> sm_util


def region_bytes(
    uuids: list[str],
    limits: list[int],
    procs: list[Proc],
    *,
    major: int = 1,
    minor: int = 2,
    magic: int = MAGIC,
    proc_num: int | None = None,
) -> bytes:
    data = bytearray(REGION_SIZE)
    uuid_block = b"".join(u.encode().ljust(96, b"\0") for u in uuids).ljust(16 * 96, b"\0")
    limit_block = [*limits, *[0] * (16 - len(limits))]
    struct.pack_into("<iIIiQ32xQ", data, 0, magic, major, minor, 0, 1234, len(uuids))
    struct.pack_into("<1536s", data, 64, uuid_block)
    struct.pack_into("<16Q", data, 1600, *limit_block)
    struct.pack_into("<16Q", data, 1728, *[50] * 16)
    for slot, proc in enumerate(procs):
        base = HEADER_SIZE + slot * SLOT_SIZE
        struct.pack_into("<ii", data, base, proc.pid, proc.pid + 1000)
        for index, total in proc.used.items():
            struct.pack_into("<5Q", data, base + 8 + index * 64, 1, 2, total - 3, 0, total)
        for index, sm in proc.sm.items():
            struct.pack_into("<3Q", data, base + 8 + 1024 + 128 + index * 48, 0, 0, sm)
    count = len(procs) if proc_num is None else proc_num
    struct.pack_into("<iiiiQ", data, HEADER_SIZE + 1024 * SLOT_SIZE, count, 0, 0, 1, 0)
    return bytes(data)
