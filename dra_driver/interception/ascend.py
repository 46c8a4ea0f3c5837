"""Ascend enforcement: hami-vnpu-core soft limits or a hard-split vNPU template (hami.md §3.3, §4).

Owns: ``build_ascend_edits``. The container contract is Project-HAMi/ascend-device-plugin's
``internal/server/allocate.go`` ``buildContainerAllocateResponse``. Visibility is always
``ASCEND_VISIBLE_DEVICES=<ids>`` (the chips' physical ids: attribute ``phyId`` where the backend
knows it, else the npu-smi index, which equals it on single-chip cards). In hami-core (soft) mode:

* ``NPU_MEM_QUOTA=<MiB>`` and ``NPU_PRIORITY=<cores %>`` (100 when cores are unlimited);
  hami-vnpu-core takes one value per container and upstream uses the first device's, so hdra
  refuses devices with different values rather than silently dropping one;
* ``NPU_GLOBAL_SHM_PATH=/hami-shared-region/<first id>_global_registry``;
* ``NPU_LOCAL_SHM_PATH=/hami-vnpu-shmem/vnpu_local_shmem`` in a local directory mounted rw at
  ``/hami-vnpu-shmem`` (upstream: one per container; hdra: one per claim, the claim's cache dir);
* with the library (real nodes): the driver's ``/usr/local/bin/npu-smi``,
  ``/etc/ascend_install.info``, ``/usr/local/Ascend/driver/lib64/driver`` and
  ``/usr/local/Ascend/driver/version.info`` read-only at the same paths; the host's
  hami-vnpu-core directory read-only at ``/hami-vnpu-core`` and its ``ld.so.preload`` at
  ``/etc/ld.so.preload``; the host's shared region rw at ``/hami-shared-region``.

With ``vnpu_template`` the claim gets the driver's hard split instead: ``ASCEND_VNPU_SPECS=<template>``
and no preload (one device, whose chip must offer the template). ``priority``, ``core_policy`` and
``log_level`` are HAMi-core (CUDA) knobs and do not apply. It must never touch files.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from dra_driver.cdi import Mount
from dra_driver.interception.hami_core import InterceptionResult
from dra_driver.interception.limits import DeviceLimit, ordered_limits
from dra_driver.interception.settings import HamiCoreOptions, InterceptionError, InterceptionSettings
from dra_driver.interception.vendor_base import (
    READ_ONLY,
    READ_WRITE,
    bind,
    env_result,
    needs_limits,
)
from dra_driver.parameters import ASCEND_VNPU_TEMPLATES

CONTAINER_VNPU_CORE = "/hami-vnpu-core"
CONTAINER_SHARED_REGION = "/hami-shared-region"
CONTAINER_LOCAL_SHM = "/hami-vnpu-shmem"
LOCAL_SHM_FILE = "vnpu_local_shmem"
PRELOAD_NAME = "ld.so.preload"
DRIVER_PATHS = (
    "/usr/local/bin/npu-smi",
    "/etc/ascend_install.info",
    "/usr/local/Ascend/driver/lib64/driver",
    "/usr/local/Ascend/driver/version.info",
)
"""Host files ascend-device-plugin mounts read-only at the same path in hami-core mode."""


def chip_id(limit: DeviceLimit) -> int:
    """The id ``ASCEND_VISIBLE_DEVICES`` takes: attribute ``phyId``, else the npu-smi index."""
    phy = limit.device.extra_attributes.get("phyId")
    return phy if isinstance(phy, int) and not isinstance(phy, bool) and phy >= 0 else limit.device.index


def _template_spec(name: str, ordered: Sequence[DeviceLimit]) -> None:
    """Refuse a template the claim's chip does not offer, or a template across several cards."""
    spec = next((s for t, s in ASCEND_VNPU_TEMPLATES.items() if t.value == name), None)
    if spec is None:
        known = ", ".join(t.value for t in ASCEND_VNPU_TEMPLATES)
        raise InterceptionError(f"vnpuTemplate {name!r} is not a known Ascend template ({known})")
    if len(ordered) != 1:
        raise InterceptionError(f"vnpuTemplate {name!r} splits one NPU; the claim has {len(ordered)} devices")
    chip = ordered[0].device.product_name
    if chip not in spec.chips:
        raise InterceptionError(
            f"vnpuTemplate {name!r} is offered by {', '.join(spec.chips)}, not by device "
            f"{ordered[0].device.name} ({chip})"
        )


def _one(values: set[int], what: str, claim_uid: str) -> int:
    if len(values) != 1:
        raise InterceptionError(
            f"claim {claim_uid}: hami-vnpu-core enforces one {what} per claim, but its devices carry "
            f"{sorted(values)}; request equal capacities on every device"
        )
    return values.pop()


def build_ascend_edits(
    claim_uid: str,
    limits: Sequence[DeviceLimit],
    options: HamiCoreOptions,
    settings: InterceptionSettings,
    *,
    with_library: bool,
) -> InterceptionResult:
    """The env and mounts that enforce ``limits`` on Ascend NPUs (see the module docstring)."""
    ordered = ordered_limits(claim_uid, limits)
    ids = [chip_id(limit) for limit in ordered]
    env = {"ASCEND_VISIBLE_DEVICES": ",".join(str(i) for i in ids)}
    if options.enforcement == "auto" and options.vnpu_template is not None:
        _template_spec(options.vnpu_template, ordered)
        env["ASCEND_VNPU_SPECS"] = options.vnpu_template
        return env_result(ordered, env, intercepted=True)
    if not needs_limits(ordered, options):
        return env_result(ordered, env, intercepted=False)
    env["NPU_MEM_QUOTA"] = str(_one({x.memory_limit_mib for x in ordered}, "memory quota", claim_uid))
    env["NPU_PRIORITY"] = str(_one({x.sm_limit_percent for x in ordered}, "cores share", claim_uid))
    env["NPU_GLOBAL_SHM_PATH"] = f"{CONTAINER_SHARED_REGION}/{ids[0]}_global_registry"
    env["NPU_LOCAL_SHM_PATH"] = f"{CONTAINER_LOCAL_SHM}/{LOCAL_SHM_FILE}"
    cache_dir = settings.claims_dir / claim_uid
    mounts: list[Mount] = []
    if with_library:
        mounts.extend(bind(Path(path), path, READ_ONLY) for path in DRIVER_PATHS)
        core = settings.ascend_vnpu_core_dir
        mounts.append(bind(core, CONTAINER_VNPU_CORE, READ_ONLY))
        mounts.append(bind(core / PRELOAD_NAME, "/etc/ld.so.preload", READ_ONLY))
        mounts.append(bind(settings.ascend_shared_region_dir, CONTAINER_SHARED_REGION, READ_WRITE))
    mounts.append(bind(cache_dir, CONTAINER_LOCAL_SHM, READ_WRITE))
    return env_result(ordered, env, intercepted=True, mounts=mounts, cache_dir=cache_dir)
