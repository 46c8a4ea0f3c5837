"""Choosing a device backend by name, and the driver name each backend publishes under.

Owns: ``BACKENDS`` (the names ``--backend`` accepts), ``DRIVER_FOR_BACKEND`` (DESIGN §2 driver
names) and ``make_backend``. It must never discover devices itself or import anything above
``dra_driver.devices``; constructing a backend is cheap and probes no hardware.
"""

from __future__ import annotations

from types import MappingProxyType

from dra_driver.devices.base import DeviceBackend
from dra_driver.devices.mock import DEFAULT_MOCK_PROFILE, MockBackend
from dra_driver.devices.nvidia import NvidiaBackend

BACKENDS: tuple[str, ...] = ("mock", "nvidia")
"""Every backend name ``make_backend`` knows, which is also each backend's ``vendor``."""

DRIVER_FOR_BACKEND: MappingProxyType[str, str] = MappingProxyType(
    {
        "mock": "mock.hdra.io",
        "nvidia": "nvidia.hdra.io",
    }
)
"""Backend name → DRA driver name (also the attribute domain and DeviceClass name)."""


def make_backend(name: str, *, node_name: str, profile: str | None = None) -> DeviceBackend:
    """Build the backend called ``name`` for node ``node_name``.

    ``profile`` picks the mock hardware profile (default ``a100x4``); real backends discover what
    is there and reject a profile. Raises ``ValueError`` for an unknown backend name or a profile
    given to a real backend, and ``BackendError`` for an unknown mock profile.
    """
    if name == "mock":
        return MockBackend(node_name, DEFAULT_MOCK_PROFILE if profile is None else profile)
    if name == "nvidia":
        if profile is not None:
            raise ValueError(f"profile {profile!r} applies only to the mock backend, not to {name!r}")
        return NvidiaBackend()
    raise ValueError(f"unknown device backend {name!r}; known backends: {', '.join(BACKENDS)}")
