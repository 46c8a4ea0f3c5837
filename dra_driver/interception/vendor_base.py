"""What every non-NVIDIA enforcement shares: claim checks, device order and result assembly.

Owns: ``ordered_limits`` (validated claim UID, non-empty limits, shares of one card merged,
devices in PCI order — the order the vendor runtimes number visible devices in), ``needs_limits``
and ``env_result``. It must never touch files or know a particular vendor's variables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from dra_driver.cdi import ContainerEdits, Mount
from dra_driver.interception.hami_core import InterceptionResult
from dra_driver.interception.limits import DeviceLimit
from dra_driver.interception.settings import HamiCoreOptions

READ_ONLY = ("ro", "nosuid", "nodev", "bind")
READ_WRITE = ("rw", "nosuid", "nodev", "bind")


def needs_limits(ordered: Sequence[DeviceLimit], options: HamiCoreOptions) -> bool:
    """True when enforcement is on and some device is less than a whole card (DESIGN §4)."""
    return options.enforcement == "auto" and any(not limit.is_whole_card for limit in ordered)


def bind(host: Path, container: str, options: tuple[str, ...]) -> Mount:
    return Mount(host_path=str(host), container_path=container, options=options)


def env_result(
    ordered: Sequence[DeviceLimit],
    env: Mapping[str, str],
    *,
    intercepted: bool,
    mounts: Sequence[Mount] = (),
    cache_dir: Path | None = None,
    files: Mapping[Path, str] | None = None,
) -> InterceptionResult:
    """An ``InterceptionResult`` whose CDI edits are exactly ``env`` (in order) and ``mounts``."""
    edits = ContainerEdits(env=tuple(f"{key}={value}" for key, value in env.items()), mounts=tuple(mounts))
    return InterceptionResult(
        edits=edits,
        cdi_device_ids=(),
        env=dict(env),
        intercepted=intercepted,
        device_order=tuple(limit.device.name for limit in ordered),
        cache_dir=cache_dir,
        limits=tuple(ordered),
        files=dict(files or {}),
    )
