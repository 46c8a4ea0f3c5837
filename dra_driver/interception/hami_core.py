"""What a claim's containers get so that HAMi-core enforces the claim's limits (DESIGN §5).

Owns: ``build_hami_core_edits`` and ``InterceptionResult``. Pure computation: from the claim's
device limits, its options and the node settings it derives the CDI container edits (env and
mounts) and the extra CDI device ids that make the cards visible. A claim of whole cards, or one
with enforcement "none", gets no interception at all, only visibility. An intercepted claim's
containers get an empty read-only placeholder at ``CONTAINER_CACHE_DIR`` and hdra's CDI hooks
(``dra_driver.cdihook.region``): ``createContainer`` binds the container's own region directory
over the placeholder, or refuses a second PID namespace; ``poststop`` releases it (DESIGN §5). It
must never touch files (creating the claim's cache directory is
``cache_dir.create_claim_cache_dir``'s job) and never look at a container runtime.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from dra_driver.cdi import CdiError, ContainerEdits, Hook, Mount, qualified_name
from dra_driver.cdihook.region import (
    ATTACH,
    HOOK_OF,
    HOOK_TIMEOUT_SECONDS,
    RELEASE,
    UNATTACHED_DIR,
    hook_args,
)
from dra_driver.interception.limits import DeviceLimit, ordered_limits
from dra_driver.interception.settings import (
    CONTAINER_CACHE_DIR,
    CONTAINER_LIBRARY_PATH,
    CONTAINER_LOCK_DIR,
    CONTAINER_PRELOAD_PATH,
    SHARED_CACHE_FILE,
    HamiCoreOptions,
    InterceptionError,
    InterceptionSettings,
)
from dra_driver.interception.units import UnitGrant
from dra_driver.rules import Priority

READ_ONLY = ("ro", "nosuid", "nodev", "bind")
READ_WRITE = ("rw", "nosuid", "nodev", "bind")


@dataclass(frozen=True)
class InterceptionResult:
    """The container side of one prepared claim.

    ``edits`` go into the claim's CDI spec (they may be empty: whole cards with visibility "cdi").
    ``cdi_device_ids`` are extra fully qualified ids to hand the kubelet (the toolkit's ids when
    visibility is "cdi"). ``env`` is the same environment as a dict, for display. ``device_order``
    names the devices in CUDA order (index i of the ``*_<i>`` variables). ``cache_dir`` is the host
    directory the edits mount (create it before the container starts), ``None`` without interception.
    ``files`` are host files (path → content) to write before the container starts and remove on
    unprepare (Hygon's vDCU configs); empty for every other vendor. ``units`` are the node-unique
    units (compute units, vDCU ids) the claim was granted, for the caller to record.
    """

    edits: ContainerEdits
    cdi_device_ids: tuple[str, ...]
    env: Mapping[str, str]
    intercepted: bool
    device_order: tuple[str, ...]
    cache_dir: Path | None = None
    limits: tuple[DeviceLimit, ...] = field(default=(), repr=False)
    files: Mapping[Path, str] = field(default_factory=dict)
    units: tuple[UnitGrant, ...] = ()


def _bind(host: Path, container: str, options: tuple[str, ...]) -> Mount:
    return Mount(host_path=str(host), container_path=container, options=options)


def _region_hook(command: str, cache_dir: Path, settings: InterceptionSettings) -> Hook:
    """One of the claim's two CDI hooks (``attach`` at createContainer, ``release`` at poststop)."""
    args = hook_args(
        str(settings.hook_python), str(settings.hook_script), command, str(cache_dir), CONTAINER_CACHE_DIR
    )
    return Hook(
        hook_name=HOOK_OF[command],
        path=str(settings.hook_python),
        args=tuple(args),
        timeout=HOOK_TIMEOUT_SECONDS,
    )


def _visibility(
    ordered: Sequence[DeviceLimit], settings: InterceptionSettings
) -> tuple[dict[str, str], tuple[str, ...]]:
    uuids = [limit.device.uuid for limit in ordered]
    if settings.visibility == "cdi":
        try:
            return {}, tuple(qualified_name(settings.toolkit_cdi_kind, uuid) for uuid in uuids)
        except CdiError as exc:
            raise InterceptionError(f"cannot name a card for the container toolkit: {exc}") from exc
    return {"NVIDIA_VISIBLE_DEVICES": ",".join(uuids)}, ()


def _hami_env(
    ordered: Sequence[DeviceLimit], options: HamiCoreOptions, container_cache_file: str
) -> dict[str, str]:
    env = {"CUDA_DEVICE_ORDER": "PCI_BUS_ID"}
    # Every device gets both variables, unlimited ones their full values: explicit per-index values
    # override any CUDA_DEVICE_MEMORY_LIMIT / CUDA_DEVICE_SM_LIMIT fallback an image may set.
    for index, limit in enumerate(ordered):
        env[f"CUDA_DEVICE_MEMORY_LIMIT_{index}"] = f"{limit.memory_limit_mib}m"
        env[f"CUDA_DEVICE_SM_LIMIT_{index}"] = str(limit.sm_limit_percent)
    env["CUDA_DEVICE_MEMORY_SHARED_CACHE"] = container_cache_file
    if options.core_policy is not None:
        env["GPU_CORE_UTILIZATION_POLICY"] = options.core_policy
    if options.priority is not None:
        env["CUDA_TASK_PRIORITY"] = str(Priority(options.priority).cuda_task_priority)
    if options.log_level is not None:
        env["LIBCUDA_LOG_LEVEL"] = str(options.log_level)
    return env


def build_hami_core_edits(
    claim_uid: str,
    limits: Sequence[DeviceLimit],
    options: HamiCoreOptions,
    settings: InterceptionSettings,
    *,
    with_library: bool,
) -> InterceptionResult:
    """The env, mounts and CDI ids that make HAMi-core enforce ``limits`` for one claim.

    ``with_library`` False (the mock backend) yields the same environment and claim mounts without
    the library and ``ld.so.preload`` mounts. Raises ``InterceptionError`` naming the cause for a
    claim without devices, a bad UID, a malformed PCI bus id or inconsistent share limits.
    """
    ordered = ordered_limits(claim_uid, limits)
    env, device_ids = _visibility(ordered, settings)
    device_order = tuple(limit.device.name for limit in ordered)
    intercepted = options.enforcement == "auto" and any(not limit.is_whole_card for limit in ordered)
    if not intercepted:
        edits = ContainerEdits(env=tuple(f"{key}={value}" for key, value in env.items()))
        return InterceptionResult(edits, device_ids, env, False, device_order, None, tuple(ordered))

    cache_dir = settings.claims_dir / claim_uid
    env = {**_hami_env(ordered, options, f"{CONTAINER_CACHE_DIR}/{SHARED_CACHE_FILE}"), **env}
    mounts: list[Mount] = []
    if with_library:
        mounts.append(_bind(settings.preload_path, CONTAINER_PRELOAD_PATH, READ_ONLY))
        mounts.append(_bind(settings.library_path, CONTAINER_LIBRARY_PATH, READ_ONLY))
    mounts.append(_bind(cache_dir / UNATTACHED_DIR, CONTAINER_CACHE_DIR, READ_ONLY))
    mounts.append(_bind(settings.lock_dir, CONTAINER_LOCK_DIR, READ_WRITE))
    edits = ContainerEdits(
        env=tuple(f"{key}={value}" for key, value in env.items()),
        mounts=tuple(mounts),
        hooks=tuple(_region_hook(command, cache_dir, settings) for command in (ATTACH, RELEASE)),
    )
    return InterceptionResult(edits, device_ids, env, True, device_order, cache_dir, tuple(ordered))
