"""Ascend enforcement: hami-vnpu-core soft limits or a hard-split vNPU template (hami.md §3.3, §4).

Owns: ``build_ascend_edits``. Visibility is ``ASCEND_VISIBLE_DEVICES=<npu ids>`` (the card index
npu-smi reports). With limits it sets, as Project-HAMi/ascend-dra-driver does:

* ``NPU_MEM_QUOTA=<MiB>`` — the memory limit; hami-vnpu-core takes one quota for the claim, so
  every device of the claim must carry the same memory limit (otherwise ``InterceptionError``);
* ``NPU_PRIORITY=<cores %>`` — the allocated cores, used by hami-vnpu-core as a time-slice weight
  (100 when cores are unlimited); equal across devices for the same reason;
* ``NPU_GLOBAL_SHM_PATH=/hami-shared-region/<first device>_global_registry`` and
  ``NPU_LOCAL_SHM_PATH=/hami-vnpu-shmem/claim.shm``; the claim's cache dir is mounted rw at
  ``/hami-vnpu-shmem`` (shared by every container of the claim). With the library (real nodes):
  ``<library dir>/hami-vnpu-core`` at ``/hami-vnpu-core``, its ``ld.so.preload`` at
  ``/etc/ld.so.preload`` and ``<library dir>/hami-shared-region`` rw at ``/hami-shared-region``.

With ``vnpu_template`` the claim gets the driver's hard split instead: ``ASCEND_VNPU_SPECS=<template>``
and no preload (one device, whose chip must offer the template). ``priority``, ``core_policy`` and
``log_level`` are HAMi-core (CUDA) knobs and do not apply. It must never touch files.
"""

from __future__ import annotations

from collections.abc import Sequence

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

VNPU_CORE_DIR = "hami-vnpu-core"
SHARED_REGION_DIR = "hami-shared-region"
CONTAINER_VNPU_CORE = "/hami-vnpu-core"
CONTAINER_SHARED_REGION = "/hami-shared-region"
CONTAINER_LOCAL_SHM = "/hami-vnpu-shmem"
LOCAL_SHM_FILE = "claim.shm"


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
    env = {"ASCEND_VISIBLE_DEVICES": ",".join(str(limit.device.index) for limit in ordered)}
    if options.enforcement == "auto" and options.vnpu_template is not None:
        _template_spec(options.vnpu_template, ordered)
        env["ASCEND_VNPU_SPECS"] = options.vnpu_template
        return env_result(ordered, env, intercepted=True)
    if not needs_limits(ordered, options):
        return env_result(ordered, env, intercepted=False)
    env["NPU_MEM_QUOTA"] = str(_one({x.memory_limit_mib for x in ordered}, "memory quota", claim_uid))
    env["NPU_PRIORITY"] = str(_one({x.sm_limit_percent for x in ordered}, "cores share", claim_uid))
    env["NPU_GLOBAL_SHM_PATH"] = f"{CONTAINER_SHARED_REGION}/{ordered[0].device.name}_global_registry"
    env["NPU_LOCAL_SHM_PATH"] = f"{CONTAINER_LOCAL_SHM}/{LOCAL_SHM_FILE}"
    cache_dir = settings.claims_dir / claim_uid
    mounts = []
    if with_library:
        core = settings.host_library_dir / VNPU_CORE_DIR
        mounts.append(bind(core, CONTAINER_VNPU_CORE, READ_ONLY))
        mounts.append(bind(core / "ld.so.preload", "/etc/ld.so.preload", READ_ONLY))
        mounts.append(
            bind(settings.host_library_dir / SHARED_REGION_DIR, CONTAINER_SHARED_REGION, READ_WRITE)
        )
    mounts.append(bind(cache_dir, CONTAINER_LOCAL_SHM, READ_WRITE))
    return env_result(ordered, env, intercepted=True, mounts=mounts, cache_dir=cache_dir)
