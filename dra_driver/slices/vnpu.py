"""Ascend partitions: the hard-split vNPU templates a chip offers (reference/hami.md §1.2, §3.3).

Owns: ``vnpu_plan``, the arithmetic of which template devices one Ascend card is published as in
partitions mode (instead of the generic 1/2, 1/4, 1/8 fractions), and the attribute key
``VNPU_TEMPLATE`` that prepare reads back to set ``ASCEND_VNPU_SPECS``. It must never build
Kubernetes objects (``shapes.py`` does) nor decide how a template is enforced (interception does).

Contracts:
* A template is offered when the card's ``productName`` is one of its chips
  (``ASCEND_VNPU_TEMPLATES``); a card without a positive ``aiCore`` attribute, or whose chip offers
  no template that fits, gets no plan, and the caller falls back to the generic fractions.
* Template ``t`` gets ``min(aiCore // t.ai_core, MiB // t.memory_mb, aiCpu // t.ai_cpu)`` slots
  (the ``aiCpu`` term only when the card publishes ``aiCpu``), so the slots of one template never
  exceed the card; mixing templates is bounded by the card's counter set, which carries ``aiCore``
  (and ``aiCpu``) next to memory and cores.
* Slots are ordered smallest template first (allocation preference is slice order), and the
  ``cores`` percent of a slot is ``floor(100 * t.ai_core / aiCore)``.
"""

from __future__ import annotations

from dataclasses import dataclass

from dra_driver.devices import AcceleratorDevice
from dra_driver.parameters import ASCEND_VNPU_TEMPLATES

ASCEND_VENDOR = "ascend"
VNPU_TEMPLATE = "vnpuTemplate"
"""Attribute of a template device: the template name (``vir05_1c_16g``), selectable by CEL."""
AI_CORE = "aiCore"
AI_CPU = "aiCpu"
"""Card attributes (C identifiers) giving the chip's AI cores and AI CPUs."""
AI_CORE_COUNTER = "ai-core"
AI_CPU_COUNTER = "ai-cpu"
"""The counters that carry them: counter names must be DNS labels (the real kube-apiserver rejects
``aiCore`` with 422, tests/realcluster/test_slices.py)."""


@dataclass(frozen=True)
class VnpuSlot:
    """One template device of a card: ``suffix`` completes its name (``npu-0-<suffix>``)."""

    template: str
    suffix: str
    memory_mib: int
    ai_core: int
    ai_cpu: int
    cores_percent: int


@dataclass(frozen=True)
class VnpuPlan:
    """The card's AI cores and AI CPUs (``None`` when unpublished) and its template slots."""

    ai_core: int
    ai_cpu: int | None
    slots: tuple[VnpuSlot, ...]


def _positive_int(card: AcceleratorDevice, key: str) -> int | None:
    value = card.extra_attributes.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or value < 1:
        return None
    return value


def vnpu_plan(card: AcceleratorDevice) -> VnpuPlan | None:
    """The template slots of an Ascend ``card``, or ``None`` when it has none (see the contracts)."""
    if card.vendor != ASCEND_VENDOR:
        return None
    ai_core = _positive_int(card, AI_CORE)
    if ai_core is None:
        return None
    ai_cpu = _positive_int(card, AI_CPU)
    offered = [
        (template.value, spec)
        for template, spec in ASCEND_VNPU_TEMPLATES.items()
        if card.product_name in spec.chips
    ]
    offered.sort(key=lambda item: (item[1].ai_core, item[1].memory_mb, item[1].ai_cpu, item[0]))
    slots: list[VnpuSlot] = []
    for name, spec in offered:
        fits = [ai_core // spec.ai_core, card.memory_mib // spec.memory_mb]
        if ai_cpu is not None:
            fits.append(ai_cpu // spec.ai_cpu)
        label = name.replace("_", "-")
        slots.extend(
            VnpuSlot(
                template=name,
                suffix=f"{label}-{j}",
                memory_mib=spec.memory_mb,
                ai_core=spec.ai_core,
                ai_cpu=spec.ai_cpu,
                cores_percent=100 * spec.ai_core // ai_core,
            )
            for j in range(min(fits))
        )
    if not slots:
        return None
    return VnpuPlan(ai_core=ai_core, ai_cpu=ai_cpu, slots=tuple(slots))
