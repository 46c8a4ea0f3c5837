"""Choosing the enforcement mechanism by the cards' vendor, plus Cambricon's (hami.md §4).

Owns: ``build_vendor_edits`` (the dispatcher), ``claim_vendor`` and ``build_cambricon_edits``.
Which limits apply per vendor:

* nvidia (and the mock's NVIDIA-like cards) — memory and cores via HAMi-core (``hami_core``);
* ascend — memory (``NPU_MEM_QUOTA``) and cores as weight (``NPU_PRIORITY``), or a vNPU template;
* cambricon — ``CAMBRICON_VISIBLE_DEVICES=<indices>`` (the variable Cambricon's container runtime
  reads: cambricon-k8s-device-plugin ``pkg/mlu/server.go`` ``PrepareResponse``) and, for a shared
  card, Cambricon's env split as that plugin's ``mlu-share`` mode hands it out (release v1.3.6,
  ``pkg/mlu/server.go`` ``allocateMLUShare``/``PrepareResponse``, ``pkg/mlu/cambricon.go``):
  ``CAMBRICON_SPLIT_ENABLE=1``, ``CAMBRICON_SPLIT_VISIBLE_DEVICES=<index>``,
  ``CAMBRICON_SPLIT_MEMS=<memory in 1024 MiB units>`` (rounded down, at least 1), the device node
  ``/dev/cambricon-split`` and ``/usr/bin/smlu-containerd`` mounted read-only. One card per
  claim, memory only: a cores limit is logged as not enforced (only the dynamic-sMLU mode splits
  cores, and it creates its instances through libcndev in Cambricon's own device plugin);
* hygon — memory and cores as a vDCU config file (``hygon``), with node-unique ids and CUs;
* amd — memory through libamvgpu (LD_AUDIT) and cores as node-disjoint ``HSA_CU_MASK`` compute
  units (``amd``).

``taken`` is what the node's other prepared claims hold (``units.NodeUnits``); the AMD and Hygon
builders grant this claim's units on top of it and return them in ``InterceptionResult.units``.

A claim's devices are all of one vendor; a mix is an ``InterceptionError``. It never touches files.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from pathlib import Path

from dra_driver.interception.amd import build_amd_edits
from dra_driver.interception.ascend import build_ascend_edits
from dra_driver.interception.hami_core import InterceptionResult, build_hami_core_edits
from dra_driver.interception.hygon import build_hygon_edits
from dra_driver.interception.limits import DeviceLimit, ordered_limits
from dra_driver.interception.settings import HamiCoreOptions, InterceptionError, InterceptionSettings
from dra_driver.interception.units import NodeUnits
from dra_driver.interception.vendor_base import READ_ONLY, bind, device_node, env_result, needs_limits

log = logging.getLogger("hdra.interception")

SPLIT_MEMORY_UNIT_MIB = 1024
SPLIT_DEVICE = "cambricon-split"
SMLU_CONTAINERD = "/usr/bin/smlu-containerd"
VENDORS = ("nvidia", "ascend", "cambricon", "hygon", "amd")


def claim_vendor(limits: Sequence[DeviceLimit]) -> str:
    """The one vendor of a claim's cards; ``InterceptionError`` for none or a mix."""
    vendors = sorted({limit.device.vendor for limit in limits})
    if len(vendors) != 1:
        names = ", ".join(f"{x.device.name} ({x.device.vendor})" for x in limits) or "no devices"
        raise InterceptionError(f"a claim's devices must all be of one vendor, not {names}")
    return vendors[0]


def build_cambricon_edits(
    claim_uid: str,
    limits: Sequence[DeviceLimit],
    options: HamiCoreOptions,
    settings: InterceptionSettings,
    *,
    with_library: bool,
) -> InterceptionResult:
    """Cambricon's env split (see the module docstring); a cores limit is logged as not enforced."""
    ordered = ordered_limits(claim_uid, limits)
    env = {"CAMBRICON_VISIBLE_DEVICES": ",".join(str(x.device.index) for x in ordered)}
    if not needs_limits(ordered, options):
        return env_result(ordered, env, intercepted=False)
    limited = [x for x in ordered if not x.is_whole_card]
    if len(ordered) != 1:
        raise InterceptionError(
            f"claim {claim_uid}: Cambricon's memory split limits one MLU per container, the claim has "
            f"{len(ordered)}; ask for whole cards, or one shared card per claim"
        )
    for share in limited:
        if share.cores_limited:
            log.warning(
                "claim=%s device=%s cores=%d%%: not enforced, Cambricon's memory split "
                "(CAMBRICON_SPLIT_MEMS) limits memory only",
                claim_uid,
                share.device.name,
                share.sm_limit_percent,
            )
    (limit,) = ordered
    env["CAMBRICON_SPLIT_ENABLE"] = "1"
    env["CAMBRICON_SPLIT_VISIBLE_DEVICES"] = str(limit.device.index)
    env["CAMBRICON_SPLIT_MEMS"] = str(max(1, limit.memory_limit_mib // SPLIT_MEMORY_UNIT_MIB))
    mounts = [bind(Path(SMLU_CONTAINERD), SMLU_CONTAINERD, READ_ONLY)] if with_library else []
    nodes = [device_node(settings, SPLIT_DEVICE, "rw")]
    return env_result(ordered, env, intercepted=True, mounts=mounts, device_nodes=nodes)


def build_vendor_edits(
    vendor: str,
    claim_uid: str,
    limits: Sequence[DeviceLimit],
    options: HamiCoreOptions,
    settings: InterceptionSettings,
    *,
    with_library: bool,
    taken: NodeUnits | None = None,
) -> InterceptionResult:
    """The container side of one claim of ``vendor``'s cards, by that vendor's mechanism."""
    held = NodeUnits() if taken is None else taken
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
        return build_hygon_edits(claim_uid, limits, options, settings, held, with_library=with_library)
    if vendor == "cambricon":
        return build_cambricon_edits(claim_uid, limits, options, settings, with_library=with_library)
    if vendor == "amd":
        return build_amd_edits(claim_uid, limits, options, settings, held, with_library=with_library)
    raise InterceptionError(f"no enforcement for vendor {vendor!r}; known vendors: {', '.join(VENDORS)}")
