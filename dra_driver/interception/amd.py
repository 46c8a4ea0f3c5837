"""AMD enforcement: libamvgpu through LD_AUDIT plus disjoint HSA_CU_MASK compute units.

Owns: ``build_amd_edits``. The container contract is Project-HAMi/amd-device-plugin's
``internal/pkg/plugin/plugin.go`` ``Allocate``:

* device nodes ``/dev/kfd`` and, per card, ``/dev/dri/card<N>`` and ``/dev/dri/renderD<M>`` (rw);
* ``ROCR_VISIBLE_DEVICES`` = the cards' ROCr UUIDs (``GPU-<16 hex digits of the KFD unique_id>``,
  attribute ``rocrUuid``) in the claim's device order, which numbers them 0..n-1 in the container;

and, when the claim is limited (some card less than whole):

* ``HSA_CU_MASK`` = ``<i>:<CU id list>`` per limited card i, joined by ``;`` — the compute units the
  node plugin granted (``units.grant_units``: disjoint from every other claim's on the card);
* ``HIP_DEVICE_MEMORY_LIMIT=<MiB>m`` (the first card's limit, as upstream) and, per card,
  ``HIP_DEVICE_MEMORY_LIMIT_<i>=<MiB>m`` (libamvgpu reads both; the per-index value wins);
* ``LD_AUDIT=/usr/local/vgpu/libamvgpu.so`` and ``<library dir>/libamvgpu.so`` mounted read-only
  there (only with the library: real nodes);
* hdra's addition: ``HIP_DEVICE_MEMORY_SHARED_CACHE`` in the claim's cache directory, so that all
  containers of one claim count against one limit (upstream gives each container its own).

It must never touch files.
"""

from __future__ import annotations

from collections.abc import Sequence

from dra_driver.interception.hami_core import InterceptionResult
from dra_driver.interception.limits import DeviceLimit, ordered_limits
from dra_driver.interception.settings import (
    CONTAINER_CACHE_DIR,
    HamiCoreOptions,
    InterceptionError,
    InterceptionSettings,
)
from dra_driver.interception.units import NodeUnits, cu_id_list, grant_units
from dra_driver.interception.vendor_base import (
    READ_ONLY,
    READ_WRITE,
    bind,
    device_node,
    drm_nodes,
    env_result,
    needs_limits,
)

LIBRARY_NAME = "libamvgpu.so"
CONTAINER_LIBRARY = "/usr/local/vgpu/libamvgpu.so"
SHARED_CACHE_FILE = "amvgpu.cache"


def _rocr_uuid(limit: DeviceLimit) -> str:
    value = limit.device.extra_attributes.get("rocrUuid")
    if not isinstance(value, str) or not value.startswith("GPU-"):
        raise InterceptionError(
            f"device {limit.device.name} has no rocrUuid attribute ({value!r}); ROCR_VISIBLE_DEVICES needs "
            "the ROCr UUID (GPU-<KFD unique_id>) from /sys/class/kfd/kfd/topology"
        )
    return value


def build_amd_edits(
    claim_uid: str,
    limits: Sequence[DeviceLimit],
    options: HamiCoreOptions,
    settings: InterceptionSettings,
    taken: NodeUnits,
    *,
    with_library: bool,
) -> InterceptionResult:
    """The device nodes, env and mounts that enforce ``limits`` on AMD GPUs (module docstring)."""
    ordered = ordered_limits(claim_uid, limits)
    env = {"ROCR_VISIBLE_DEVICES": ",".join(_rocr_uuid(limit) for limit in ordered)}
    nodes = [device_node(settings, "kfd", "rw"), *drm_nodes(ordered, settings)]
    if not needs_limits(ordered, options):
        return env_result(ordered, env, intercepted=False, device_nodes=nodes)
    grants = grant_units("amd", claim_uid, ordered, taken)
    by_card = {grant.device: grant for grant in grants}
    masks = [
        f"{i}:{cu_id_list(by_card[limit.device.uuid].compute_units)}"
        for i, limit in enumerate(ordered)
        if limit.device.uuid in by_card
    ]
    if masks:
        env["HSA_CU_MASK"] = ";".join(masks)
    env["HIP_DEVICE_MEMORY_LIMIT"] = f"{ordered[0].memory_limit_mib}m"
    for i, limit in enumerate(ordered):
        env[f"HIP_DEVICE_MEMORY_LIMIT_{i}"] = f"{limit.memory_limit_mib}m"
    env["HIP_DEVICE_MEMORY_SHARED_CACHE"] = f"{CONTAINER_CACHE_DIR}/{SHARED_CACHE_FILE}"
    cache_dir = settings.claims_dir / claim_uid
    mounts = [bind(cache_dir, CONTAINER_CACHE_DIR, READ_WRITE)]
    if with_library:
        env["LD_AUDIT"] = CONTAINER_LIBRARY
        mounts.append(bind(settings.host_library_dir / LIBRARY_NAME, CONTAINER_LIBRARY, READ_ONLY))
    return env_result(
        ordered,
        env,
        intercepted=True,
        mounts=mounts,
        device_nodes=nodes,
        cache_dir=cache_dir,
        units=grants,
    )
