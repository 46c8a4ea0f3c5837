"""The six hdra driver names (DESIGN §2) and the vendor key each one stands for.

Owns: ``HDRA_DRIVERS``, ``is_hdra_driver`` and ``vendor_of``. It must never grow a driver name
that DESIGN §2 does not fix: the names are the attribute domains and DeviceClass names of the
published slices, so inventing one here would split the cluster's view of a vendor.
"""

from __future__ import annotations

from typing import Final

DRIVER_SUFFIX: Final = ".hdra.io"
"""Every hdra driver name is ``<vendor>.hdra.io``."""

HDRA_DRIVERS: Final[tuple[str, ...]] = (
    "nvidia.hdra.io",
    "amd.hdra.io",
    "ascend.hdra.io",
    "cambricon.hdra.io",
    "hygon.hdra.io",
    "mock.hdra.io",
)
"""The driver names of DESIGN §2, one per vendor, in that order."""


def is_hdra_driver(name: str) -> bool:
    """Whether ``name`` is exactly one of ``HDRA_DRIVERS`` (no case folding, no prefixes)."""
    return name in HDRA_DRIVERS


def vendor_of(driver: str) -> str:
    """The vendor key of an hdra driver name (``ascend.hdra.io`` → ``ascend``).

    Raises ``ValueError`` naming the driver and the known names when ``driver`` is not one of
    ``HDRA_DRIVERS``: callers pass their own driver name, so this is a programming error.
    """
    if not is_hdra_driver(driver):
        raise ValueError(f"driver {driver!r} is not an hdra driver; known drivers: {', '.join(HDRA_DRIVERS)}")
    return driver.removesuffix(DRIVER_SUFFIX)
