"""Hygon enforcement: a vDCU config file per limited claim, as dcu-vgpu-device-plugin writes it.

Owns: ``build_hygon_edits`` and ``vdev_config``. The container contract is
Project-HAMi/dcu-vgpu-device-plugin's ``internal/pkg/dcu/server.go`` (``Allocate``,
``createvdevFiles``, ``createvdevFile``):

* device nodes ``/dev/kfd`` and ``/dev/mkfd`` (rwm) and, per card, ``/dev/dri/card<N>`` and
  ``/dev/dri/renderD<M>`` (rw); ``/opt/hyhal`` mounted read-only; no visibility variable (the
  container sees exactly the nodes it is given);
* a limited claim (one card, less than whole) gets a vDCU: ``vdev0.conf`` in the claim's directory,
  mounted at ``/etc/vdev/docker``, with ``device_id: 0`` (the card's index in the container), and
  the host's ``<vdev_dir>/vdev<vdev_id>.conf`` with the host index; both carry ``PciBusId``, the two
  64-bit ``cu_mask`` words (``0x`` + 16 hex digits, CUs 0-63 then 64-127, bit i = CU i),
  ``cu_count``, ``mem: <MiB> MiB``, ``vdev_id`` (unique on the node), ``pipe_id`` (unique on the
  card) and ``enable: 1``; the driver directory (``HYGONPATH``) is mounted at /opt/hygondriver.

Compute units and ids come from ``units.grant_units`` (disjoint across the node's claims). The
files are returned in ``InterceptionResult.files`` for prepare to write; this module never touches
files itself.
"""

from __future__ import annotations

from collections.abc import Sequence

from dra_driver.interception.hami_core import InterceptionResult
from dra_driver.interception.limits import DeviceLimit, ordered_limits
from dra_driver.interception.settings import HamiCoreOptions, InterceptionError, InterceptionSettings
from dra_driver.interception.units import NodeUnits, UnitGrant, cu_mask_words, grant_units
from dra_driver.interception.vdev import claim_vdev_dir, host_vdev_file
from dra_driver.interception.vendor_base import (
    READ_ONLY,
    bind,
    device_node,
    drm_nodes,
    env_result,
    needs_limits,
)

CONTAINER_VDEV_DIR = "/etc/vdev/docker"
CONTAINER_VDEV_FILE = "vdev0.conf"
CONTAINER_DRIVER_DIR = "/opt/hygondriver"
CONTAINER_HYHAL_DIR = "/opt/hyhal"


def vdev_config(limit: DeviceLimit, grant: UnitGrant, device_id: int) -> str:
    """One vDCU config file; ``device_id`` 0 for the container's copy, the host index for the host's."""
    if not limit.device.pci_bus_id:
        raise InterceptionError(f"device {limit.device.name} has no PCI bus id, which a vDCU config needs")
    if grant.vdev_id is None or grant.pipe_id is None:
        raise InterceptionError(f"device {limit.device.name}: the vDCU has no vdev_id or pipe_id")
    low, high = cu_mask_words(grant.compute_units)
    return (
        f"PciBusId: {limit.device.pci_bus_id}\n"
        f"cu_mask: 0x{low:016x}\n"
        f"cu_mask: 0x{high:016x}\n"
        f"cu_count: {len(grant.compute_units)}\n"
        f"mem: {limit.memory_limit_mib} MiB\n"
        f"device_id: {device_id}\n"
        f"vdev_id: {grant.vdev_id}\n"
        f"pipe_id: {grant.pipe_id}\n"
        "enable: 1\n"
    )


def build_hygon_edits(
    claim_uid: str,
    limits: Sequence[DeviceLimit],
    options: HamiCoreOptions,
    settings: InterceptionSettings,
    taken: NodeUnits,
    *,
    with_library: bool,
) -> InterceptionResult:
    """The device nodes, vDCU files and mounts that enforce ``limits`` on Hygon DCUs."""
    ordered = ordered_limits(claim_uid, limits)
    nodes = [
        device_node(settings, "kfd", "rwm"),
        device_node(settings, "mkfd", "rwm"),
        *drm_nodes(ordered, settings),
    ]
    hyhal = [bind(settings.hyhal_dir, CONTAINER_HYHAL_DIR, READ_ONLY)] if with_library else []
    if not needs_limits(ordered, options):
        return env_result(ordered, {}, intercepted=False, mounts=hyhal, device_nodes=nodes)
    grants = grant_units("hygon", claim_uid, ordered, taken)
    (limit,), (grant,) = ordered, grants
    directory = claim_vdev_dir(settings, claim_uid)
    if grant.vdev_id is None:
        raise InterceptionError(f"claim {claim_uid}: device {limit.device.name} was granted no vdev_id")
    files = {
        directory / CONTAINER_VDEV_FILE: vdev_config(limit, grant, 0),
        host_vdev_file(settings, grant.vdev_id): vdev_config(limit, grant, limit.device.index),
    }
    mounts = [bind(directory, CONTAINER_VDEV_DIR, READ_ONLY)]
    if with_library:
        mounts.append(bind(settings.hygon_driver_dir, CONTAINER_DRIVER_DIR, READ_ONLY))
    mounts.extend(hyhal)
    return env_result(
        ordered, {}, intercepted=True, mounts=mounts, device_nodes=nodes, files=files, units=grants
    )
