"""The published-pool snapshot: what one node published for one driver, typed and versioned.

Owns: ``PublishedDevice`` (one published device: its card, its integer capacities, whether it may be
shared, its Ascend vNPU template, its card's health) and ``PublishedPool`` (all of them, with the
slices, sharing mode, pool generation and a version). The publisher builds one after every
successful sync and swaps it in with a single assignment; prepare (as its device catalog), the
health stream, metrics and the card policy read that one object instead of re-parsing slices, so
they always agree with each other and with what the scheduler sees.

``version`` counts snapshots within one process (0: nothing published yet); it is not the pool
generation, which changes only when the content does. A snapshot must never be mutated after it
is built; the next sync builds a new one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from types import MappingProxyType

from dra_driver.devices import AcceleratorDevice
from dra_driver.kube.models import ResourceSlice
from dra_driver.kube.quantity import parse_quantity
from dra_driver.rules import CORES, MEMORY, is_whole_card
from dra_driver.slices.modes import SharingMode
from dra_driver.slices.vnpu import VNPU_TEMPLATE

UUID_ATTRIBUTE = "uuid"


@dataclass(frozen=True)
class PublishedDevice:
    """One published device (a whole card, a partition, a replica or a shareable card)."""

    name: str
    card: AcceleratorDevice
    capacity: Mapping[str, int]
    multiple_allocations: bool
    vnpu_template: str | None = None

    @property
    def is_whole_card(self) -> bool:
        """Not shared, and its published capacity is a whole card by the one rule (``rules``)."""
        return not self.multiple_allocations and is_whole_card(
            self.capacity.get(MEMORY), self.capacity.get(CORES), self.card.memory_bytes
        )

    @property
    def healthy(self) -> bool:
        return self.card.healthy


@dataclass(frozen=True, eq=False)
class PublishedPool:
    """Published device name → ``PublishedDevice``, plus how and when it was published."""

    devices: Mapping[str, PublishedDevice] = field(default_factory=dict)
    slices: tuple[ResourceSlice, ...] = ()
    mode: SharingMode | None = None
    generation: int = 0
    version: int = 0

    def __init__(
        self,
        devices: Iterable[PublishedDevice] = (),
        *,
        slices: Sequence[ResourceSlice] = (),
        mode: SharingMode | None = None,
        generation: int = 0,
        version: int = 0,
    ) -> None:
        object.__setattr__(self, "devices", MappingProxyType({d.name: d for d in devices}))
        object.__setattr__(self, "slices", tuple(slices))
        object.__setattr__(self, "mode", mode)
        object.__setattr__(self, "generation", generation)
        object.__setattr__(self, "version", version)

    @classmethod
    def from_slices(
        cls,
        cards: Sequence[AcceleratorDevice],
        slices: Sequence[ResourceSlice],
        *,
        mode: SharingMode | None = None,
        generation: int = 0,
        version: int = 0,
    ) -> PublishedPool:
        """The snapshot of ``slices`` built from ``cards``; a device whose ``uuid`` attribute names
        no card in ``cards`` is left out (it cannot be prepared here)."""
        by_uuid = {card.uuid: card for card in cards}
        devices: list[PublishedDevice] = []
        for slice_ in slices:
            for device in (slice_.spec.devices if slice_.spec is not None else None) or []:
                attributes = device.attributes or {}
                uuid_attr = attributes.get(UUID_ATTRIBUTE)
                card = by_uuid.get(uuid_attr.string) if uuid_attr is not None and uuid_attr.string else None
                if card is None:
                    continue
                template = attributes.get(VNPU_TEMPLATE)
                devices.append(
                    PublishedDevice(
                        name=device.name,
                        card=card,
                        capacity=MappingProxyType(
                            {
                                name: int(parse_quantity(cap.value))
                                for name, cap in (device.capacity or {}).items()
                            }
                        ),
                        multiple_allocations=bool(device.allow_multiple_allocations),
                        vnpu_template=template.string if template is not None else None,
                    )
                )
        return cls(devices, slices=slices, mode=mode, generation=generation, version=version)

    def get(self, name: str) -> PublishedDevice | None:
        return self.devices.get(name)

    def names(self) -> list[str]:
        return sorted(self.devices)

    def cards(self) -> list[AcceleratorDevice]:
        """The distinct cards behind the published devices, in first-published order."""
        seen: dict[str, AcceleratorDevice] = {}
        for device in self.devices.values():
            seen.setdefault(device.card.uuid, device.card)
        return list(seen.values())

    def __len__(self) -> int:
        return len(self.devices)


EMPTY_POOL = PublishedPool()
