"""Interception: what a container gets so that its claim's limits are enforced (DESIGN §5). Public
surface: ``DeviceLimit``, ``InterceptionSettings``, ``HamiCoreOptions``, ``build_hami_core_edits``
and ``build_vendor_edits`` (per vendor, hami.md §4) → ``InterceptionResult``, ``claim_vendor``, the
vDCU file functions (``claim_vdev_dir``, ``remove_claim_vdev_dir``, ``remove_host_vdev_file``), the
node-unique units (``NodeUnits``, ``UnitGrant``), the host check ``sharing_prerequisites``,
``cuda_order``, the cache-directory functions (``claim_cache_dir``, ``create_claim_cache_dir``,
``remove_claim_cache_dir``, ``claim_region_files``), the container paths and ``InterceptionError``.
Must never import ``dra_driver.prepare`` or anything above it, and never touch files except through
the cache-directory and vDCU-directory functions (``sharing_prerequisites`` only reads), the region
reader ``shared_region`` (reads) and ``feedback.MappedRegion`` (HAMi's two monitor fields).
"""

from dra_driver.interception.cache_dir import (
    cached_claim_uids,
    claim_cache_dir,
    claim_region_files,
    create_claim_cache_dir,
    remove_claim_cache_dir,
)
from dra_driver.interception.hami_core import InterceptionResult, build_hami_core_edits
from dra_driver.interception.limits import DeviceLimit, cuda_order
from dra_driver.interception.prerequisites import sharing_prerequisites
from dra_driver.interception.settings import (
    CONTAINER_CACHE_DIR,
    CONTAINER_LIBRARY_PATH,
    CONTAINER_LOCK_DIR,
    CONTAINER_PRELOAD_PATH,
    LD_SO_PRELOAD_CONTENT,
    SHARED_CACHE_FILE,
    HamiCoreOptions,
    InterceptionError,
    InterceptionSettings,
    Visibility,
)
from dra_driver.interception.units import NodeUnits, UnitGrant
from dra_driver.interception.vdev import claim_vdev_dir, remove_claim_vdev_dir, remove_host_vdev_file
from dra_driver.interception.vendors import build_vendor_edits, claim_vendor

__all__ = [
    "CONTAINER_CACHE_DIR",
    "CONTAINER_LIBRARY_PATH",
    "CONTAINER_LOCK_DIR",
    "CONTAINER_PRELOAD_PATH",
    "LD_SO_PRELOAD_CONTENT",
    "SHARED_CACHE_FILE",
    "DeviceLimit",
    "HamiCoreOptions",
    "InterceptionError",
    "InterceptionResult",
    "InterceptionSettings",
    "NodeUnits",
    "UnitGrant",
    "Visibility",
    "build_hami_core_edits",
    "build_vendor_edits",
    "cached_claim_uids",
    "claim_cache_dir",
    "claim_region_files",
    "claim_vdev_dir",
    "claim_vendor",
    "create_claim_cache_dir",
    "cuda_order",
    "remove_claim_cache_dir",
    "remove_claim_vdev_dir",
    "remove_host_vdev_file",
    "sharing_prerequisites",
]
