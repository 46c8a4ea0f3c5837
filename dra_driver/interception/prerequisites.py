"""Host software a vendor's sharing needs, checked once when the node plugin starts.

Owns: ``sharing_prerequisites`` — the missing host paths (one message each) without which a
vendor's limits cannot be enforced on this node. The chart provides them where upstream's chart
does (an init container copies the library from the upstream image), and states the rest as
prerequisites; the node plugin reports what is missing (log and Event) and publishes the cards
without sharing (whole cards only), never shares it cannot enforce. Per vendor:

* amd — ``<library dir>/libamvgpu.so`` (amd-device-plugin ``scripts/amd-vgpu-init.sh`` installs it;
  without it ``LD_AUDIT`` loads nothing and memory is not limited);
* ascend — ``<hami-vnpu-core dir>/libvnpu.so`` and ``ld.so.preload`` and the shared-region
  directory (ascend-device-plugin ``internal/server/util.go`` ``prepareHostResources``);
* hygon — the driver directory mounted at /opt/hygondriver (``HYGONPATH``; its ``env.sh``, which
  containers source) and ``/opt/hyhal`` (its ``bin/hy-smi``);
* cambricon — ``/dev/cambricon-split`` (the split driver) and ``/usr/bin/smlu-containerd``.

NVIDIA's HAMi-core is checked by its own install path. It only reads the file system.
"""

from __future__ import annotations

from pathlib import Path

from dra_driver.interception.amd import LIBRARY_NAME as AMD_LIBRARY
from dra_driver.interception.ascend import PRELOAD_NAME
from dra_driver.interception.settings import InterceptionSettings

VNPU_LIBRARY = "libvnpu.so"
SMLU_CONTAINERD = Path("/usr/bin/smlu-containerd")


def _required(vendor: str, settings: InterceptionSettings) -> list[tuple[Path, str]]:
    if vendor == "amd":
        return [(settings.host_library_dir / AMD_LIBRARY, "libamvgpu (AMD memory limits)")]
    if vendor == "ascend":
        core = settings.ascend_vnpu_core_dir
        return [
            (core / VNPU_LIBRARY, "hami-vnpu-core"),
            (core / PRELOAD_NAME, "hami-vnpu-core's ld.so.preload"),
            (settings.ascend_shared_region_dir, "hami-vnpu-core's shared region"),
        ]
    if vendor == "hygon":
        # The chart mounts both directories (created empty where absent): look for their content.
        return [
            (settings.hygon_driver_dir / "env.sh", "the Hygon driver directory (HYGONPATH) a vDCU mounts"),
            (settings.hyhal_dir / "bin" / "hy-smi", "hyhal"),
        ]
    if vendor == "cambricon":
        return [
            (settings.dev_dir / "cambricon-split", "Cambricon's split device"),
            (SMLU_CONTAINERD, "Cambricon's smlu-containerd"),
        ]
    return []


def sharing_prerequisites(vendor: str, settings: InterceptionSettings) -> list[str]:
    """One message per missing host path that ``vendor``'s sharing needs; [] when all are there."""
    return [
        f"{what} is missing: no {path}" for path, what in _required(vendor, settings) if not path.exists()
    ]
