"""The per-claim HAMi-core cache directory on the host: ``<state_dir>/claims/<claim-uid>/``.

Owns: ``claim_cache_dir``, ``create_claim_cache_dir``, ``remove_claim_cache_dir``,
``cached_claim_uids`` (what the periodic cleanup checks for orphans, DESIGN §9) and
``claim_region_files`` — the only
file I/O of the interception package. For NVIDIA the directory holds one HAMi-core region directory
per attached container (``<container-id>/vgpu.cache``, made by hdra's CDI hook, DESIGN §5), the
hook's registry and lock, and ``.unattached``: the empty read-only placeholder the CDI spec mounts at
the container's region path until the hook binds the container's own directory over it. Ascend's
hami-vnpu-core keeps its shared files in the directory itself.

Mode: the directory is 0777, as HAMi makes its per-container directory (hami.md §2.3), because
HAMi-core creates and writes the region file as whatever user the container runs as, and pods
sharing a claim may run as different users. Only containers of this claim mount it, and its
parents (``state_dir`` and ``claims/``) are created 0700, so no other host user can reach it.
The lock directory (``/tmp/vgpulock``) is created 1777 like ``/tmp`` when missing, because a bind
mount of a missing host path fails the container. Every path comes from a validated UUID, so
nothing is created or removed outside ``state_dir`` (and the lock dir); symlinks are never followed.
"""

from __future__ import annotations

import os
import shutil
import stat
from pathlib import Path

from dra_driver.cdi import CdiError, is_claim_uid, validate_claim_uid
from dra_driver.cdihook.region import PLACEHOLDER_MODE, UNATTACHED_DIR
from dra_driver.interception.settings import SHARED_CACHE_FILE, InterceptionError, InterceptionSettings

CACHE_DIR_MODE = 0o777
PRIVATE_DIR_MODE = 0o700
LOCK_DIR_MODE = 0o1777


def claim_cache_dir(settings: InterceptionSettings, claim_uid: str) -> Path:
    """The host cache directory of ``claim_uid`` (not created); ``InterceptionError`` for a non-UUID."""
    try:
        validate_claim_uid(claim_uid)
    except CdiError as exc:
        raise InterceptionError(str(exc)) from exc
    path = settings.claims_dir / claim_uid
    if path.parent != settings.claims_dir:
        raise InterceptionError(f"cache dir {path} for claim {claim_uid} would leave {settings.claims_dir}")
    return path


def _mkdir(path: Path, mode: int) -> None:
    """Create one directory with exactly ``mode`` (umask ignored), or accept the directory that is
    there (its mode is set too); refuse non-dirs. ``FileNotFoundError`` when the parent is missing."""
    try:
        os.mkdir(path, mode)
    except FileExistsError:  # from an older run, or made concurrently
        if not stat.S_ISDIR(os.lstat(path).st_mode):
            raise InterceptionError(
                f"{path} exists and is not a directory (symlinks are not followed)"
            ) from None
    os.chmod(path, mode)


def create_claim_cache_dir(settings: InterceptionSettings, claim_uid: str) -> Path:
    """Create (idempotently) the claim's cache directory, its parents and the lock directory.

    Returns the cache directory. Raises ``InterceptionError`` if a path is taken by a non-directory
    and ``OSError`` (with the path in its message) if the file system refuses. The parents exist
    after the first claim, so they are made only when creating the claim's directory finds them
    missing (two system calls per directory on the hot path, no checks ahead of them).
    """
    path = claim_cache_dir(settings, claim_uid)
    try:
        _mkdir(path, CACHE_DIR_MODE)
    except FileNotFoundError:
        for parent in (settings.state_dir, settings.claims_dir):
            if not parent.exists():
                parent.parent.mkdir(parents=True, exist_ok=True)
                _mkdir(parent, PRIVATE_DIR_MODE)
        _mkdir(path, CACHE_DIR_MODE)
    _mkdir(path / UNATTACHED_DIR, PLACEHOLDER_MODE)
    if not settings.lock_dir.exists():  # checked every time: a /tmp cleaner may remove it
        settings.lock_dir.parent.mkdir(parents=True, exist_ok=True)
        _mkdir(settings.lock_dir, LOCK_DIR_MODE)
    return path


def claim_region_files(settings: InterceptionSettings, claim_uid: str) -> list[tuple[str, Path]]:
    """(region directory name, region file) of every HAMi-core region in the claim's directory.

    Sorted by name; dot-entries (the hook's registry, lock and placeholder) and symlinks are left
    out, and a directory without a region file yet (no CUDA process started) too. Never raises for
    a missing claim directory (returns []).
    """
    try:
        entries = sorted(os.scandir(claim_cache_dir(settings, claim_uid)), key=lambda e: e.name)
    except (FileNotFoundError, NotADirectoryError):
        return []
    found = []
    for entry in entries:
        if entry.name.startswith(".") or not entry.is_dir(follow_symlinks=False):
            continue
        region = Path(entry.path) / SHARED_CACHE_FILE
        if os.path.lexists(region):
            found.append((entry.name, region))
    return found


def cached_claim_uids(settings: InterceptionSettings) -> set[str]:
    """The claim UIDs that have an entry in the claims directory (a missing directory has none)."""
    try:
        names = os.listdir(settings.claims_dir)
    except FileNotFoundError:
        return set()
    return {name for name in names if is_claim_uid(name)}


def remove_claim_cache_dir(settings: InterceptionSettings, claim_uid: str) -> bool:
    """Delete the claim's cache directory and its contents; False if there was none.

    A symlink in its place is removed itself, never followed.
    """
    return remove_tree(claim_cache_dir(settings, claim_uid))


def remove_tree(path: Path) -> bool:
    """Delete a per-claim directory and its contents; False if there was none.

    A symlink (or any non-directory) in its place is removed itself, never followed.
    """
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return False
    if stat.S_ISDIR(info.st_mode):
        shutil.rmtree(path)
    else:
        path.unlink()
    return True
