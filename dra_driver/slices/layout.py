"""Which device and which counter set goes into which ResourceSlice.

Owns: ``SliceContent`` and ``layout``, the packing of per-card groups into slices within the
limits of one release (``limits.py``). It must never change a device or a counter set, and never
name slices or fill in pool fields: the builder does that around the contents returned here.

Rules (reference/dra-api.md sections 1.2 and 6.2):
* 1.35+: counter sets live in their own slices (at most ``max_counter_sets`` per slice), never
  next to devices; they come first. Device and counter-set names are unique in the pool, so a
  card whose devices exceed one slice may be split over several.
* 1.34: counter sets live in the slice of the devices that consume them, so a card's devices stay
  together, and a slice holds at most 32 counters and 1024 consumed counters.
* A slice holds at most 128 devices, 64 from 1.35 when any of them consumes counters or has taints.
* Cards are packed greedily in the order given (card index order); a card starts a new slice
  when it does not fit into the current one, so cards are split only when unavoidable.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

from dra_driver.kube.models import CounterSet, Device
from dra_driver.slices.limits import SliceLimits
from dra_driver.slices.shapes import CardGroup


@dataclass(frozen=True)
class SliceContent:
    """The payload of one slice: devices (``None`` in a counters-only slice) and counter sets."""

    devices: list[Device] | None
    shared_counters: list[CounterSet] | None


def layout(groups: Sequence[CardGroup], limits: SliceLimits) -> list[SliceContent]:
    """Slice contents for ``groups``, counters-only slices first; never an empty list.

    A node without devices still gets one empty slice, so that the pool shows the driver is alive.
    """
    for group in groups:
        if group.counter_set is not None and len(group.counter_set.counters) > limits.max_counters_per_set:
            raise ValueError(
                f"counter set {group.counter_set.name!r} has {len(group.counter_set.counters)} counters; "
                f"the API allows at most {limits.max_counters_per_set}"
            )
    if limits.counters_with_devices:
        bins = _pack(list(groups), lambda candidate: _fits_inline(candidate, limits), limits)
        contents = [
            SliceContent(
                devices=[device for group in bin_ for device in group.devices],
                shared_counters=[group.counter_set for group in bin_ if group.counter_set is not None]
                or None,
            )
            for bin_ in bins
        ]
    else:
        sets = [group.counter_set for group in groups if group.counter_set is not None]
        step = limits.max_counter_sets or len(sets) or 1
        contents = [
            SliceContent(devices=None, shared_counters=sets[i : i + step]) for i in range(0, len(sets), step)
        ]
        bare = [CardGroup(group.card, group.devices) for group in groups]
        bins = _pack(bare, lambda candidate: _fits_devices(candidate, limits), limits)
        contents.extend(
            SliceContent(devices=[device for group in bin_ for device in group.devices], shared_counters=None)
            for bin_ in bins
        )
    if not any(content.devices is not None for content in contents):
        contents.append(SliceContent(devices=[], shared_counters=None))
    return contents


def device_limit(devices: Sequence[Device], limits: SliceLimits) -> int:
    """The most devices a slice holding ``devices`` may have."""
    restricted = any(device.consumes_counters or device.taints for device in devices)
    return limits.max_devices_restricted if restricted else limits.max_devices


def _fits_devices(groups: Sequence[CardGroup], limits: SliceLimits) -> bool:
    devices = [device for group in groups for device in group.devices]
    return len(devices) <= device_limit(devices, limits)


def _consumed(device: Device) -> int:
    return sum(len(entry.counters) for entry in device.consumes_counters or [])


def _fits_inline(groups: Sequence[CardGroup], limits: SliceLimits) -> bool:
    """1.34: devices, counters of all sets, and consumed counters of all devices within limits."""
    if not _fits_devices(groups, limits):
        return False
    devices = [device for group in groups for device in group.devices]
    counters = sum(len(group.counter_set.counters) for group in groups if group.counter_set is not None)
    consumed = sum(_consumed(device) for device in devices)
    within_counters = limits.max_counters_per_slice is None or counters <= limits.max_counters_per_slice
    within_consumed = (
        limits.max_consumed_counters_per_slice is None or consumed <= limits.max_consumed_counters_per_slice
    )
    return within_counters and within_consumed


def _pack(
    groups: list[CardGroup], fits: Callable[[list[CardGroup]], bool], limits: SliceLimits
) -> list[list[CardGroup]]:
    """Greedy first-fit in order; a group too big for any slice is split when that is allowed."""
    bins: list[list[CardGroup]] = []
    current: list[CardGroup] = []
    for group in groups:
        if fits([*current, group]):
            current.append(group)
            continue
        if current:
            bins.append(current)
            current = []
        if fits([group]):
            current = [group]
            continue
        if group.counter_set is not None:
            # 1.34 keeps a counter set next to all its consumers; such a card cannot be split.
            raise ValueError(
                f"card {group.card.name!r}: its {len(group.devices)} devices and counter set "
                f"{group.counter_set.name!r} do not fit into one ResourceSlice on this Kubernetes release; "
                "use fewer partition fractions"
            )
        size = device_limit(group.devices, limits)
        pieces = [
            CardGroup(group.card, group.devices[i : i + size]) for i in range(0, len(group.devices), size)
        ]
        bins.extend([piece] for piece in pieces[:-1])
        current = [pieces[-1]]
    if current:
        bins.append(current)
    return bins
