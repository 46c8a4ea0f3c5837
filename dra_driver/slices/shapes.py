"""What one physical card becomes in each sharing mode (DESIGN section 4).

Owns: ``CardGroup`` (the devices published for one card, plus its counter set in partitions
mode) and ``card_group``. It must never decide which slice a device goes to (``layout.py``) or
talk about slice names, pools or versions beyond the size limits it is handed.

Arithmetic contracts:
* Memory is published in whole MiB (the card's bytes rounded down to a MiB): the capacity mode's
  policy needs ``max`` and ``default`` to be multiples of its 1Mi step, and the enforcement side
  (HAMi-core) counts MiB anyway. Every memory value is a byte quantity (``40Gi``, ``5120Mi``).
* A share of 1/n of a card gets ``floor(MiB / n)`` MiB and ``floor(100 / n)`` percent of cores, so
  n shares never exceed the card (with 8 partitions, 8 x 12 % = 96 % of cores are handed out).
"""

from __future__ import annotations

from dataclasses import dataclass, field

from dra_driver.devices import AcceleratorDevice
from dra_driver.kube.models import (
    CapacityRequestPolicy,
    CapacityRequestPolicyRange,
    Counter,
    CounterSet,
    Device,
    DeviceAttribute,
    DeviceCapacity,
    DeviceCounterConsumption,
)
from dra_driver.kube.quantity import MIB, binary_quantity
from dra_driver.rules import CORES, FULL_CORES, MEMORY
from dra_driver.slices.attributes import (
    PARENT_UUID,
    REPLICA,
    attribute,
    card_attributes,
    check_device_size,
    derived_name,
)
from dra_driver.slices.limits import SliceLimits
from dra_driver.slices.modes import SharingMode
from dra_driver.slices.options import SliceOptions
from dra_driver.slices.vnpu import AI_CORE_COUNTER, AI_CPU_COUNTER, VNPU_TEMPLATE, VnpuPlan, vnpu_plan

SHARES = "shares"


@dataclass
class CardGroup:
    """The devices published for one card, in order; ``counter_set`` only in partitions mode."""

    card: AcceleratorDevice
    devices: list[Device] = field(default_factory=list)
    counter_set: CounterSet | None = None


def card_group(
    card: AcceleratorDevice, mode: SharingMode, options: SliceOptions, limits: SliceLimits
) -> CardGroup:
    """The devices (and counters) ``card`` is published as in ``mode``."""
    attributes = card_attributes(card, limits)
    if mode is SharingMode.CAPACITY:
        group = CardGroup(card, [_capacity_device(card, attributes, options)])
    elif mode is SharingMode.PARTITIONS:
        group = _partitions(card, attributes, options)
    elif mode is SharingMode.REPLICAS:
        group = CardGroup(card, _replicas(card, attributes, options))
    elif mode is SharingMode.EXCLUSIVE:
        whole = _whole_mib(card, 1) * MIB
        group = CardGroup(
            card, [Device(name=card.name, attributes=attributes, capacity=_plain(whole, FULL_CORES))]
        )
    else:
        raise ValueError(f"sharing mode {mode.value!r} cannot shape devices; resolve 'auto' first")
    for device in group.devices:
        check_device_size(device, card, limits)
    return group


def _whole_mib(card: AcceleratorDevice, parts: int) -> int:
    """MiB of one of ``parts`` equal shares of ``card``; a share below 1 MiB is an error."""
    mib = card.memory_mib // parts
    if mib < 1:
        raise ValueError(
            f"device {card.name!r}: {card.memory_bytes} bytes of memory cannot be split into {parts} "
            "parts of at least 1 MiB"
        )
    return mib


def _plain(memory_bytes: int, cores: int) -> dict[str, DeviceCapacity]:
    return {
        MEMORY: DeviceCapacity(value=binary_quantity(memory_bytes)),
        CORES: DeviceCapacity(value=str(cores)),
    }


def _capacity_device(
    card: AcceleratorDevice, attributes: dict[str, DeviceAttribute], options: SliceOptions
) -> Device:
    # The range rule "min + step <= value" needs at least 2 MiB; _whole_mib raises below that.
    _whole_mib(card, 2)
    memory = binary_quantity(card.memory_mib * MIB)
    memory_policy = CapacityRequestPolicy(
        default=memory,
        valid_range=CapacityRequestPolicyRange(min="1Mi", max=memory, step="1Mi"),
    )
    cores_policy = CapacityRequestPolicy(
        default="0",
        valid_range=CapacityRequestPolicyRange(min="0", max=str(FULL_CORES), step="1"),
    )
    # validValues ["1"]: every allocation takes exactly one share, so `shares` caps the sharers.
    shares_policy = CapacityRequestPolicy(default="1", valid_values=["1"])
    return Device(
        name=card.name,
        attributes=attributes,
        allow_multiple_allocations=True,
        capacity={
            MEMORY: DeviceCapacity(value=memory, request_policy=memory_policy),
            CORES: DeviceCapacity(value=str(FULL_CORES), request_policy=cores_policy),
            SHARES: DeviceCapacity(value=str(options.shares), request_policy=shares_policy),
        },
    )


def _counters(memory_bytes: int, cores: int, **extra: int) -> dict[str, Counter]:
    counters = {MEMORY: Counter(value=binary_quantity(memory_bytes)), CORES: Counter(value=str(cores))}
    counters.update({name: Counter(value=str(value)) for name, value in extra.items()})
    return counters


def _consumes(counter_set: str, counters: dict[str, Counter]) -> list[DeviceCounterConsumption]:
    return [DeviceCounterConsumption(counter_set=counter_set, counters=counters)]


def _partitions(
    card: AcceleratorDevice, attributes: dict[str, DeviceAttribute], options: SliceOptions
) -> CardGroup:
    """``f`` partitions per fraction plus the whole card, all drawing on one counter set.

    An Ascend card whose chip offers vNPU templates (``vnpu.py``) gets its template devices instead
    of the fractions: hard splits the driver enforces with ``ASCEND_VNPU_SPECS``.

    The whole-card device is the card itself (no ``parentUUID``); each partition carries the card's
    attributes plus ``parentUUID``. Order is allocation preference (first fit in slice order), so
    the smallest partitions come first and the whole card last: a small request takes a small
    partition instead of blocking the entire card.
    """
    plan = vnpu_plan(card)
    if plan is not None:
        return _vnpu_partitions(card, attributes, plan)
    set_name = derived_name(card, "counters")
    whole = _whole_mib(card, 1) * MIB
    counter_set = CounterSet(name=set_name, counters=_counters(whole, FULL_CORES))
    devices: list[Device] = []
    child_attributes = {**attributes, PARENT_UUID: attribute(card.uuid)}
    for fraction in sorted(options.partition_fractions, reverse=True):
        memory = _whole_mib(card, fraction) * MIB
        cores = FULL_CORES // fraction
        devices.extend(
            Device(
                name=derived_name(card, f"p{fraction}-{j}"),
                attributes=dict(child_attributes),
                capacity=_plain(memory, cores),
                consumes_counters=_consumes(set_name, _counters(memory, cores)),
            )
            for j in range(fraction)
        )
    devices.append(
        Device(
            name=card.name,
            attributes=attributes,
            capacity=_plain(whole, FULL_CORES),
            consumes_counters=_consumes(set_name, _counters(whole, FULL_CORES)),
        )
    )
    return CardGroup(card, devices, counter_set)


def _vnpu_partitions(
    card: AcceleratorDevice, attributes: dict[str, DeviceAttribute], plan: VnpuPlan
) -> CardGroup:
    """An Ascend card in partitions mode: one device per vNPU template slot, then the whole card.

    Every device draws on the card's counter set (memory, cores and the card's AI cores, plus AI
    CPUs when published), so templates mix on one card only as far as the chip allows. Template
    devices carry ``parentUUID`` and ``vnpuTemplate``; the whole card is the card itself.
    """
    set_name = derived_name(card, "counters")
    whole = _whole_mib(card, 1) * MIB

    def extra(ai_core: int, ai_cpu: int | None) -> dict[str, int]:
        # AI CPUs are counted only when the card publishes aiCpu (plan.ai_cpu is then not None).
        return (
            {AI_CORE_COUNTER: ai_core}
            if plan.ai_cpu is None or ai_cpu is None
            else {AI_CORE_COUNTER: ai_core, AI_CPU_COUNTER: ai_cpu}
        )

    card_extra = extra(plan.ai_core, plan.ai_cpu)
    counter_set = CounterSet(name=set_name, counters=_counters(whole, FULL_CORES, **card_extra))
    devices: list[Device] = []
    for slot in plan.slots:
        memory = slot.memory_mib * MIB
        devices.append(
            Device(
                name=derived_name(card, slot.suffix),
                attributes={
                    **attributes,
                    PARENT_UUID: attribute(card.uuid),
                    VNPU_TEMPLATE: attribute(slot.template),
                },
                capacity=_plain(memory, slot.cores_percent),
                consumes_counters=_consumes(
                    set_name, _counters(memory, slot.cores_percent, **extra(slot.ai_core, slot.ai_cpu))
                ),
            )
        )
    devices.append(
        Device(
            name=card.name,
            attributes=attributes,
            capacity=_plain(whole, FULL_CORES),
            consumes_counters=_consumes(set_name, _counters(whole, FULL_CORES, **card_extra)),
        )
    )
    return CardGroup(card, devices, counter_set)


def _replicas(
    card: AcceleratorDevice, attributes: dict[str, DeviceAttribute], options: SliceOptions
) -> list[Device]:
    count = options.replicas
    memory = _whole_mib(card, count) * MIB
    return [
        Device(
            name=derived_name(card, f"r{j}"),
            attributes={**attributes, PARENT_UUID: attribute(card.uuid), REPLICA: attribute(j)},
            capacity=_plain(memory, FULL_CORES // count),
        )
        for j in range(count)
    ]
