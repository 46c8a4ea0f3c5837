"""What every non-NVIDIA enforcement shares: claim checks, device order and result assembly.

Owns: ``needs_limits``, ``bind``, ``device_node``, ``drm_nodes`` (a card's ``/dev/dri/card<N>`` and
``/dev/dri/renderD<M>``, from the ``drmCard``/``drmRender`` attributes the AMD and Hygon backends
read from sysfs) and ``env_result``. It must never touch files or know a particular vendor's
variables.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from pathlib import Path

from dra_driver.cdi import ContainerEdits, DeviceNode, Mount
from dra_driver.interception.hami_core import InterceptionResult
from dra_driver.interception.limits import DeviceLimit
from dra_driver.interception.settings import HamiCoreOptions, InterceptionError, InterceptionSettings
from dra_driver.interception.units import UnitGrant

READ_ONLY = ("ro", "nosuid", "nodev", "bind")
READ_WRITE = ("rw", "nosuid", "nodev", "bind")


def needs_limits(ordered: Sequence[DeviceLimit], options: HamiCoreOptions) -> bool:
    """True when enforcement is on and some device is less than a whole card (DESIGN §4)."""
    return options.enforcement == "auto" and any(not limit.is_whole_card for limit in ordered)


def bind(host: Path, container: str, options: tuple[str, ...]) -> Mount:
    return Mount(host_path=str(host), container_path=container, options=options)


def device_node(settings: InterceptionSettings, name: str, permissions: str) -> DeviceNode:
    """``/dev/<name>`` in the container, from ``<dev_dir>/<name>`` on the host."""
    return DeviceNode(path=f"/dev/{name}", host_path=str(settings.dev_dir / name), permissions=permissions)


def _minor(limit: DeviceLimit, attribute: str) -> int:
    value = limit.device.extra_attributes.get(attribute)
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise InterceptionError(
            f"device {limit.device.name} has no {attribute} attribute ({value!r}); its /dev/dri nodes are "
            "unknown (the backend reads them from /sys/bus/pci/devices/<bus id>/drm)"
        )
    return value


def drm_nodes(
    ordered: Sequence[DeviceLimit], settings: InterceptionSettings, permissions: str = "rw"
) -> list[DeviceNode]:
    """Each card's ``dri/card<N>`` and ``dri/renderD<M>``, in the claim's device order."""
    nodes = []
    for limit in ordered:
        card, render = _minor(limit, "drmCard"), _minor(limit, "drmRender")
        nodes.append(device_node(settings, f"dri/card{card}", permissions))
        nodes.append(device_node(settings, f"dri/renderD{render}", permissions))
    return nodes


def env_result(
    ordered: Sequence[DeviceLimit],
    env: Mapping[str, str],
    *,
    intercepted: bool,
    mounts: Sequence[Mount] = (),
    device_nodes: Sequence[DeviceNode] = (),
    cache_dir: Path | None = None,
    files: Mapping[Path, str] | None = None,
    units: Sequence[UnitGrant] = (),
) -> InterceptionResult:
    """An ``InterceptionResult`` whose CDI edits are exactly ``env`` (in order), ``mounts`` and nodes."""
    edits = ContainerEdits(
        env=tuple(f"{key}={value}" for key, value in env.items()),
        mounts=tuple(mounts),
        device_nodes=tuple(device_nodes),
    )
    return InterceptionResult(
        edits=edits,
        cdi_device_ids=(),
        env=dict(env),
        intercepted=intercepted,
        device_order=tuple(limit.device.name for limit in ordered),
        cache_dir=cache_dir,
        limits=tuple(ordered),
        files=dict(files or {}),
        units=tuple(units),
    )
