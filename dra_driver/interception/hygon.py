"""Hygon enforcement: one vDCU config file per device of a claim (hami.md §3.4, §4).

Owns: ``build_hygon_edits`` and ``vdev_config``. The Hygon driver enforces a vDCU from a config
file in the format Project-HAMi/dcu-vgpu-device-plugin writes (``PciBusId``, ``cu_mask`` twice —
CUs 0-31 then 32-63, bit i = CU i —, ``cu_count``, ``mem: <MiB> MiB``, ``device_id``, ``vdev_id``,
``pipe_id``, ``enable: 1``). The files of a claim are ``<vdev_dir>/<claim-uid>/vdev<i>.conf`` (i =
position in PCI order) and the directory is mounted read-only at ``/etc/vdev/docker``, where the
driver's user-space looks. Both limits apply: memory as ``mem``, cores as the first
``floor(CUs * cores% / 100)`` (at least 1) compute units; this needs the card's ``computeUnits``.
Visibility is ``HIP_VISIBLE_DEVICES=<card indices>``. The files are returned in
``InterceptionResult.files`` for prepare to write; this module never touches files itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from dra_driver.interception.hami_core import InterceptionResult
from dra_driver.interception.limits import DeviceLimit, ordered_limits
from dra_driver.interception.settings import HamiCoreOptions, InterceptionError, InterceptionSettings
from dra_driver.interception.vdev import claim_vdev_dir
from dra_driver.interception.vendor_base import READ_ONLY, bind, env_result, needs_limits
from dra_driver.rules import FULL_CORES

CONTAINER_VDEV_DIR = "/etc/vdev/docker"
MAX_CUS = 64


def cu_count(limit: DeviceLimit) -> int:
    """Compute units the share may use: ``floor(CUs * cores% / 100)``, at least 1, all if unlimited."""
    total = limit.device.extra_attributes.get("computeUnits")
    if not isinstance(total, int) or isinstance(total, bool) or not 0 < total <= MAX_CUS:
        raise InterceptionError(
            f"device {limit.device.name} ({limit.device.product_name}) has no usable computeUnits "
            f"attribute ({total!r}); a vDCU needs the card's CU count (1..{MAX_CUS})"
        )
    return max(1, total * limit.sm_limit_percent // FULL_CORES)


def vdev_config(limit: DeviceLimit, vdev_id: int) -> str:
    """The vDCU config file of one device share."""
    count = cu_count(limit)
    mask = (1 << count) - 1
    if not limit.device.pci_bus_id:
        raise InterceptionError(f"device {limit.device.name} has no PCI bus id, which a vDCU config needs")
    return (
        f"PciBusId: {limit.device.pci_bus_id}\n"
        f"cu_mask: 0x{mask & 0xFFFFFFFF:x}\n"
        f"cu_mask: 0x{mask >> 32:x}\n"
        f"cu_count: {count}\n"
        f"mem: {limit.memory_limit_mib} MiB\n"
        f"device_id: {limit.device.index}\n"
        f"vdev_id: {vdev_id}\n"
        "pipe_id: 0\n"
        "enable: 1\n"
    )


def build_hygon_edits(
    claim_uid: str,
    limits: Sequence[DeviceLimit],
    options: HamiCoreOptions,
    settings: InterceptionSettings,
    *,
    with_library: bool,
) -> InterceptionResult:
    """The vDCU config files, mount and env that enforce ``limits`` on Hygon DCUs."""
    ordered = ordered_limits(claim_uid, limits)
    env = {"HIP_VISIBLE_DEVICES": ",".join(str(limit.device.index) for limit in ordered)}
    if not needs_limits(ordered, options):
        return env_result(ordered, env, intercepted=False)
    directory = claim_vdev_dir(settings, claim_uid)
    files = {directory / f"vdev{i}.conf": vdev_config(limit, i) for i, limit in enumerate(ordered)}
    mounts = [bind(directory, CONTAINER_VDEV_DIR, READ_ONLY)]
    if with_library:
        mounts.append(bind(settings.hyhal_dir, "/opt/hyhal", READ_ONLY))
    return env_result(ordered, env, intercepted=True, mounts=mounts, files=files)
