"""Device discovery: vendor backends that turn a node's accelerators into ``AcceleratorDevice``.

Public surface: ``AcceleratorDevice``, ``Version``, ``DeviceBackend``, ``BackendError``,
``BackendUnavailable``, ``normalize_version`` and ``make_backend``. Must never import the API
client or anything above it.
"""

from dra_driver.devices.base import (
    AcceleratorDevice,
    AttributeValue,
    BackendError,
    BackendUnavailable,
    DeviceBackend,
    Version,
)

__all__ = [
    "AcceleratorDevice",
    "AttributeValue",
    "BackendError",
    "BackendUnavailable",
    "DeviceBackend",
    "Version",
]
