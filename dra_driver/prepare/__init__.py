"""Claim preparation: from an allocated ResourceClaim to CDI devices with enforced limits.

Public surface (so far): the gRPC-facing contract in ``dra_driver.prepare.api``.
"""

from dra_driver.prepare.api import ClaimPreparer, ClaimRef, PreparedDevice, PrepareError, PrepareResult

__all__ = ["ClaimPreparer", "ClaimRef", "PrepareError", "PrepareResult", "PreparedDevice"]
