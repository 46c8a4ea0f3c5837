"""Vendor sections of ``AcceleratorConfig``: settings that only one vendor's driver understands.

Owns: the section models (today ``AscendExtras``), the Ascend vNPU template table, and
``VENDOR_SECTIONS`` (section field → the only driver that accepts it). A section exists only for
a knob the vendor's runtime really has (reference/hami.md §3.3, §4):

- Ascend: the driver's hard-split vNPU templates (``ASCEND_VNPU_SPECS=<template>``); the 910B
  family's template names are the accepted values.
- Cambricon (SMLU profile), Hygon (vDCU file), AMD (``HSA_CU_MASK``, memory hook): every value is
  derived from the allocated memory and cores, which the scheduler accounts for, so there is no
  per-claim knob and no section; such a field is rejected with a message saying so.

It must never decide how a setting is enforced (that is interception's job) nor which chip a
device is (that is prepare's, using ``VnpuTemplateSpec.chips``).
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from types import MappingProxyType
from typing import Final

from pydantic import BaseModel, ConfigDict, Field


class AscendVnpuTemplate(StrEnum):
    """The vNPU template names of the Ascend 910B family (HAMi's device-configmap vnpus.configs)."""

    VIR03_1C_8G = "vir03_1c_8g"
    VIR06_1C_16G = "vir06_1c_16g"
    VIR12_3C_32G = "vir12_3c_32g"
    VIR05_1C_16G = "vir05_1c_16g"
    VIR10_3C_32G = "vir10_3c_32g"
    VIR05_1C_8G = "vir05_1c_8g"
    VIR10_3C_16G = "vir10_3c_16g"


@dataclass(frozen=True)
class VnpuTemplateSpec:
    """What one template carves out of a chip: memory (MB as HAMi counts it), AI cores and AI CPUs,
    and the chips (HAMi resource names without ``huawei.com/``) whose driver offers it."""

    memory_mb: int
    ai_core: int
    ai_cpu: int
    chips: tuple[str, ...]


_910B2 = ("Ascend910B2",)
_910B3 = ("Ascend910B3", "Ascend910B4-1", "Ascend910C")
_910B4 = ("Ascend910B4",)

ASCEND_VNPU_TEMPLATES: Final[MappingProxyType[AscendVnpuTemplate, VnpuTemplateSpec]] = MappingProxyType(
    {
        AscendVnpuTemplate.VIR03_1C_8G: VnpuTemplateSpec(8192, 3, 1, _910B2),
        AscendVnpuTemplate.VIR06_1C_16G: VnpuTemplateSpec(16384, 6, 1, _910B2),
        AscendVnpuTemplate.VIR12_3C_32G: VnpuTemplateSpec(32768, 12, 3, _910B2),
        AscendVnpuTemplate.VIR05_1C_16G: VnpuTemplateSpec(16384, 5, 1, _910B3),
        AscendVnpuTemplate.VIR10_3C_32G: VnpuTemplateSpec(32768, 10, 3, _910B3),
        AscendVnpuTemplate.VIR05_1C_8G: VnpuTemplateSpec(8192, 5, 1, _910B4),
        AscendVnpuTemplate.VIR10_3C_16G: VnpuTemplateSpec(16384, 10, 3, _910B4),
    }
)
"""Template → its shape and chips (hami.md §1.2 table; 910C superPod shares the 910B3 templates)."""


class AscendExtras(BaseModel):
    """Settings that only ascend.hdra.io accepts (the "ascend" field of AcceleratorConfig).

    vnpuTemplate: run the claim on a hard-split vNPU of this template (the driver's
    ASCEND_VNPU_SPECS) instead of hami-vnpu-core's soft limits.
    """

    model_config = ConfigDict(strict=True, extra="forbid", frozen=True)

    vnpu_template: AscendVnpuTemplate = Field(
        alias="vnpuTemplate",
        title="vNPU template",
        description="Ascend 910B vNPU template for a hard split (ASCEND_VNPU_SPECS).",
    )


VENDOR_SECTIONS: Final[MappingProxyType[str, str]] = MappingProxyType({"ascend": "ascend.hdra.io"})
"""Section field name (JSON and Python) → the one driver that accepts it."""

NO_SECTION_VENDORS: Final[tuple[str, ...]] = ("nvidia", "amd", "cambricon", "hygon", "mock")
"""Vendors without a section: a field named after one of them gets a message saying so."""
