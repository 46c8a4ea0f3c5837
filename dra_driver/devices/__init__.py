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
from dra_driver.devices.mock import MOCK_PROFILES, MockBackend
from dra_driver.devices.registry import BACKENDS, DRIVER_FOR_BACKEND, make_backend
from dra_driver.devices.versions import cuda_version_from_int, normalize_version

__all__ = [
    "BACKENDS",
    "DRIVER_FOR_BACKEND",
    "MOCK_PROFILES",
    "AcceleratorDevice",
    "AttributeValue",
    "BackendError",
    "BackendUnavailable",
    "DeviceBackend",
    "MockBackend",
    "Version",
    "cuda_version_from_int",
    "make_backend",
    "normalize_version",
]
