"""Hardware units that must be unique on a node: AMD/Hygon compute units, Hygon vDCU and pipe ids.

Owns: ``UnitGrant`` (what one device of one claim holds), ``NodeUnits`` (what every prepared claim
of the node holds), ``grant_units`` and the two wire formats of a CU set (``cu_id_list``,
``cu_mask_words``). It is pure: the caller passes in what is taken (the node plugin rebuilds it
from its checkpoint, so a restart loses nothing) and records what it was granted (freed again
when the claim's checkpoint entry goes away on unprepare or rollback).

Rules, as the upstream node plugins apply them:

* compute units, AMD (Project-HAMi/amd-device-plugin ``internal/pkg/cuallocation/cuallocation.go``
  ``AllocateN``; count from HAMi ``pkg/device/amd/device.go`` ``Fit``): a device whose share has a
  cores limit gets ``floor(CUs * cores% / 100)`` CUs, at least 1 and at most all, chosen first-fit
  in ascending CU order among the CUs no other claim on the node holds on that card;
* compute units, Hygon (Project-HAMi/dcu-vgpu-device-plugin ``internal/pkg/dcu/server.go``
  ``createvdevFiles`` and ``corealloc.go``): the same first-fit over the card's free CUs with
  ``floor(CUs * cores% / 100)`` (at least 1) of them; a share without a cores limit gets every CU
  of the card without holding any (a best-effort share, it competes with the others);
* ``vdev_id`` (Hygon): the lowest id 0..199 no claim on the node holds (``AllocateVidx``);
* ``pipe_id`` (Hygon): the lowest id 0..19 no claim on the same card holds (``AllocatePipeID``).

A device without a cores limit on AMD holds nothing (its container gets no ``HSA_CU_MASK`` entry).
Too few free units is an ``InterceptionError`` naming the card and the counts.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from dra_driver.interception.limits import DeviceLimit
from dra_driver.interception.settings import InterceptionError
from dra_driver.rules import FULL_CORES

MAX_VDEV_IDS = 200
MAX_PIPE_IDS = 20
MASK_WORD_BITS = 64
MASK_WORDS = 2
"""A vDCU config carries two 64-bit ``cu_mask`` words: CUs 0-63, then CUs 64-127."""


@dataclass(frozen=True)
class UnitGrant:
    """The units one device of one claim holds; ``held`` False for a best-effort full mask."""

    device: str
    compute_units: tuple[int, ...] = ()
    vdev_id: int | None = None
    pipe_id: int | None = None
    held: bool = True


@dataclass(frozen=True)
class NodeUnits:
    """Everything the node's prepared claims hold, by card UUID."""

    compute_units: Mapping[str, frozenset[int]] = field(default_factory=dict)
    vdev_ids: frozenset[int] = frozenset()
    pipe_ids: Mapping[str, frozenset[int]] = field(default_factory=dict)

    @classmethod
    def of(cls, grants: Iterable[UnitGrant]) -> NodeUnits:
        cus: dict[str, set[int]] = {}
        pipes: dict[str, set[int]] = {}
        vdevs: set[int] = set()
        for grant in grants:
            if not grant.held:
                continue
            cus.setdefault(grant.device, set()).update(grant.compute_units)
            if grant.vdev_id is not None:
                vdevs.add(grant.vdev_id)
            if grant.pipe_id is not None:
                pipes.setdefault(grant.device, set()).add(grant.pipe_id)
        return cls(
            {k: frozenset(v) for k, v in cus.items()},
            frozenset(vdevs),
            {k: frozenset(v) for k, v in pipes.items()},
        )


def total_compute_units(limit: DeviceLimit) -> int:
    """The card's CU count (attribute ``computeUnits``); ``InterceptionError`` when it is unknown."""
    total = limit.device.extra_attributes.get("computeUnits")
    if not isinstance(total, int) or isinstance(total, bool) or total < 1:
        raise InterceptionError(
            f"device {limit.device.name} ({limit.device.product_name}) has no computeUnits attribute "
            f"({total!r}); compute-unit partitioning needs the card's CU count"
        )
    return total


def cu_share(limit: DeviceLimit) -> int:
    """``floor(CUs * cores% / 100)``, clamped to 1..CUs (HAMi ``pkg/device/amd/device.go`` ``Fit``)."""
    total = total_compute_units(limit)
    return min(total, max(1, total * limit.sm_limit_percent // FULL_CORES))


def _first_free(taken: frozenset[int], limit: int, what: str, where: str) -> int:
    for candidate in range(limit):
        if candidate not in taken:
            return candidate
    raise InterceptionError(f"{where}: all {limit} {what} are held by other claims on this node")


def _pick_cus(limit: DeviceLimit, count: int, taken: frozenset[int]) -> tuple[int, ...]:
    total = total_compute_units(limit)
    free = [cu for cu in range(total) if cu not in taken]
    if len(free) < count:
        raise InterceptionError(
            f"device {limit.device.name}: the claim needs {count} of its {total} compute units, but only "
            f"{len(free)} are free (the others are held by claims prepared on this node)"
        )
    return tuple(free[:count])


def _amd(ordered: Sequence[DeviceLimit], taken: NodeUnits) -> tuple[UnitGrant, ...]:
    grants = []
    for limit in ordered:
        if not limit.cores_limited:
            continue
        uuid = limit.device.uuid
        held = taken.compute_units.get(uuid, frozenset())
        grants.append(UnitGrant(uuid, _pick_cus(limit, cu_share(limit), held)))
    return tuple(grants)


def _hygon(claim_uid: str, ordered: Sequence[DeviceLimit], taken: NodeUnits) -> tuple[UnitGrant, ...]:
    if len(ordered) != 1:
        raise InterceptionError(
            f"claim {claim_uid}: a Hygon vDCU limits one device per container, the claim has {len(ordered)} "
            "limited devices; ask for whole cards, or one shared card per claim"
        )
    (limit,) = ordered
    uuid = limit.device.uuid
    total = total_compute_units(limit)
    if total > MASK_WORD_BITS * MASK_WORDS:
        raise InterceptionError(
            f"device {limit.device.name} has {total} compute units; a vDCU cu_mask covers at most "
            f"{MASK_WORD_BITS * MASK_WORDS}"
        )
    where = f"device {limit.device.name}"
    vdev_id = _first_free(taken.vdev_ids, MAX_VDEV_IDS, "vDCU ids", "node")
    pipe_id = _first_free(taken.pipe_ids.get(uuid, frozenset()), MAX_PIPE_IDS, "vDCU pipe ids", where)
    if not limit.cores_limited:
        return (UnitGrant(uuid, tuple(range(total)), vdev_id, pipe_id, held=False),)
    cus = _pick_cus(limit, cu_share(limit), taken.compute_units.get(uuid, frozenset()))
    return (UnitGrant(uuid, cus, vdev_id, pipe_id),)


def grant_units(
    vendor: str, claim_uid: str, ordered: Sequence[DeviceLimit], taken: NodeUnits
) -> tuple[UnitGrant, ...]:
    """The units a claim of ``vendor`` gets on top of ``taken``; () for vendors without any.

    ``ordered`` are the claim's limited devices in PCI order (``ordered_limits``); the caller
    calls this only when the claim is enforced (some device is less than a whole card).
    """
    if vendor == "amd":
        return _amd(ordered, taken)
    if vendor == "hygon":
        return _hygon(claim_uid, ordered, taken)
    return ()


def cu_id_list(units: Iterable[int]) -> str:
    """HSA's CU ID-list grammar (``0-3,8,10-12``), as amd-device-plugin ``allocationToIDList`` writes it."""
    ids = sorted(set(units))
    if not ids:
        raise InterceptionError("an HSA_CU_MASK entry needs at least one compute unit")
    parts = []
    start = previous = ids[0]
    for cu in [*ids[1:], None]:
        if cu is not None and cu == previous + 1:
            previous = cu
            continue
        parts.append(str(start) if start == previous else f"{start}-{previous}")
        if cu is not None:
            start = previous = cu
    return ",".join(parts)


def cu_mask_words(units: Iterable[int]) -> tuple[int, int]:
    """The two 64-bit ``cu_mask`` words of a vDCU config: bit ``i`` of word ``w`` is CU ``64 w + i``."""
    words = [0] * MASK_WORDS
    for cu in units:
        if not 0 <= cu < MASK_WORD_BITS * MASK_WORDS:
            raise InterceptionError(f"compute unit {cu} does not fit a vDCU cu_mask (0..127)")
        words[cu // MASK_WORD_BITS] |= 1 << (cu % MASK_WORD_BITS)
    return words[0], words[1]
