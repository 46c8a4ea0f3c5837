"""Claim preparation: from an allocated ResourceClaim to CDI devices with enforced limits.

Public surface: the gRPC-facing contract (``ClaimPreparer``, ``ClaimRef``, ``PreparedDevice``,
``PrepareError``, ``PrepareResult``), ``NodePreparer`` with ``PreparerSettings``, the
``DeviceCatalog`` it reads device capacities from, and the recovery procedures
(``recover_at_start``, ``cleanup_stale``). Must never import the plugin, the CLI or the controller.
"""

from dra_driver.prepare.api import ClaimPreparer, ClaimRef, PreparedDevice, PrepareError, PrepareResult
from dra_driver.prepare.catalog import CatalogEntry, DeviceCatalog
from dra_driver.prepare.preparer import NodePreparer, PreparerSettings
from dra_driver.prepare.recovery import RecoveryReport, cleanup_stale, recover_at_start

__all__ = [
    "CatalogEntry",
    "ClaimPreparer",
    "ClaimRef",
    "DeviceCatalog",
    "NodePreparer",
    "PrepareError",
    "PrepareResult",
    "PreparedDevice",
    "PreparerSettings",
    "RecoveryReport",
    "cleanup_stale",
    "recover_at_start",
]
