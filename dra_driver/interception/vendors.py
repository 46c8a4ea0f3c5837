"""Choosing the enforcement mechanism by the cards' vendor, plus Cambricon's and AMD's (hami.md §4).

Owns: ``build_vendor_edits`` (the dispatcher), ``claim_vendor``, ``build_cambricon_edits`` and
``build_amd_edits``. Which limits apply per vendor:

* nvidia (and the mock's NVIDIA-like cards) — memory and cores via HAMi-core (``hami_core``);
* ascend — memory (``NPU_MEM_QUOTA``) and cores as weight (``NPU_PRIORITY``), or a vNPU template;
* cambricon — memory and cores as an SMLU profile: ``CAMBRICON_VISIBLE_DEVICES=<indices>``,
  ``CAMBRICON_SPLIT_ENABLE=1``, ``CAMBRICON_SPLIT_MEMS=<MiB per device>``, ``CAMBRICON_SPLIT_VCORES``
  (= ``CAMBRICON_DSMLU_PROFILE`` parts) and ``CAMBRICON_DSMLU_PROFILE=<vcore%>_<vmemory>`` per
  device, vmemory in HAMi's 256 MiB units rounded down (never above the allocation, at least 1);
* hygon — memory and cores as a vDCU config file (``hygon``);
* amd — cores as ``HSA_CU_MASK`` and memory as ``HIP_DEVICE_MEMORY_LIMIT_<i>=<MiB>m`` (HAMi's
  amd-vgpu design; enforced by its LD_AUDIT hook): ``ROCR_VISIBLE_DEVICES=<uuids>`` numbers the
  cards 0..n-1 in PCI order and ``HSA_CU_MASK=<i>:0-<k-1>`` (entries joined by ``;``) lets device
  i use CUs 0..k-1, k = ``floor(CUs * cores% / 100)`` (at least 1); a device without a cores limit
  gets no mask entry. In ROCm's queue CU mask bit j is CU j, so the range is the low k bits.

A claim's devices are all of one vendor; a mix is an ``InterceptionError``. It never touches files.
"""

from __future__ import annotations

from collections.abc import Sequence

from dra_driver.interception.ascend import build_ascend_edits
from dra_driver.interception.hami_core import InterceptionResult, build_hami_core_edits
from dra_driver.interception.hygon import build_hygon_edits
from dra_driver.interception.limits import DeviceLimit, ordered_limits
from dra_driver.interception.settings import HamiCoreOptions, InterceptionError, InterceptionSettings
from dra_driver.interception.vendor_base import env_result, needs_limits
from dra_driver.rules import FULL_CORES

SMLU_MEMORY_UNIT_MIB = 256
VENDORS = ("nvidia", "ascend", "cambricon", "hygon", "amd")


def claim_vendor(limits: Sequence[DeviceLimit]) -> str:
    """The one vendor of a claim's cards; ``InterceptionError`` for none or a mix."""
    vendors = sorted({limit.device.vendor for limit in limits})
    if len(vendors) != 1:
        names = ", ".join(f"{x.device.name} ({x.device.vendor})" for x in limits) or "no devices"
        raise InterceptionError(f"a claim's devices must all be of one vendor, not {names}")
    return vendors[0]


def build_cambricon_edits(
    claim_uid: str, limits: Sequence[DeviceLimit], options: HamiCoreOptions
) -> InterceptionResult:
    ordered = ordered_limits(claim_uid, limits)
    env = {"CAMBRICON_VISIBLE_DEVICES": ",".join(str(x.device.index) for x in ordered)}
    if not needs_limits(ordered, options):
        return env_result(ordered, env, intercepted=False)
    units = [max(1, x.memory_limit_mib // SMLU_MEMORY_UNIT_MIB) for x in ordered]
    env["CAMBRICON_SPLIT_ENABLE"] = "1"
    env["CAMBRICON_SPLIT_MEMS"] = ",".join(str(u * SMLU_MEMORY_UNIT_MIB) for u in units)
    env["CAMBRICON_SPLIT_VCORES"] = ",".join(str(x.sm_limit_percent) for x in ordered)
    env["CAMBRICON_DSMLU_PROFILE"] = ",".join(
        f"{x.sm_limit_percent}_{u}" for x, u in zip(ordered, units, strict=True)
    )
    return env_result(ordered, env, intercepted=True)


def _compute_units(limit: DeviceLimit) -> int:
    total = limit.device.extra_attributes.get("computeUnits")
    if not isinstance(total, int) or isinstance(total, bool) or total < 1:
        raise InterceptionError(
            f"device {limit.device.name} ({limit.device.product_name}) has no computeUnits attribute "
            f"({total!r}); HSA_CU_MASK needs the card's CU count"
        )
    return total


def build_amd_edits(
    claim_uid: str, limits: Sequence[DeviceLimit], options: HamiCoreOptions
) -> InterceptionResult:
    ordered = ordered_limits(claim_uid, limits)
    env = {"ROCR_VISIBLE_DEVICES": ",".join(x.device.uuid for x in ordered)}
    if not needs_limits(ordered, options):
        return env_result(ordered, env, intercepted=False)
    masks = []
    for i, limit in enumerate(ordered):
        env[f"HIP_DEVICE_MEMORY_LIMIT_{i}"] = f"{limit.memory_limit_mib}m"
        if limit.cores_limited:
            count = max(1, _compute_units(limit) * limit.sm_limit_percent // FULL_CORES)
            masks.append(f"{i}:0-{count - 1}")
    if masks:
        env["HSA_CU_MASK"] = ";".join(masks)
    return env_result(ordered, env, intercepted=True)


def build_vendor_edits(
    vendor: str,
    claim_uid: str,
    limits: Sequence[DeviceLimit],
    options: HamiCoreOptions,
    settings: InterceptionSettings,
    *,
    with_library: bool,
) -> InterceptionResult:
    """The container side of one claim of ``vendor``'s cards, by that vendor's mechanism."""
    if limits and claim_vendor(limits) != vendor:
        raise InterceptionError(
            f"claim {claim_uid}: its devices are {claim_vendor(limits)} cards, not {vendor}"
        )
    if vendor == "nvidia":
        return build_hami_core_edits(claim_uid, limits, options, settings, with_library=with_library)
    if options.vnpu_template is not None and vendor != "ascend":
        raise InterceptionError(
            f"vnpuTemplate {options.vnpu_template!r} applies to Ascend NPUs, not to {vendor}"
        )
    if vendor == "ascend":
        return build_ascend_edits(claim_uid, limits, options, settings, with_library=with_library)
    if vendor == "hygon":
        return build_hygon_edits(claim_uid, limits, options, settings, with_library=with_library)
    if vendor == "cambricon":
        return build_cambricon_edits(claim_uid, limits, options)
    if vendor == "amd":
        return build_amd_edits(claim_uid, limits, options)
    raise InterceptionError(f"no enforcement for vendor {vendor!r}; known vendors: {', '.join(VENDORS)}")
