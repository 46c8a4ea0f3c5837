"""What sysfs says about an AMD or Hygon card: its DRM device nodes and its ROCr UUID.

Owns: ``SYS_ROOT``, ``drm_attributes`` (``drmCard``/``drmRender``: the minors of
``/dev/dri/card<N>`` and ``/dev/dri/renderD<M>``, from ``<sys>/bus/pci/devices/<bus id>/drm/``) and
``rocr_uuids`` (render minor → ``GPU-<16 hex digits>``, ROCr's spelling of the KFD ``unique_id`` in
``<sys>/class/kfd/kfd/topology/nodes/*/properties``, which Project-HAMi/amd-device-plugin
``internal/pkg/amdgpu/amdgpu.go`` ``GetROCrUUIDsFromTopology`` hands to ``ROCR_VISIBLE_DEVICES``).
Missing or unreadable entries give no attribute (the node plugin then refuses to prepare that
card with a message naming the attribute); it must never raise for a sysfs layout it does not know.
"""

from __future__ import annotations

import logging
import re
from pathlib import Path

from dra_driver.devices.base import AttributeValue

SYS_ROOT = Path("/sys")
_CARD = re.compile(r"card(\d+)")
_RENDER = re.compile(r"renderD(\d+)")
_RENDER_MINOR = re.compile(r"^drm_render_minor\s+(\d+)\s*$", re.MULTILINE)
_UNIQUE_ID = re.compile(r"^unique_id\s+(\d+)\s*$", re.MULTILINE)

log = logging.getLogger("hdra.devices")


def drm_attributes(sys_root: Path, pci_bus_id: str | None) -> dict[str, AttributeValue]:
    """``{"drmCard": N, "drmRender": M}`` for the card at ``pci_bus_id``; {} when sysfs has no entry."""
    if not pci_bus_id:
        return {}
    directory = sys_root / "bus" / "pci" / "devices" / pci_bus_id / "drm"
    try:
        names = [entry.name for entry in directory.iterdir()]
    except OSError as exc:
        log.warning("card %s: cannot list %s (%s); /dev/dri nodes unknown", pci_bus_id, directory, exc)
        return {}
    found: dict[str, AttributeValue] = {}
    for name in sorted(names):
        if (card := _CARD.fullmatch(name)) is not None:
            found["drmCard"] = int(card.group(1))
        elif (render := _RENDER.fullmatch(name)) is not None:
            found["drmRender"] = int(render.group(1))
    return found


def rocr_uuids(sys_root: Path) -> dict[int, str]:
    """Render minor → ROCr UUID for every KFD topology node that has both (CPU nodes have neither)."""
    uuids: dict[int, str] = {}
    nodes = sys_root / "class" / "kfd" / "kfd" / "topology" / "nodes"
    for properties in sorted(nodes.glob("*/properties")):
        try:
            text = properties.read_text()
        except OSError as exc:
            log.warning("cannot read %s: %s", properties, exc)
            continue
        minor, unique = _RENDER_MINOR.search(text), _UNIQUE_ID.search(text)
        if minor is None or unique is None or int(minor.group(1)) <= 0 or int(unique.group(1)) == 0:
            continue
        uuids[int(minor.group(1))] = f"GPU-{int(unique.group(1)):016x}"
    return uuids
