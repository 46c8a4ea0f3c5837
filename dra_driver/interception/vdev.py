"""The per-claim vDCU config directory on the host: ``<vdev_dir>/<claim-uid>/``.

Owns: ``claim_vdev_dir`` and ``remove_claim_vdev_dir``. Files in it are written by prepare from
``InterceptionResult.files``; unprepare removes the directory. Every path comes from a validated
claim UID, so nothing outside ``vdev_dir`` is ever removed, and symlinks are never followed.
"""

from __future__ import annotations

from pathlib import Path

from dra_driver.cdi import CdiError, validate_claim_uid
from dra_driver.interception.cache_dir import remove_tree
from dra_driver.interception.settings import InterceptionError, InterceptionSettings


def claim_vdev_dir(settings: InterceptionSettings, claim_uid: str) -> Path:
    """The claim's vDCU config directory (not created); ``InterceptionError`` for a non-UUID."""
    try:
        validate_claim_uid(claim_uid)
    except CdiError as exc:
        raise InterceptionError(str(exc)) from exc
    return settings.vdev_dir / claim_uid


def remove_claim_vdev_dir(settings: InterceptionSettings, claim_uid: str) -> bool:
    """Delete the claim's vDCU directory and its files; False if there was none."""
    return remove_tree(claim_vdev_dir(settings, claim_uid))
