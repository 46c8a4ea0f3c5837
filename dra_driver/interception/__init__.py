"""Interception: what a container gets so that its claim's limits are enforced (DESIGN §5).

Public surface: ``DeviceLimit``, ``InterceptionSettings``, ``HamiCoreOptions``,
``build_hami_core_edits`` → ``InterceptionResult``, ``cuda_order``, the cache-directory functions
(``claim_cache_dir``, ``create_claim_cache_dir``, ``remove_claim_cache_dir``), the container paths
and ``InterceptionError``. Must never import ``dra_driver.prepare`` or anything above it, and
never touch files except through the cache-directory functions.
"""

from dra_driver.interception.cache_dir import claim_cache_dir, create_claim_cache_dir, remove_claim_cache_dir
from dra_driver.interception.hami_core import InterceptionResult, build_hami_core_edits
from dra_driver.interception.limits import DeviceLimit, cuda_order
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
    "Visibility",
    "build_hami_core_edits",
    "claim_cache_dir",
    "create_claim_cache_dir",
    "cuda_order",
    "remove_claim_cache_dir",
]
