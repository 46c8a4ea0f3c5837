"""HAMi's vGPUmonitor feedback on HAMi-core regions: priority blocking and the "default" core policy.

Owns: ``observe`` (HAMi ``cmd/vGPUmonitor/feedback.go`` ``Observe``, ``CheckBlocking`` and
``CheckPriority``, at HAMi 4707fb0) and ``MappedRegion``, the only code that writes a region file.
What it does, per pass over every region on the node (HAMi runs it every 5 s):

1. a region whose ``recent_kernel`` is positive was launching kernels: it is decremented (HAMi-core's
   ``rate_limiter`` sets it back to 2 on each throttled launch), and while it stays positive the
   region counts as active at its ``priority`` on each card its ``uuids`` name;
2. a region is *blocked* (``recent_kernel`` -1: ``rate_limiter`` sleeps until it is not negative)
   while a numerically lower (higher) priority is active on one of its cards, and unblocked (0)
   otherwise;
3. its ``utilization_switch`` is 1 (HAMi-core throttles to ``sm_limit`` under ``GPU_CORE_UTILIZATION_
   POLICY=default``) while a higher priority or another region of its own priority is active on one
   of its cards, else 0: a card nobody else uses runs the claim uncapped. ``force``/``disable`` make
   HAMi-core ignore the switch.

``CUDA_TASK_PRIORITY`` is stored in the region when it is created (default 1; hdra sets 0 for
"high" and 1 for "low"). A value read while HAMi-core writes it may be stale for one pass, as in
HAMi, whose loads and stores are the same 32-bit ones. ``MappedRegion`` opens the file without
following symlinks (a container owns its region directory), only when its size and version match a
known layout (``shared_region.detect_layout``), and writes only the two 32-bit fields above.
"""

from __future__ import annotations

import ctypes
import mmap
import os
import stat
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from dra_driver.interception.shared_region import (
    MAX_DEVICES,
    UUID_BYTES,
    RegionLayout,
    SharedRegionError,
    detect_layout,
)

BLOCKED = -1
CONTENDED = 1
UNCONTENDED = 0


class FeedbackRegion(Protocol):
    """What ``observe`` reads and writes of one region (HAMi's ``UsageInfo``)."""

    @property
    def uuids(self) -> tuple[str, ...]: ...  # the non-empty entries of uuids[16]
    @property
    def priority(self) -> int: ...

    recent_kernel: int
    utilization_switch: int


def _active(counts: dict[str, list[int]], region: FeedbackRegion, below: int) -> bool:
    """Some card of ``region`` has an active region of a priority index below ``below`` (CheckBlocking)."""
    return any(count > 0 for uuid in region.uuids for count in counts.get(uuid, [])[: max(below, 0)])


def _contended(counts: dict[str, list[int]], region: FeedbackRegion) -> bool:
    """Higher priority, or another region of this priority, is active on one of its cards (CheckPriority)."""
    p = region.priority
    same = any(0 <= p < len(counts.get(uuid, [])) and counts[uuid][p] > 1 for uuid in region.uuids)
    return same or _active(counts, region, p)


def observe(regions: Sequence[FeedbackRegion]) -> None:
    """One pass of HAMi's ``Observe`` over every region of the node's cards; updates them in place."""
    counts: dict[str, list[int]] = {}
    for region in regions:
        recent = region.recent_kernel
        if recent > 0:
            recent -= 1
            if recent > 0 and region.priority >= 0:
                for uuid in region.uuids:
                    per_priority = counts.setdefault(uuid, [])
                    per_priority.extend([0] * (region.priority + 1 - len(per_priority)))
                    per_priority[region.priority] += 1
            region.recent_kernel = recent
    for region in regions:
        recent, switch = region.recent_kernel, region.utilization_switch
        if _active(counts, region, region.priority):
            if recent >= 0:
                region.recent_kernel = BLOCKED
        elif recent < 0:
            region.recent_kernel = 0
        wanted = CONTENDED if _contended(counts, region) else UNCONTENDED
        if switch != wanted:
            region.utilization_switch = wanted


class MappedRegion:
    """A region file mapped read-write for the feedback fields; use as a context manager."""

    def __init__(self, path: Path) -> None:
        self.path = path
        fd = os.open(path, os.O_RDWR | os.O_NOFOLLOW | os.O_NONBLOCK | os.O_CLOEXEC)
        try:
            info = os.fstat(fd)
            if not stat.S_ISREG(info.st_mode):
                raise SharedRegionError(f"{path}: not a regular file")
            if info.st_size < 12:
                raise SharedRegionError(f"{path}: {info.st_size} bytes, shorter than a shared region header")
            self.layout: RegionLayout = detect_layout(os.pread(fd, 12, 0), path, size=info.st_size)
            self._map = mmap.mmap(fd, self.layout.size, mmap.MAP_SHARED, mmap.PROT_READ | mmap.PROT_WRITE)
        finally:
            os.close(fd)
        self._priority = self._int(self.layout.priority).value
        raw = self._map[self.layout.uuids : self.layout.uuids + MAX_DEVICES * UUID_BYTES]
        names = (raw[i * UUID_BYTES : (i + 1) * UUID_BYTES].split(b"\0", 1)[0] for i in range(MAX_DEVICES))
        self._uuids = tuple(name.decode("ascii", "replace") for name in names if name)  # IsValidUUID

    def _int(self, offset: int) -> ctypes.c_int32:
        """The 32-bit field at ``offset`` in the mapping: loads and stores are single aligned accesses."""
        return ctypes.c_int32.from_buffer(self._map, offset)

    @property
    def uuids(self) -> tuple[str, ...]:
        return self._uuids

    @property
    def priority(self) -> int:
        return self._priority

    @property
    def recent_kernel(self) -> int:
        return self._int(self.layout.recent_kernel).value

    @recent_kernel.setter
    def recent_kernel(self, value: int) -> None:
        self._int(self.layout.recent_kernel).value = value

    @property
    def utilization_switch(self) -> int:
        return self._int(self.layout.utilization_switch).value

    @utilization_switch.setter
    def utilization_switch(self, value: int) -> None:
        self._int(self.layout.utilization_switch).value = value

    def close(self) -> None:
        self._map.close()

    def __enter__(self) -> MappedRegion:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_regions(paths: Iterable[Path]) -> tuple[list[MappedRegion], list[tuple[Path, str]]]:
    """Map every path that holds a known layout; the others come back with the reason (never raised)."""
    mapped: list[MappedRegion] = []
    failed: list[tuple[Path, str]] = []
    for path in paths:
        try:
            mapped.append(MappedRegion(path))
        except SharedRegionError as exc:
            failed.append((path, str(exc)))
        except (OSError, ValueError) as exc:  # ValueError: mmap of a file shrunk meanwhile
            failed.append((path, f"cannot map shared region {path}: {exc}"))
    return mapped, failed
