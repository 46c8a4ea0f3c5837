"""The node-wide interception settings, the per-claim HAMi-core options, and the fixed paths.

Owns: ``InterceptionSettings`` (host paths and how cards are made visible; chart values),
``HamiCoreOptions`` (plain values taken from a claim's ``AcceleratorConfig``), the container
paths HAMi-core expects (hami.md §2.1, §2.3) and ``InterceptionError``. Options are plain strings
and ints, so this package never depends on the exact shape of ``dra_driver.parameters``; StrEnum
members are accepted and stored as their values. It must never touch files.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from dra_driver.rules import Priority

Visibility = Literal["cdi", "env"]

# Where HAMi-core lives inside the container: the library reopens itself from this path, and
# /etc/ld.so.preload names it so that every dynamically linked process loads it (hami.md §2.1).
CONTAINER_LIBRARY_PATH = "/usr/local/vgpu/libvgpu.so"
CONTAINER_PRELOAD_PATH = "/etc/ld.so.preload"
LD_SO_PRELOAD_CONTENT = f"{CONTAINER_LIBRARY_PATH}\n"
"""What the host's ``<host_library_dir>/ld.so.preload`` must contain (written by the DaemonSet)."""

# The container's accounting directory. HAMi mounts a per-container dir at /usr/local/vgpu and puts
# the region file in it; hdra's CDI hook mounts the container's own region directory one level down
# (DESIGN §5), so that the library's bind mount at /usr/local/vgpu/libvgpu.so never creates a
# mount-point file inside a host region directory.
CONTAINER_CACHE_DIR = "/usr/local/vgpu/claim"
SHARED_CACHE_FILE = "vgpu.cache"
CONTAINER_LOCK_DIR = "/tmp/vgpulock"  # noqa: S108 - the fixed path HAMi-core's unified lock uses

HOST_LIBRARY_NAME = "libvgpu.so"
HOST_HOOK_NAME = "hdra-cdi-hook.py"
"""The CDI hook (a copy of ``dra_driver/cdihook/region.py``) next to the library on the host."""
HOST_PRELOAD_NAME = "ld.so.preload"
CLAIMS_SUBDIR = "claims"

CORE_POLICIES = ("default", "force", "disable")
PRIORITIES = tuple(p.value for p in Priority)
ENFORCEMENTS = ("auto", "none")
MAX_LOG_LEVEL = 4


PATH_SETTINGS = (
    "host_library_dir",
    "state_dir",
    "lock_dir",
    "vdev_dir",
    "hyhal_dir",
    "hygon_driver_dir",
    "dev_dir",
    "ascend_vnpu_core_dir",
    "ascend_shared_region_dir",
    "hook_python",
)


class InterceptionError(ValueError):
    """Limits, options or settings are inconsistent; the message names the device, field or value."""


@dataclass(frozen=True)
class InterceptionSettings:
    """Node-wide settings (chart values): where things live on the host and how cards become visible.

    ``visibility`` "cdi" hands the kubelet the NVIDIA container toolkit's own CDI ids
    (``nvidia.com/gpu=<uuid>``); "env" sets ``NVIDIA_VISIBLE_DEVICES=<uuids>`` instead (also the
    right choice for the mock backend, whose cards no toolkit spec knows). Other vendors always use
    their own visibility variable. ``vdev_dir`` is where Hygon vDCU config files are written: one
    directory per claim (``<vdev_dir>/<claim-uid>/vdev0.conf``, the container's view) plus the
    host's ``<vdev_dir>/vdev<vdev_id>.conf``. ``hygon_driver_dir`` is dcu-vgpu-device-plugin's
    ``HYGONPATH`` (mounted at /opt/hygondriver), ``dev_dir`` the host's device directory (CDI
    device nodes' host paths; tests point it at fake nodes), and the two ``ascend_*`` dirs the
    host paths ascend-device-plugin installs hami-vnpu-core and its shared region at.
    ``hook_python`` is the host's Python 3.8+ interpreter that the container runtime runs hdra's
    CDI hook with (``hook_script``).
    """

    host_library_dir: Path = Path("/usr/local/hdra")
    state_dir: Path = Path("/var/lib/hdra")
    lock_dir: Path = Path("/tmp/vgpulock")  # noqa: S108 - HAMi-core's host lock dir, shared by all containers
    visibility: Visibility = "env"
    toolkit_cdi_kind: str = "nvidia.com/gpu"
    vdev_dir: Path = Path("/etc/vdev")
    hyhal_dir: Path = Path("/opt/hyhal")
    hygon_driver_dir: Path = Path("/opt/dtk")
    dev_dir: Path = Path("/dev")
    ascend_vnpu_core_dir: Path = Path("/usr/local/hami-vnpu-core")
    ascend_shared_region_dir: Path = Path("/usr/local/hami-shared-region")
    hook_python: Path = Path("/usr/bin/python3")

    def __post_init__(self) -> None:
        for field_name in PATH_SETTINGS:
            value = getattr(self, field_name)
            if not isinstance(value, Path) or not value.is_absolute():
                raise InterceptionError(
                    f"interception setting {field_name}={value!r} is not an absolute Path"
                )
        if self.visibility not in ("cdi", "env"):
            raise InterceptionError(
                f"interception setting visibility={self.visibility!r} is not 'cdi' or 'env'"
            )

    @cached_property  # built once: prepare asks for it several times per claim
    def library_path(self) -> Path:
        """The host's HAMi-core library, mounted read-only at ``CONTAINER_LIBRARY_PATH``."""
        return self.host_library_dir / HOST_LIBRARY_NAME

    @cached_property
    def preload_path(self) -> Path:
        """The host's ``ld.so.preload`` (content ``LD_SO_PRELOAD_CONTENT``), mounted at /etc/ld.so.preload."""
        return self.host_library_dir / HOST_PRELOAD_NAME

    @cached_property
    def hook_script(self) -> Path:
        """The host's copy of hdra's CDI hook, run by ``hook_python`` for every intercepted container."""
        return self.host_library_dir / HOST_HOOK_NAME

    @cached_property
    def claims_dir(self) -> Path:
        """The parent of every per-claim cache directory."""
        return self.state_dir / CLAIMS_SUBDIR


@dataclass(frozen=True)
class HamiCoreOptions:
    """A claim's HAMi-core options as plain values (from its ``AcceleratorConfig``).

    ``None`` leaves the variable unset, so HAMi-core's own default applies. ``enforcement`` "none"
    turns interception off for the claim: the container gets only its cards. ``vnpu_template``
    (Ascend only) asks for a hard-split vNPU of that template instead of hami-vnpu-core's soft limits.
    """

    core_policy: str | None = None
    priority: str | None = None
    log_level: int | None = None
    enforcement: str = "auto"
    vnpu_template: str | None = None

    def __post_init__(self) -> None:
        # StrEnum members compare equal to their values; store plain strings for stable output.
        for field_name, allowed in (("core_policy", CORE_POLICIES), ("priority", PRIORITIES)):
            value = getattr(self, field_name)
            if value is None:
                continue
            if value not in allowed:
                raise InterceptionError(f"HAMi-core option {field_name}={value!r} is not one of {allowed}")
            object.__setattr__(self, field_name, str(value))
        if self.enforcement not in ENFORCEMENTS:
            raise InterceptionError(
                f"HAMi-core option enforcement={self.enforcement!r} is not one of {ENFORCEMENTS}"
            )
        object.__setattr__(self, "enforcement", str(self.enforcement))
        if self.vnpu_template is not None:
            object.__setattr__(self, "vnpu_template", str(self.vnpu_template))
        if self.log_level is not None and (
            isinstance(self.log_level, bool)
            or not isinstance(self.log_level, int)
            or not 0 <= self.log_level <= MAX_LOG_LEVEL
        ):
            raise InterceptionError(
                f"HAMi-core option log_level={self.log_level!r} is not an integer from 0 to {MAX_LOG_LEVEL}"
            )
