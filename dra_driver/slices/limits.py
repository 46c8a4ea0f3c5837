"""ResourceSlice size limits per Kubernetes release (reference/dra-api.md section 1.2).

Owns: ``SliceLimits`` and ``limits_for``, the one table the layout and the device shapes obey. It
must never decide how devices look or where they go; it only states what an API server of a given
release accepts, so that a slice we publish is never rejected for its size.
"""

from __future__ import annotations

from typing import NamedTuple

from dra_driver.kube.features import KubeVersion


class SliceLimits(NamedTuple):
    """What one ResourceSlice (and one device in it) may hold on a release.

    ``counters_with_devices``: 1.34 keeps counter sets in the slice of the devices that consume
    them (names unique per slice); from 1.35 a slice holds either devices or sharedCounters, and
    set names are unique in the pool. ``None`` means the release has no such limit.
    """

    max_devices: int
    max_devices_restricted: int  # when any device of the slice uses taints or consumes counters
    counters_with_devices: bool
    max_counter_sets: int | None  # counter sets per slice
    max_counters_per_set: int
    max_counters_per_slice: int | None  # counters across all sets of a slice
    max_consumption_entries: int | None  # consumesCounters entries per device
    max_consumed_counters_per_device: int  # 1.34: all entries together; 1.35+: per entry
    max_consumed_counters_per_slice: int | None
    max_attributes_and_capacities: int
    max_attribute_length: int


_V134 = SliceLimits(
    max_devices=128,
    max_devices_restricted=128,
    counters_with_devices=True,
    max_counter_sets=None,
    max_counters_per_set=32,
    max_counters_per_slice=32,
    max_consumption_entries=None,
    max_consumed_counters_per_device=32,
    max_consumed_counters_per_slice=1024,
    max_attributes_and_capacities=32,
    max_attribute_length=64,
)

_V135 = SliceLimits(
    max_devices=128,
    max_devices_restricted=64,
    counters_with_devices=False,
    max_counter_sets=8,
    max_counters_per_set=32,
    max_counters_per_slice=None,
    max_consumption_entries=2,
    max_consumed_counters_per_device=32,
    max_consumed_counters_per_slice=None,
    max_attributes_and_capacities=32,
    max_attribute_length=64,
)

_LIMITS: dict[KubeVersion, SliceLimits] = {
    KubeVersion(1, 34): _V134,
    KubeVersion(1, 35): _V135,
    # 1.36 adds the 64-device limit for list-type attributes, which hdra never publishes.
    KubeVersion(1, 36): _V135,
}


def limits_for(version: KubeVersion) -> SliceLimits:
    """The limits of ``version``; an unknown release is an error naming it."""
    try:
        return _LIMITS[version]
    except KeyError:
        known = ", ".join(str(v) for v in _LIMITS)
        raise ValueError(f"no ResourceSlice limits known for Kubernetes {version} (known: {known})") from None
