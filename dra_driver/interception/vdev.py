"""The Hygon vDCU config files on the host: ``<vdev_dir>/<claim-uid>/`` and ``<vdev_dir>/vdev<id>.conf``.

Owns: ``claim_vdev_dir``, ``host_vdev_file``, ``remove_claim_vdev_dir`` and ``remove_host_vdev_file``.
The claim's directory holds the container's ``vdev0.conf`` (mounted at /etc/vdev/docker); the
host's ``vdev<vdev_id>.conf`` is the copy dcu-vgpu-device-plugin also writes under /etc/vdev, named
by the node-unique vDCU id. Files are written by prepare from ``InterceptionResult.files``;
unprepare removes both. Every path comes from a validated claim UID or an integer id, so nothing
outside ``vdev_dir`` is ever removed, and symlinks are never followed.
"""

from __future__ import annotations

from pathlib import Path

from dra_driver.cdi import CdiError, validate_claim_uid
from dra_driver.interception.cache_dir import remove_tree
from dra_driver.interception.settings import InterceptionError, InterceptionSettings
from dra_driver.interception.units import MAX_VDEV_IDS


def claim_vdev_dir(settings: InterceptionSettings, claim_uid: str) -> Path:
    """The claim's vDCU config directory (not created); ``InterceptionError`` for a non-UUID."""
    try:
        validate_claim_uid(claim_uid)
    except CdiError as exc:
        raise InterceptionError(str(exc)) from exc
    return settings.vdev_dir / claim_uid


def host_vdev_file(settings: InterceptionSettings, vdev_id: int) -> Path:
    """``<vdev_dir>/vdev<vdev_id>.conf``; ``InterceptionError`` for an id outside 0..199."""
    if isinstance(vdev_id, bool) or not isinstance(vdev_id, int) or not 0 <= vdev_id < MAX_VDEV_IDS:
        raise InterceptionError(f"vDCU id {vdev_id!r} is not 0..{MAX_VDEV_IDS - 1}")
    return settings.vdev_dir / f"vdev{vdev_id}.conf"


def remove_claim_vdev_dir(settings: InterceptionSettings, claim_uid: str) -> bool:
    """Delete the claim's vDCU directory and its files; False if there was none."""
    return remove_tree(claim_vdev_dir(settings, claim_uid))


def remove_host_vdev_file(settings: InterceptionSettings, vdev_id: int) -> bool:
    """Delete the host's ``vdev<vdev_id>.conf`` (never a symlink's target); False if there was none."""
    path = host_vdev_file(settings, vdev_id)
    try:
        path.unlink()
    except FileNotFoundError:
        return False
    return True
