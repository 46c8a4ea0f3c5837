"""Choosing a device backend by name, and the driver name each backend publishes under.

Owns: ``BACKENDS`` (the names ``--backend`` accepts), ``DRIVER_FOR_BACKEND`` (DESIGN §2 driver
names) and ``make_backend``. It must never discover devices itself or import anything above
``dra_driver.devices``; constructing a backend is cheap and probes no hardware.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from types import MappingProxyType

from dra_driver.devices.amd import DEFAULT_AMD_SMI, AmdBackend
from dra_driver.devices.ascend import DEFAULT_NPU_SMI, AscendBackend
from dra_driver.devices.base import DeviceBackend
from dra_driver.devices.cambricon import DEFAULT_CNMON, CambriconBackend
from dra_driver.devices.hygon import DEFAULT_HY_SMI, HygonBackend
from dra_driver.devices.mock import DEFAULT_MOCK_PROFILE, MockBackend

BACKENDS: tuple[str, ...] = ("mock", "nvidia", "ascend", "cambricon", "hygon", "amd")
"""Every backend name ``make_backend`` knows, which is also each backend's ``vendor``."""

DRIVER_FOR_BACKEND: MappingProxyType[str, str] = MappingProxyType(
    {
        "mock": "mock.hdra.io",
        "nvidia": "nvidia.hdra.io",
        "ascend": "ascend.hdra.io",
        "cambricon": "cambricon.hdra.io",
        "hygon": "hygon.hdra.io",
        "amd": "amd.hdra.io",
    }
)
"""Backend name → DRA driver name (also the attribute domain and DeviceClass name)."""


TOOL_BACKENDS: MappingProxyType[str, tuple[Callable[[Path], DeviceBackend], Path]] = MappingProxyType(
    {
        "ascend": (AscendBackend, DEFAULT_NPU_SMI),
        "cambricon": (CambriconBackend, DEFAULT_CNMON),
        "hygon": (HygonBackend, DEFAULT_HY_SMI),
        "amd": (AmdBackend, DEFAULT_AMD_SMI),
    }
)
"""Backends that run a vendor tool: name → (constructor, conventional tool path)."""


def make_backend(
    name: str, *, node_name: str, profile: str | None = None, tool: Path | None = None
) -> DeviceBackend:
    """Build the backend called ``name`` for node ``node_name``.

    ``profile`` picks the mock hardware profile (default ``a100x4``); real backends discover what
    is there and reject a profile. ``tool`` is the vendor tool of a tool backend (default: its
    conventional path); other backends reject it. Raises ``ValueError`` for an unknown backend
    name or a profile/tool given to a backend that takes none, and ``BackendError`` for an
    unknown mock profile.
    """
    if name != "mock" and profile is not None:
        raise ValueError(f"profile {profile!r} applies only to the mock backend, not to {name!r}")
    if name not in TOOL_BACKENDS and tool is not None:
        raise ValueError(f"a tool path ({tool}) applies only to {', '.join(TOOL_BACKENDS)}, not to {name!r}")
    if name == "mock":
        return MockBackend(node_name, DEFAULT_MOCK_PROFILE if profile is None else profile)
    if name == "nvidia":
        # Imported here: only NVIDIA nodes load nvidia-ml-py (DESIGN §3, the node plugin's memory).
        from dra_driver.devices.nvidia import NvidiaBackend  # noqa: PLC0415

        return NvidiaBackend()
    if name in TOOL_BACKENDS:
        constructor, default_tool = TOOL_BACKENDS[name]
        return constructor(default_tool if tool is None else tool)
    raise ValueError(f"unknown device backend {name!r}; known backends: {', '.join(BACKENDS)}")
