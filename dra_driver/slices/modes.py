"""Sharing modes, the feature gates each one needs, and the choice ``auto`` makes.

Owns: ``SharingMode``, ``AUTO_FALLBACK``, ``REQUIRED_GATES`` and ``first_mode_for_gates``. It only
reasons about gate states handed to it; it must never ask an API server which gates are on (the
controller finds that out by writing a slice and calling ``dropped_gates``).
"""

from __future__ import annotations

from collections.abc import Mapping
from enum import StrEnum

from dra_driver.kube.features import FeatureGate


class SharingMode(StrEnum):
    """How one physical card is published (DESIGN section 4)."""

    CAPACITY = "capacity"
    PARTITIONS = "partitions"
    REPLICAS = "replicas"
    EXCLUSIVE = "exclusive"
    AUTO = "auto"


AUTO_FALLBACK: tuple[SharingMode, ...] = (SharingMode.CAPACITY, SharingMode.PARTITIONS, SharingMode.REPLICAS)
"""The modes ``auto`` tries, richest first; ``EXCLUSIVE`` is the last resort after all of them."""

REQUIRED_GATES: dict[SharingMode, tuple[FeatureGate, ...]] = {
    SharingMode.CAPACITY: (FeatureGate.DRA_CONSUMABLE_CAPACITY,),
    SharingMode.PARTITIONS: (FeatureGate.DRA_PARTITIONABLE_DEVICES,),
    SharingMode.REPLICAS: (),
    SharingMode.EXCLUSIVE: (),
}
"""The gates whose fields a mode's slices carry. ``AUTO`` has no entry: it is resolved first."""


def first_mode_for_gates(gates: Mapping[FeatureGate, bool]) -> SharingMode:
    """The richest mode of ``AUTO_FALLBACK`` whose required gates are all on.

    A gate missing from ``gates`` counts as off. Replicas need no gate, so in practice the answer
    is never worse than ``REPLICAS``; ``EXCLUSIVE`` is returned only if the fallback list ever
    holds gated modes alone.
    """
    for mode in AUTO_FALLBACK:
        if all(gates.get(gate, False) for gate in REQUIRED_GATES[mode]):
            return mode
    return SharingMode.EXCLUSIVE
