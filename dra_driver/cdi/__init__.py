"""CDI (Container Device Interface) specs: models, names, versions and the per-claim spec files.

Public surface: the spec models (``CdiSpec``, ``CdiDevice``, ``ContainerEdits``, ``DeviceNode``,
``Mount``, ``Hook``, ``NetDevice``), ``build_spec`` / ``minimum_version`` / ``check_version``,
the naming helpers (``cdi_kind``, ``qualified_name``, ``device_name``, ``validate_claim_uid``),
``CdiWriter`` and ``CdiError``; ``atomic_write`` is shared with ``dra_driver.checkpoint``.
Must never import ``dra_driver.prepare`` or anything above it.
"""

from dra_driver.cdi.atomic import atomic_write, fsync_dir, temp_files_of
from dra_driver.cdi.errors import CdiError
from dra_driver.cdi.models import CdiDevice, CdiSpec, ContainerEdits, DeviceNode, Hook, Mount, NetDevice
from dra_driver.cdi.names import (
    HDRA_CDI_VENDOR,
    cdi_kind,
    device_name,
    parse_kind,
    parse_qualified_name,
    qualified_name,
    validate_device_name,
)
from dra_driver.cdi.uids import is_claim_uid, validate_claim_uid
from dra_driver.cdi.version import (
    EARLIEST_VERSION,
    KNOWN_VERSIONS,
    build_spec,
    check_version,
    minimum_version,
)
from dra_driver.cdi.writer import CdiWriter

__all__ = [
    "EARLIEST_VERSION",
    "HDRA_CDI_VENDOR",
    "KNOWN_VERSIONS",
    "CdiDevice",
    "CdiError",
    "CdiSpec",
    "CdiWriter",
    "ContainerEdits",
    "DeviceNode",
    "Hook",
    "Mount",
    "NetDevice",
    "atomic_write",
    "build_spec",
    "cdi_kind",
    "check_version",
    "device_name",
    "fsync_dir",
    "is_claim_uid",
    "minimum_version",
    "parse_kind",
    "parse_qualified_name",
    "qualified_name",
    "temp_files_of",
    "validate_claim_uid",
    "validate_device_name",
]
