"""The device catalog: what each published device name means on this node.

Owns: mapping a device name from an allocation result (``gpu-0``, ``gpu-0-p4-2``, ``gpu-1-r3``) to
the physical card behind it and the capacity the device was published with, so prepare can
compute limits for partitions and replicas, recognise whole cards, and know the Ascend vNPU
template a template device stands for (its ``vnpuTemplate`` attribute). It is built from the same
ResourceSlices the controller publishes, so prepare and the scheduler agree on every number.

It must never guess: a name that is not in the catalog is an unknown device.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from kubernetes.client import V1ResourceSlice

from dra_driver.devices import AcceleratorDevice
from dra_driver.kube.quantity import parse_quantity
from dra_driver.rules import CORES, MEMORY, is_whole_card
from dra_driver.slices import VNPU_TEMPLATE


@dataclass(frozen=True)
class CatalogEntry:
    """One published device: its card, its capacities (as integers), how it may be shared, and the
    Ascend vNPU template it was published as (``None`` for every other device)."""

    name: str
    card: AcceleratorDevice
    capacity: dict[str, int]
    multiple_allocations: bool
    vnpu_template: str | None = None

    @property
    def is_whole_card(self) -> bool:
        """True when the device is the entire card (exclusive or the partitions-mode parent): not
        shared, and its published capacity is a whole card by the one rule (``rules.capacity``)."""
        return not self.multiple_allocations and is_whole_card(
            self.capacity.get(MEMORY), self.capacity.get(CORES), self.card.memory_bytes
        )


class DeviceCatalog:
    """Published device name → ``CatalogEntry``, for one driver on one node."""

    def __init__(self, entries: Iterable[CatalogEntry]) -> None:
        self._entries = {entry.name: entry for entry in entries}

    @classmethod
    def from_slices(
        cls, cards: Sequence[AcceleratorDevice], slices: Sequence[V1ResourceSlice]
    ) -> DeviceCatalog:
        by_uuid = {card.uuid: card for card in cards}
        entries: list[CatalogEntry] = []
        for slice_ in slices:
            for device in (slice_.spec.devices if slice_.spec is not None else None) or []:
                uuid_attr = (device.attributes or {}).get("uuid")
                card = by_uuid.get(uuid_attr.string) if uuid_attr is not None and uuid_attr.string else None
                if card is None:
                    continue
                capacity = {
                    name: int(parse_quantity(cap.value)) for name, cap in (device.capacity or {}).items()
                }
                template = (device.attributes or {}).get(VNPU_TEMPLATE)
                entries.append(
                    CatalogEntry(
                        name=device.name,
                        card=card,
                        capacity=capacity,
                        multiple_allocations=bool(device.allow_multiple_allocations),
                        vnpu_template=template.string if template is not None else None,
                    )
                )
        return cls(entries)

    def get(self, name: str) -> CatalogEntry | None:
        return self._entries.get(name)

    def names(self) -> list[str]:
        return sorted(self._entries)

    def __len__(self) -> int:
        return len(self._entries)
